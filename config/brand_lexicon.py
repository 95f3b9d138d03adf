"""Brand lexicon (``config/brand_lexicon.yaml``): which brand and product a social post is about.

Reviews, chats and surveys name their brand; a post on a social platform does not. A post
is matched against each brand's aliases (the brand name and what people call it) and then
against the products of the brand it found. The brand is the one whose alias appears first
in the text (the longest alias where two start at the same place; case does not matter);
its product likewise.
A post that names no configured brand is skipped and counted
(``voc_skipped_total{reason="no_brand"}``).
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import TypeVar

from pydantic import BaseModel, ConfigDict, Field, field_validator

from config._yaml import load_yaml_model

__all__ = ["BrandEntry", "BrandLexicon", "ProductEntry", "load_brand_lexicon"]

T = TypeVar("T")


class ProductEntry(BaseModel):
    """A product of a brand and the words people use for it."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    sku: str = Field(min_length=1)
    aliases: tuple[str, ...] = Field(min_length=1)


class BrandEntry(BaseModel):
    """A brand, its aliases (the name itself included) and its products."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(min_length=1)
    aliases: tuple[str, ...] = ()
    products: tuple[ProductEntry, ...] = ()

    @field_validator("aliases")
    @classmethod
    def _non_empty(cls, aliases: tuple[str, ...]) -> tuple[str, ...]:
        if any(not a.strip() for a in aliases):
            raise ValueError("an alias must not be empty")
        return aliases

    @property
    def all_aliases(self) -> tuple[str, ...]:
        """The name and the aliases."""
        return (self.name, *(a for a in self.aliases if a != self.name))


class BrandLexicon(BaseModel):
    """Validated brand lexicon."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    brands: tuple[BrandEntry, ...] = Field(min_length=1)

    def find(self, text: str) -> tuple[str, str] | None:
        """``(brand, product_sku)`` the text is about (sku ``''`` when no product is named),
        or None when it names no brand."""
        text = text.casefold()
        brand = _first(text, ((alias, entry) for entry in self.brands for alias in entry.all_aliases))
        if brand is None:
            return None
        product = _first(text, ((alias, p) for p in brand.products for alias in p.aliases))
        return brand.name, product.sku if product is not None else ""


def _first(text: str, candidates: Iterable[tuple[str, T]]) -> T | None:
    best: tuple[int, int, T] | None = None
    for alias, value in candidates:
        position = text.find(alias.casefold())
        if position < 0:
            continue
        rank = (position, -len(alias))
        if best is None or rank < best[:2]:
            best = (*rank, value)
    return None if best is None else best[2]


def load_brand_lexicon(path: Path) -> BrandLexicon:
    """Read and validate a brand lexicon YAML file; raise ConfigError naming what is wrong."""
    return load_yaml_model(path, BrandLexicon)
