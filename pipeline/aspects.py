"""Finding aspect mentions: match taxonomy terms in a clause, most specific aspect first."""

from __future__ import annotations

import re
from collections.abc import Iterator

from config.taxonomy import Taxonomy

__all__ = ["AspectMatcher"]


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

    def aspects_in(self, clause: str) -> Iterator[str]:
        """Yield the aspect path of each term found in ``clause``, most specific first,
        each path once; a parent is not yielded where one of its children matched."""
        found = {self._path_of[m[0]] for m in self._pattern.finditer(clause)}
        for path in sorted(found, key=lambda p: (-p.count("/"), p)):
            if not any(other.startswith(path + "/") for other in found):
                yield path
