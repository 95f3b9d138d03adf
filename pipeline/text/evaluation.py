"""Evaluation of the text stage on labelled CSV files (``voc eval ...``, ``make eval``).

Files are read row by row (any size); predictions are written as they are made, one row per
input row in input order. Metrics are computed here, without scikit-learn, so the worker's
install can run them.
"""

from __future__ import annotations

import csv
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from pipeline.text.analysis import Analyzer, polarity_of
from pipeline.text.normalize import normalize_text

__all__ = [
    "ASAP_ASPECTS",
    "asap_columns",
    "AspectReport",
    "SentimentReport",
    "evaluate_aspects",
    "evaluate_sentiment",
    "label_columns",
    "macro_f1",
    "predict_aspects",
    "score_aspects",
]

ASAP_ASPECTS = (
    "location_traffic",
    "location_distance_from_business_district",
    "location_easy_to_find",
    "service_wait_time",
    "service_waiters_attitude",
    "service_parking_convenience",
    "service_serving_speed",
    "price_level",
    "price_cost_effective",
    "price_discount",
    "environment_decoration",
    "environment_noise",
    "environment_space",
    "environment_cleaness",
    "dish_portion",
    "dish_taste",
    "dish_look",
    "dish_recommendation",
)
NOT_MENTIONED = -2
ASPECT_CLASSES = (1, 0, -1, NOT_MENTIONED)


class EvaluationInputError(ValueError):
    """The file does not have the columns or labels the evaluation needs."""


def macro_f1(pairs: Sequence[tuple[int, int]], classes: Sequence[int]) -> float:
    """Unweighted mean over ``classes`` of each class's F1 on ``(truth, predicted)`` pairs.

    A class that is neither in the truth nor predicted scores 0, as in the AI Challenger
    2018 metric (all four classes always count), so predicting "not mentioned" everywhere
    scores about a quarter, not one.
    """
    scores = []
    for cls in classes:
        tp = sum(1 for t, p in pairs if t == cls and p == cls)
        fp = sum(1 for t, p in pairs if t != cls and p == cls)
        fn = sum(1 for t, p in pairs if t == cls and p != cls)
        scores.append(2 * tp / (2 * tp + fp + fn) if tp else 0.0)
    return sum(scores) / len(scores)


def _rows(handle: IO[str], required: Sequence[str], path: Path) -> Iterator[dict[str, str]]:
    reader = csv.DictReader(handle)
    missing = [name for name in required if name not in (reader.fieldnames or [])]
    if missing:
        raise EvaluationInputError(f"{path}: missing column(s) {', '.join(missing)}; has {reader.fieldnames}")
    yield from reader


def _label(value: str, allowed: Sequence[int], path: Path, line: int, column: str) -> int:
    try:
        label = int(value.strip())
    except ValueError:
        label = None  # reported below, with the allowed labels
    if label is None or label not in allowed:
        raise EvaluationInputError(f"{path} line {line}: {column}={value!r}, expected one of {list(allowed)}")
    return label


@dataclass
class SentimentReport:
    """Binary sentence-level results."""

    n: int
    accuracy: float
    macro_f1: float
    docs_per_s: float
    model: str

    def to_json(self) -> dict[str, Any]:
        """The JSON line ``voc eval sentiment`` prints."""
        return {
            "n": self.n,
            "accuracy": round(self.accuracy, 4),
            "macro_f1": round(self.macro_f1, 4),
            "docs_per_s": round(self.docs_per_s, 1),
            "model": self.model,
        }


def evaluate_sentiment(
    path: Path,
    analyzer: Analyzer,
    text_column: str = "review",
    label_column: str = "label",
    predictions: Path | None = None,
) -> SentimentReport:
    """Predict 1 (positive) / 0 for every row of ``path`` and compare with its labels.

    ``docs_per_s`` counts normalize + tokenize + aspects + sentiment, not CSV reading.
    """
    pairs: list[tuple[int, int]] = []
    elapsed = 0.0
    with (
        path.open(encoding="utf-8-sig", newline="") as handle,
        _PredictionWriter(predictions, ["label"]) as out,
    ):
        for line, row in enumerate(_rows(handle, [text_column, label_column], path), start=2):
            truth = _label(row[label_column], (0, 1), path, line, label_column)
            started = time.perf_counter()
            predicted = int(analyzer.analyze(normalize_text(row[text_column] or "")).score >= 0.5)
            elapsed += time.perf_counter() - started
            pairs.append((truth, predicted))
            if out is not None:
                out.writerow([predicted])
    if not pairs:
        raise EvaluationInputError(f"{path}: no rows")
    return SentimentReport(
        n=len(pairs),
        accuracy=sum(t == p for t, p in pairs) / len(pairs),
        macro_f1=macro_f1(pairs, (1, 0)),
        docs_per_s=len(pairs) / elapsed if elapsed else 0.0,
        model=analyzer.model_version,
    )


@dataclass
class AspectReport:
    """Aspect-level results in the ASAP / AI Challenger 2018 format."""

    n: int
    macro_f1: float
    mention_f1: float
    polarity_accuracy: float
    docs_per_s: float
    model: str
    per_aspect: dict[str, dict[str, float]] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        """The JSON line ``voc eval aspects`` prints."""
        return {
            "n": self.n,
            "macro_f1": round(self.macro_f1, 4),
            "mention_f1": round(self.mention_f1, 4),
            "polarity_accuracy": round(self.polarity_accuracy, 4),
            "docs_per_s": round(self.docs_per_s, 1),
            "model": self.model,
            "per_aspect": self.per_aspect,
        }


def asap_columns(analyzer: Analyzer) -> dict[str, str]:
    """Aspect path → ASAP column, for the taxonomy's nodes whose ``label`` is a column
    (config/taxonomy/catering.yaml maps all 18)."""
    return label_columns(analyzer, ASAP_ASPECTS)


