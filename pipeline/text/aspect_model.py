"""The learned aspect model: per taxonomy label, whether a text mentions it and how.

The lexicon (taxonomy terms in clauses, scored by the sentence model) finds explicit
mentions; it misses implicit ones (吵 → environment_noise without 环境) and over-fires on
terms used for something else. For every label it was trained on, this model decides among
four classes, as the AI Challenger 2018 columns do: 1 positive, 0 neutral, -1 negative, -2 not
mentioned. It is a one-vs-rest logistic regression per label over sparse inputs that
:func:`aspect_inputs` computes from what the analyzer has already read:

- the text's features (:func:`pipeline.text.features.clause_features` of every clause, present or
  not): the implicit mentions and the tone of the whole text;
- the features of the clauses where the lexicon found the label (their own vocabulary): the
  polarity of what is said about the aspect, learned per label;
- the lexicon's verdict for the label (1 / 0 / -1 / not found) and the sum of those clauses'
  adjusted log-odds from the sentence model (negation, degree, contrast and questions already
  applied), squashed by tanh.

Scoring is a sum of weight rows (the training's feature scales folded into the weights),
one vector of ``labels × 4`` per text: a few dozen numpy rows, no Python loop per label. The
artefact (``pipeline/models/aspects-<industry>.npz``) names the taxonomy version it was
trained with; ``make train`` reproduces it (``pipeline.text.aspect_training``).
"""

from __future__ import annotations

import io
import math
import zipfile
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

import numpy as np
import orjson

from pipeline.text.clauses import Clause
from pipeline.text.features import clause_features
from schemas.feedback import Polarity

__all__ = [
    "ASPECT_CLASSES",
    "LEXICON_VERDICTS",
    "NOT_MENTIONED",
    "AspectDecision",
    "AspectInputs",
    "LearnedAspectModel",
    "aspect_inputs",
    "load_aspect_model",
]

NOT_MENTIONED = -2
ASPECT_CLASSES = (-2, -1, 0, 1)
"""The decision classes, in the order of the weight columns (sklearn's sorted classes)."""
LEXICON_VERDICTS = (1, 0, -1, NOT_MENTIONED)
MODEL_FORMAT = 1
_LOG_ODDS_SCALE = 2.0  # tanh(log_odds / 2): ±2 log-odds ≈ ±0.76, a strong clause saturates


@dataclass(frozen=True, slots=True)
class AspectInputs:
    """What the model reads of one text (see the module doc)."""

    text_features: frozenset[str]
    each_clause: tuple[frozenset[str], ...]
    """The features of each clause of the text, in order (their union is ``text_features``)."""
    clause_features: dict[str, frozenset[str]]
    """Per label the lexicon found: the features of its clauses."""
    clause_log_odds: dict[str, float]
    """Per label the lexicon found: tanh(sum of its clauses' adjusted log-odds / 2)."""
    lexicon: dict[str, int]
    """Per label the lexicon found: its polarity (1 / 0 / -1)."""


def aspect_inputs(
    clauses: Sequence[Clause],
    label_clauses: dict[str, list[int]],
    adjusted_log_odds: Sequence[float],
    lexicon: Mapping[str, int],
) -> AspectInputs:
    """The model's inputs: ``label_clauses`` are the indexes of the clauses in which the
    lexicon found each label, ``adjusted_log_odds`` each clause's evidence after the
    analyzer's degree and question rules, ``lexicon`` the lexicon's polarity per label."""
    each = tuple(frozenset(clause_features(clause.text, clause.tokens)) for clause in clauses)
    own: dict[str, frozenset[str]] = {}
    log_odds: dict[str, float] = {}
    for label, indexes in label_clauses.items():
        own[label] = frozenset().union(*(each[index] for index in indexes))
        log_odds[label] = math.tanh(sum(adjusted_log_odds[i] for i in indexes) / _LOG_ODDS_SCALE)
    return AspectInputs(frozenset().union(*each), each, own, log_odds, dict(lexicon))


@dataclass(frozen=True, slots=True)
class AspectDecision:
    """The model's class for one label, and a probability-like score of positive."""

    label: str
    polarity: Polarity
    """1 / 0 / -1 (labels decided "not mentioned" are left out)."""
    score: float
    """Expected sentiment among the three mentioned classes (softmax of their decision
    values: P(positive) + P(neutral) / 2), in [0, 1]."""


