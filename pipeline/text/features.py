"""Features of the sentence-level sentiment model: the definition training
(``pipeline.text.training``) fits on. The runtime (``LinearSentimentModel.clause_log_odds``)
computes the same features inline for speed, and its compiled twin
(``pipeline/text/native/_hotpath.pyx``) looks their weights up by word ids without building the
strings; unit tests check that all three agree.

A clause yields its words, negated words marked ``!word`` (every word after a negator in the
clause: 不新鲜 → ``!新鲜``), word bigrams with clause start/end markers, and character
bigrams (``#xy``), which catch what the segmenter splits oddly. A text's features are its
clauses' features, counted (a feature said twice counts twice). Pure.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

__all__ = [
    "BIGRAM_JOIN",
    "CHAR_BIGRAM_PREFIX",
    "NEGATED_PREFIX",
    "NEGATORS",
    "SENTENCE_END",
    "SENTENCE_START",
    "clause_features",
    "document_features",
]

NEGATORS = frozenset(
    [
        "不",
        "没",
        "没有",
        "别",
        "无",
        "未",
        "不是",
        "不太",
        "不够",
        "不会",
        "不能",
        "没什么",
        "并不",
        "毫无",
        "从不",
        "不再",
        "不怎么",
        "木有",
        "没得",
        "甭",
    ]
)
NEGATED_PREFIX = "!"
CHAR_BIGRAM_PREFIX = "#"
BIGRAM_JOIN = "_"
SENTENCE_START = "<s>"
SENTENCE_END = "</s>"


def clause_features(text: str, tokens: Sequence[str]) -> list[str]:
    """Features of one clause (``tokens`` are its words without white space, ``text`` its
    characters)."""
    features: list[str] = []
    append = features.append
    negated = False
    previous = SENTENCE_START
    for word in tokens:
        if word in NEGATORS:
            negated = True
            append(word)
        else:
            append(NEGATED_PREFIX + word if negated else word)
            append(previous + BIGRAM_JOIN + word)
        previous = word
    append(previous + BIGRAM_JOIN + SENTENCE_END)
    features.extend([CHAR_BIGRAM_PREFIX + text[i : i + 2] for i in range(len(text) - 1)])
    return features


def document_features(clauses: Iterable[tuple[str, Sequence[str]]]) -> list[str]:
    """Features of a whole text: the features of each of its clauses, in order."""
    features: list[str] = []
    for text, tokens in clauses:
        features.extend(clause_features(text, tokens))
    return features
