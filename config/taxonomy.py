"""The aspect taxonomy: a versioned tree of aspects, each with the terms that mention it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, model_validator

from config._yaml import load_yaml_model

__all__ = ["AspectNode", "Taxonomy", "load_taxonomy"]


class AspectNode(BaseModel):
    """One aspect (``包装``) or sub-aspect (``包装/封口``) and the words that mention it."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(min_length=1, pattern=r"^[^/|\s]+$")
    """Display name; joined with ``/`` into the aspect path."""
    label: str = Field(min_length=1)
    """Stable English identifier (``packaging``), for dashboards and code."""
    terms: tuple[str, ...] = Field(min_length=1)
    """Surface forms that mention this aspect in (normalized, simplified) Chinese text."""
    children: tuple[AspectNode, ...] = ()


class Taxonomy(BaseModel):
    """A whole aspect tree for one industry, with the version stored beside every score."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    industry: str = Field(min_length=1)
    version: str = Field(min_length=1)
    aspects: tuple[AspectNode, ...] = Field(min_length=1)
    opinion_words: tuple[str, ...] = ()
    """Words of opinion common in this industry (不新鲜, 没封口): the tokenizer keeps them
    whole, so the sentiment model sees them as one word."""

    def dictionary_words(self) -> list[str]:
        """Every aspect term and opinion word: what the tokenizer must never split."""
        words = [term for _, node in self.paths() for term in node.terms]
        return sorted(set(words) | set(self.opinion_words))

    def paths(self) -> Iterator[tuple[str, AspectNode]]:
        """Yield ``(path, node)`` for every node, parents before their children."""

        def walk(prefix: str, nodes: tuple[AspectNode, ...]) -> Iterator[tuple[str, AspectNode]]:
            for node in nodes:
                path = f"{prefix}/{node.name}" if prefix else node.name
                yield path, node
                yield from walk(path, node.children)

        return walk("", self.aspects)

    @model_validator(mode="after")
    def _terms_are_unambiguous(self) -> Taxonomy:
        owner: dict[str, str] = {}
        for path, node in self.paths():
            for term in node.terms:
                if term in owner and owner[term] != path:
                    raise ValueError(f"term {term!r} belongs to both {owner[term]} and {path}")
                owner[term] = path
        return self


def load_taxonomy(path: Path) -> Taxonomy:
    """Read and validate a taxonomy YAML file; raise ConfigError naming what is wrong."""
    return load_yaml_model(path, Taxonomy)