@dataclass(frozen=True, slots=True)
class LearnedAspectModel:
    """Weights of one-vs-rest logistic regressions, one per label, over :class:`AspectInputs`.

    ``decision[label, class] = bias + Σ text_weights[f] + Σ clause_weights[g] +
    lexicon_weights[verdict] + log_odds_weights × clause_log_odds``; the class with the
    largest decision value wins (sklearn's one-vs-rest ``predict``).
    """

    version: str
    taxonomy_version: str
    labels: tuple[str, ...]
    text_vocabulary: dict[str, int]
    text_weights: np.ndarray  # (n_text_features, n_labels, 4)
    clause_vocabularies: tuple[dict[str, int], ...]
    """Per label: its clause features → their row in ``clause_weights`` (a feature seen in
    one label's clauses has no weight for the others, so the rows are per label)."""
    clause_weights: np.ndarray  # (n_label_features, 4)
    lexicon_weights: np.ndarray  # (n_labels, 4 verdicts in LEXICON_VERDICTS order, 4)
    log_odds_weights: np.ndarray  # (n_labels, 4)
    bias: np.ndarray  # (n_labels, 4)
    _label_index: dict[str, int] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_label_index", {label: i for i, label in enumerate(self.labels)})

    def decision_values(self, inputs: AspectInputs) -> np.ndarray:
        """``(n_labels, 4)`` decision values, classes in :data:`ASPECT_CLASSES` order."""
        vocabulary = self.text_vocabulary
        rows = [i for i in map(vocabulary.get, inputs.text_features) if i is not None]
        values: np.ndarray = self.bias + self.text_weights[rows].sum(axis=0, dtype=np.float64)
        for label, features in inputs.clause_features.items():
            j = self._label_index.get(label)
            if j is None:
                continue
            rows = [i for i in map(self.clause_vocabularies[j].get, features) if i is not None]
            values[j] += self.clause_weights[rows].sum(axis=0, dtype=np.float64)
            values[j] += self.log_odds_weights[j] * inputs.clause_log_odds[label]
        verdicts = [LEXICON_VERDICTS.index(inputs.lexicon.get(label, NOT_MENTIONED)) for label in self.labels]
        values += self.lexicon_weights[np.arange(len(self.labels)), verdicts]
        return values

    def decide(self, inputs: AspectInputs) -> list[AspectDecision]:
        """The labels the model finds mentioned, with their polarity and score, in label
        order."""
        values = self.decision_values(inputs)
        winners = values.argmax(axis=1)
        decisions: list[AspectDecision] = []
        for j in np.flatnonzero(winners != 0):  # class 0 of the columns is "not mentioned"
            negative, neutral, positive = values[j, 1:]
            top = max(negative, neutral, positive)
            e_neg, e_neu, e_pos = (math.exp(v - top) for v in (negative, neutral, positive))
            score = (e_pos + e_neu / 2) / (e_neg + e_neu + e_pos)
            decisions.append(
                AspectDecision(
                    self.labels[j], cast(Polarity, ASPECT_CLASSES[int(winners[j])]), round(float(score), 6)
                )
            )
        return decisions

    def evidence_clauses(self, inputs: AspectInputs, decisions: Iterable[AspectDecision]) -> dict[str, int]:
        """For each of ``decisions``, the index of the clause whose text features favour it
        over "not mentioned" the most: the evidence shown for a mention the lexicon did not
        find. Each clause's weight rows are summed once for all of them."""
        wanted = list(decisions)
        if not wanted or not inputs.each_clause:
            return {}
        vocabulary = self.text_vocabulary
        sums = np.stack(
            [
                self.text_weights[[i for i in map(vocabulary.get, features) if i is not None]].sum(axis=0)
                for features in inputs.each_clause
            ]
        )  # (n_clauses, n_labels, 4)
        chosen: dict[str, int] = {}
        for decision in wanted:
            j = self._label_index[decision.label]
            column = ASPECT_CLASSES.index(decision.polarity)
            chosen[decision.label] = int((sums[:, j, column] - sums[:, j, 0]).argmax())
        return chosen

    def save(self, path: Path) -> None:
        """Write the ``.npz`` artefact: weights as float16 (a relative error of 1e-3 on
        weights below 4 in size), vocabularies and metadata as JSON; the same model gives
        the same bytes."""
        meta = {
            "format": MODEL_FORMAT,
            "version": self.version,
            "taxonomy_version": self.taxonomy_version,
            "labels": list(self.labels),
            "text_vocabulary": sorted(self.text_vocabulary, key=self.text_vocabulary.__getitem__),
            "clause_vocabularies": [sorted(v, key=v.__getitem__) for v in self.clause_vocabularies],
        }
        arrays: dict[str, np.ndarray] = {
            "meta": np.frombuffer(orjson.dumps(meta), dtype=np.uint8),
            "text_weights": self.text_weights.astype(np.float16),
            "clause_weights": self.clause_weights.astype(np.float16),
            "lexicon_weights": self.lexicon_weights.astype(np.float32),
            "log_odds_weights": self.log_odds_weights.astype(np.float32),
            "bias": self.bias.astype(np.float32),
        }
        buffer = io.BytesIO()
        # np.savez stamps each entry with the current time; a fixed one keeps retrains diffable.
        with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
            for name, array in arrays.items():
                entry = io.BytesIO()
                np.lib.format.write_array(entry, array, allow_pickle=False)
                info = zipfile.ZipInfo(f"{name}.npy", date_time=(2026, 1, 1, 0, 0, 0))
                info.compress_type = zipfile.ZIP_DEFLATED
                archive.writestr(info, entry.getvalue())
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(buffer.getvalue())


