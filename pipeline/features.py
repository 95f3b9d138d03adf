"""Features of the sentence-level sentiment model: the one definition shared by training
(``pipeline.training``) and scoring (``pipeline.sentiment``), so they cannot drift apart.

A clause yields its words, negated words marked ``!word`` (every word after a negator in the
clause: 不新鲜 → ``!新鲜``), word bigrams with clause start/end markers, and character
bigrams (``#xy``), which catch what the segmenter splits oddly. Pure.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

__all__ = ["NEGATORS", "clause_features", "document_features"]

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


def clause_features(text: str, tokens: Sequence[str]) -> list[str]:
    """Features of one clause (``tokens`` are its words, ``text`` its characters)."""
    features: list[str] = []
    append = features.append
    negated = False
    previous = "<s>"
    for word in tokens:
        if word == " ":
            continue
        if word in NEGATORS:
            negated = True
            append(word)
            previous = word
            continue
        append("!" + word if negated else word)
        append(previous + "_" + word)
        previous = word
    append(previous + "_</s>")
    features.extend(["#" + text[i : i + 2] for i in range(len(text) - 1)])
    return features


def document_features(clauses: Iterable[tuple[str, Sequence[str]]]) -> list[str]:
    """Features of a whole text: the features of each of its clauses, in order."""
    features: list[str] = []
    for text, tokens in clauses:
        features.extend(clause_features(text, tokens))
    return features
