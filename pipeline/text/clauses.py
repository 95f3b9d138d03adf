"""Splitting a segmented text into clauses, the unit that aspects and opinions are attached
to. Pure.

The text is segmented once, then cut on its tokens: a clause ends at a punctuation token,
at white space next to a Chinese word, and before a contrast word. Working on tokens
instead of characters means one segmenter call per text and no character regex: the
segmenter already isolates punctuation and knows words (但愿 is not a contrast, 不但 is one
word).

:func:`split_clauses` is the reference; :func:`compiled_splitter` gives its compiled twin
(``pipeline/text/native/_hotpath.pyx``), which the analyzer runs through a compiled
``LinearSentimentModel``. Unit tests check that both give the same clauses.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import TYPE_CHECKING, NamedTuple

if TYPE_CHECKING:
    from pipeline.text.native._hotpath import ClauseSplitter

__all__ = ["Clause", "compiled_splitter", "split_clauses"]

# Clause punctuation, ASCII and full-width (ingest NFKCs text, but other producers of the
# feedback topic may not). A colon does not end a clause: 服务:态度很好 names the aspect and
# gives the opinion in one.
_BOUNDARY_CHARACTERS = ",.!?;~、。，！？；…\n"
_QUESTION_MARKS = ("?", "？")
# A contrast starts a new clause (味道不错但是有点贵 is two opinions); not after 不/非
# (不只是好吃). 就是 is a contrast only before a weakening word (就是有点贵, not 就是好吃).
_CONTRAST = frozenset(["但是", "但", "不过", "可是", "然而", "可惜", "只是"])
_CONDITIONAL_CONTRAST = "就是"
_WEAKENING_PREFIXES = ("有点", "有些", "太", "不", "没")
_NOT_CONTRAST_AFTER = frozenset(["不", "非"])
_CONTRAST_CANDIDATES = _CONTRAST | {_CONDITIONAL_CONTRAST}


class Clause(NamedTuple):
    """A clause of a text: its characters, where it sits in the text, and its words.

    ``tokens`` are the clause's tokens without boundary punctuation and without white space;
    ``question`` is true when the clause ended with a question mark.
    """

    text: str
    start: int
    end: int
    tokens: list[str]
    question: bool = False


def split_clauses(text: str, tokens: Sequence[str]) -> list[Clause]:
    """Cut ``text``, segmented as ``tokens`` (which must concatenate to ``text``), into
    clauses; offsets refer to ``text``; clauses without words are dropped."""
    clauses: list[Clause] = []
    words: list[str] = []
    first = last = 0  # character span of the current clause's words
    position = 0
    previous = ""
    count = len(tokens)
    for index, token in enumerate(tokens):
        end = position + len(token)
        if not token.strip(_BOUNDARY_CHARACTERS):
            if words:
                clauses.append(Clause(text[first:last], first, last, words, token in _QUESTION_MARKS))
                words = []
        elif token.isspace():
            # White space ends a clause next to a Chinese word (味道不错 送餐很快) or when it is
            # a line break or a wide gap; between Latin words and digits it separates words
            # (iPhone 15).
            following = tokens[index + 1] if index + 1 < count else ""
            if words and (
                len(token) > 1 or "\n" in token or not previous.isascii() or not following.isascii()
            ):
                clauses.append(Clause(text[first:last], first, last, words))
                words = []
        else:
            if (
                token in _CONTRAST_CANDIDATES
                and words
                and previous not in _NOT_CONTRAST_AFTER
                and _starts_contrast(token, tokens, index)
            ):
                clauses.append(Clause(text[first:last], first, last, words))
                words = []
            if not words:
                first = position
            words.append(token)
            last = end
        previous = token
        position = end
    if words:
        clauses.append(Clause(text[first:last], first, last, words))
    return clauses


@functools.cache
def compiled_splitter() -> ClauseSplitter:
    """:func:`split_clauses` compiled (``pipeline/text/native/_hotpath.pyx``), built from this
    module's rules: the same clauses, several times faster. Raises ImportError when the
    compiled module was not built (``make setup`` builds it)."""
    try:
        from pipeline.text.native._hotpath import ClauseSplitter
    except ImportError as exc:
        raise ImportError(
            f"the compiled hot path is not built ({exc}): run `make setup` (pip install -e .)"
        ) from exc
    return ClauseSplitter(
        Clause,
        _BOUNDARY_CHARACTERS,
        _QUESTION_MARKS,
        _CONTRAST,
        _CONDITIONAL_CONTRAST,
        _WEAKENING_PREFIXES,
        _NOT_CONTRAST_AFTER,
    )


def _starts_contrast(token: str, tokens: Sequence[str], index: int) -> bool:
    if token in _CONTRAST:
        return True
    if token == _CONDITIONAL_CONTRAST and index + 1 < len(tokens):
        return tokens[index + 1].startswith(_WEAKENING_PREFIXES)
    return False