def _vocabulary(words: Iterable[str]) -> dict[str, int]:
    return {word: i for i, word in enumerate(words)}


def _offset_vocabularies(per_label: list[list[str]]) -> Iterator[dict[str, int]]:
    """Each label's features numbered after the previous labels' rows."""
    offset = 0
    for words in per_label:
        yield {word: offset + i for i, word in enumerate(words)}
        offset += len(words)


def load_aspect_model(path: Path) -> LearnedAspectModel:
    """Load an artefact written by :meth:`LearnedAspectModel.save`; ValueError names what is
    wrong (missing file, other format, shapes that do not fit)."""
    try:
        with np.load(path, allow_pickle=False) as data:
            meta: dict[str, Any] = orjson.loads(data["meta"].tobytes())
            arrays = {name: data[name] for name in data.files if name != "meta"}
    except FileNotFoundError as exc:
        raise ValueError(f"aspect model {path} not found: run `make train`") from exc
    except (OSError, KeyError, ValueError, orjson.JSONDecodeError) as exc:
        raise ValueError(f"aspect model {path} is not an aspect model artefact: {exc}") from exc
    if meta.get("format") != MODEL_FORMAT:
        raise ValueError(f"aspect model {path} has format {meta.get('format')!r}, expected {MODEL_FORMAT}")
    try:
        model = LearnedAspectModel(
            version=meta["version"],
            taxonomy_version=meta["taxonomy_version"],
            labels=tuple(meta["labels"]),
            text_vocabulary=_vocabulary(meta["text_vocabulary"]),
            text_weights=arrays["text_weights"].astype(np.float32),
            clause_vocabularies=tuple(_offset_vocabularies(meta["clause_vocabularies"])),
            clause_weights=arrays["clause_weights"].astype(np.float32),
            lexicon_weights=arrays["lexicon_weights"],
            log_odds_weights=arrays["log_odds_weights"],
            bias=arrays["bias"],
        )
    except KeyError as exc:
        raise ValueError(f"aspect model {path} lacks {exc}: run `make train`") from exc
    n = len(model.labels)
    expected = {
        "text_weights": (len(model.text_vocabulary), n, 4),
        "clause_weights": (sum(map(len, model.clause_vocabularies)), 4),
        "lexicon_weights": (n, 4, 4),
        "log_odds_weights": (n, 4),
        "bias": (n, 4),
    }
    for name, shape in expected.items():
        if getattr(model, name).shape != shape:
            raise ValueError(
                f"aspect model {path}: {name} has shape {getattr(model, name).shape}, not {shape}"
            )
    return model
