"""Finding aspect mentions: split text into clauses, match taxonomy terms in each clause."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

from config.taxonomy import Taxonomy

__all__ = ["AspectMatcher", "Clause", "split_clauses"]

# Clause boundaries: sentence and clause punctuation, ASCII and full-width. Ingest NFKCs
# text (full-width → ASCII) but other producers of the feedback topic may not.
_CLAUSE_BOUNDARY = re.compile(r"[,.!?;:~、。，！？；：…\n]+|\s{2,}")


@dataclass(frozen=True, slots=True)
class Clause:
    """A clause of a text and where it sits in that text."""

    text: str
    start: int
    end: int


def split_clauses(text: str) -> list[Clause]:
    """Split on clause punctuation; offsets refer to ``text``; empty clauses are dropped."""
    clauses: list[Clause] = []
    position = 0
    for boundary in _CLAUSE_BOUNDARY.finditer(text):
        _append_clause(clauses, text, position, boundary.start())
        position = boundary.end()
    _append_clause(clauses, text, position, len(text))
    return clauses


def _append_clause(clauses: list[Clause], text: str, start: int, end: int) -> None:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    if end > start:
        clauses.append(Clause(text[start:end], start, end))


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
