"""Finding aspect mentions: match taxonomy terms in a clause, most specific aspect first."""

from __future__ import annotations

import re
from collections.abc import Collection, Iterator

from config.taxonomy import Taxonomy

__all__ = ["AspectMatcher", "most_specific"]


class AspectMatcher:
    """Maps surface terms to aspect paths; the longest term wins where terms overlap."""

    def __init__(self, taxonomy: Taxonomy):
        self._path_of: dict[str, str] = {}
        for path, node in taxonomy.paths():
            for term in node.terms:
                self._path_of[term] = path
        terms = sorted(self._path_of, key=len, reverse=True)
        self._pattern = re.compile("|".join(map(re.escape, terms)))

    @property
    def terms(self) -> list[str]:
        """Every term of the taxonomy (used to teach the tokenizer)."""
        return list(self._path_of)

    def aspects_in(self, clause: str) -> list[str]:
        """The aspect path of each term found in ``clause`` (see :func:`most_specific`)."""
        return most_specific({self._path_of[m[0]] for m in self._pattern.finditer(clause)})

    def mentions(self, text: str) -> Iterator[tuple[int, str]]:
        """Each term found in ``text``: where it starts and its aspect path."""
        path_of = self._path_of
        for match in self._pattern.finditer(text):
            yield match.start(), path_of[match[0]]


def most_specific(paths: Collection[str]) -> list[str]:
    """``paths`` most specific first, each once; a parent is left out where one of its
    children is there (包装 and 包装/封口 → 包装/封口)."""
    if len(paths) == 1:
        return list(paths)
    return [
        path
        for path in sorted(set(paths), key=lambda p: (-p.count("/"), p))
        if not any(other.startswith(path + "/") for other in paths)
    ]
