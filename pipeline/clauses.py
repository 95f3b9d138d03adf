"""Splitting text into clauses, the unit that aspects and opinions are attached to. Pure."""

from __future__ import annotations

import re
from dataclasses import dataclass

__all__ = ["Clause", "split_clauses"]

# Clause boundaries: sentence and clause punctuation, ASCII and full-width (ingest NFKCs
# text, but other producers of the feedback topic may not), and white space next to a
# Chinese character: reviewers separate clauses with a space (味道不错 送餐很快), while a
# space between Latin letters or digits separates words (iPhone 15). A colon does not end a
# clause: 服务:态度很好 names the aspect and gives the opinion in one.
_CLAUSE_BOUNDARY = re.compile(r"[,.!?;~、。，！？；…\n]+|\s{2,}|(?<=[^\x00-\x7f])\s+|\s+(?=[^\x00-\x7f])")
# A contrast inside a clause starts a new one ("味道不错但是有点贵" is two opinions). 就是 is
# a contrast only before a weakening word (就是有点贵), not in 就是好吃.
_CONTRAST = re.compile(r"(?<=.)(?<!不)(?<!非)(?:但是|但|不过|可是|然而|可惜|只是|就是(?=有点|有些|太|不|没))")


@dataclass(frozen=True, slots=True)
class Clause:
    """A clause of a text and where it sits in that text.

    ``question`` is true when the clause ended with a question mark.
    """

    text: str
    start: int
    end: int
    question: bool = False


def split_clauses(text: str) -> list[Clause]:
    """Split on clause punctuation and contrast words; offsets refer to ``text``; empty
    clauses are dropped."""
    clauses: list[Clause] = []
    position = 0
    for boundary in _CLAUSE_BOUNDARY.finditer(text):
        _append(clauses, text, position, boundary.start(), "?" in boundary[0] or "？" in boundary[0])
        position = boundary.end()
    _append(clauses, text, position, len(text), False)
    return clauses


def _append(clauses: list[Clause], text: str, start: int, end: int, question: bool) -> None:
    cuts = [start]
    for contrast in _CONTRAST.finditer(text, start, end):
        if contrast.start() > cuts[-1]:
            cuts.append(contrast.start())
    cuts.append(end)
    for i in range(len(cuts) - 1):
        lo, hi = cuts[i], cuts[i + 1]
        while lo < hi and text[lo].isspace():
            lo += 1
        while hi > lo and text[hi - 1].isspace():
            hi -= 1
        if hi > lo:
            last = i == len(cuts) - 2
            clauses.append(
                Clause(
                    text[lo:hi],
                    lo,
                    hi,
                    question=question and last,
                )
            )