def label_columns(analyzer: Analyzer, labels: Sequence[str]) -> dict[str, str]:
    """Aspect path → the column it counts for: its own label where that is a column, else
    its nearest ancestor's (包装/封口 counts for ``packaging`` in a file of level-1 columns)."""
    wanted = set(labels)
    column_of: dict[str, str] = {}
    for path, node in analyzer.taxonomy.paths():  # parents before children
        parent = path.rpartition("/")[0]
        if node.label in wanted:
            column_of[path] = node.label
        elif parent in column_of:
            column_of[path] = column_of[parent]
    return column_of


def predict_aspects(
    analyzer: Analyzer, column_of: dict[str, str], text: str, labels: Sequence[str] = ASAP_ASPECTS
) -> dict[str, int]:
    """Labels (1/0/-1, -2 not mentioned) for every aspect column from one review; mentions
    counting for the same column (a parent and its child) are averaged.

    The star rating is not used: the columns are about what the text says of each aspect.
    """
    scores: dict[str, list[float]] = {}
    polarities: dict[str, int] = {}
    for mention in analyzer.analyze(normalize_text(text)).aspects:
        column = column_of.get(mention.aspect)
        if column is not None:
            scores.setdefault(column, []).append(mention.score)
            polarities[column] = mention.polarity
    predicted = dict.fromkeys(labels, NOT_MENTIONED)
    for column, found in scores.items():
        predicted[column] = polarities[column] if len(found) == 1 else polarity_of(sum(found) / len(found))
    return predicted


def score_aspects(
    pairs: dict[str, list[tuple[int, int]]],
) -> tuple[float, float, float, dict[str, dict[str, float]]]:
    """The AI Challenger 2018 metric over ``(truth, predicted)`` pairs per column: macro-F1
    (mean over columns of the 4-class macro-F1), mention F1, polarity accuracy on the
    mentions found, and per column its macro-F1, mentions and mentions found."""
    per_aspect: dict[str, dict[str, float]] = {}
    tp = fp = fn = polar_hits = 0
    for aspect, aspect_pairs in pairs.items():
        a_tp = sum(1 for t, p in aspect_pairs if t != NOT_MENTIONED and p != NOT_MENTIONED)
        a_fp = sum(1 for t, p in aspect_pairs if t == NOT_MENTIONED and p != NOT_MENTIONED)
        a_fn = sum(1 for t, p in aspect_pairs if t != NOT_MENTIONED and p == NOT_MENTIONED)
        tp, fp, fn = tp + a_tp, fp + a_fp, fn + a_fn
        polar_hits += sum(1 for t, p in aspect_pairs if t != NOT_MENTIONED and t == p)
        per_aspect[aspect] = {
            "macro_f1": round(macro_f1(aspect_pairs, ASPECT_CLASSES), 4),
            "mentioned": sum(1 for t, _ in aspect_pairs if t != NOT_MENTIONED),
            "found": a_tp + a_fp,
        }
    return (
        sum(v["macro_f1"] for v in per_aspect.values()) / len(per_aspect),
        2 * tp / (2 * tp + fp + fn) if tp else 0.0,
        polar_hits / tp if tp else 0.0,
        per_aspect,
    )


def evaluate_aspects(
    path: Path,
    analyzer: Analyzer,
    predictions: Path | None = None,
    labels: Sequence[str] | None = None,
    text_column: str = "reviewbody",
) -> AspectReport:
    """Predict the aspect columns (``labels``: the 18 ASAP columns by default) for every row
    of a file in the ASAP layout and score them."""
    labels = tuple(labels or ASAP_ASPECTS)
    pairs: dict[str, list[tuple[int, int]]] = {a: [] for a in labels}
    column_of = label_columns(analyzer, labels)
    if not column_of:
        raise EvaluationInputError(
            f"taxonomy {analyzer.taxonomy_version} has no aspect labelled as an "
            + ("ASAP column" if labels == ASAP_ASPECTS else f"evaluated column ({', '.join(labels)})")
        )
    elapsed = 0.0
    n = 0
    with (
        path.open(encoding="utf-8-sig", newline="") as handle,
        _PredictionWriter(predictions, list(labels)) as out,
    ):
        for line, row in enumerate(_rows(handle, [text_column, *labels], path), start=2):
            truth = {a: _label(row[a], ASPECT_CLASSES, path, line, a) for a in labels}
            started = time.perf_counter()
            predicted = predict_aspects(analyzer, column_of, row[text_column] or "", labels)
            elapsed += time.perf_counter() - started
            n += 1
            for aspect in labels:
                pairs[aspect].append((truth[aspect], predicted[aspect]))
            if out is not None:
                out.writerow([predicted[a] for a in labels])
    if not n:
        raise EvaluationInputError(f"{path}: no rows")
    macro, mention, polarity, per_aspect = score_aspects(pairs)
    return AspectReport(
        n=n,
        macro_f1=macro,
        mention_f1=mention,
        polarity_accuracy=polarity,
        docs_per_s=n / elapsed if elapsed else 0.0,
        model=analyzer.model_version,
        per_aspect=per_aspect,
    )


class _PredictionWriter:
    """A CSV writer on ``path`` with ``header`` written, or None when no path is given."""

    def __init__(self, path: Path | None, header: list[str]):
        self._path = path
        self._header = header
        self._handle: IO[str] | None = None

    def __enter__(self) -> Any:
        if self._path is None:
            return None
        self._handle = self._path.open("w", encoding="utf-8", newline="")
        writer = csv.writer(self._handle)
        writer.writerow(self._header)
        return writer

    def __exit__(self, *exc: object) -> None:
        if self._handle is not None:
            self._handle.close()
