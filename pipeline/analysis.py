"""The analyze stage: tokens, aspect mentions and sentiment for one Feedback. Pure."""

from __future__ import annotations

from dataclasses import dataclass

from config.taxonomy import Taxonomy
from pipeline.aspects import AspectMatcher, split_clauses
from pipeline.sentiment import SentimentModel
from pipeline.tokenize import Tokenizer
from schemas.feedback import AspectMention, Feedback, Polarity, ScoredFeedback

__all__ = ["Analyzer", "polarity_of"]

# A score this far from 0.5 is an opinion; in between is neutral. Symmetric on purpose:
# the model's probabilities are roughly calibrated on balanced review data.
_POSITIVE_AT = 0.6
_NEGATIVE_AT = 0.4


def polarity_of(score: float) -> Polarity:
    """Map a positive-probability to -1 / 0 / 1."""
    if score >= _POSITIVE_AT:
        return 1
    if score <= _NEGATIVE_AT:
        return -1
    return 0


@dataclass(frozen=True, slots=True)
class _ClauseScore:
    aspect: str
    score: float
    opinion_words: tuple[str, ...]
    evidence: str
    start: int
    end: int


class Analyzer:
    """Scores feedback: overall sentiment plus one :class:`AspectMention` per aspect path.

    Built once per process (tokenizer and model load take a fraction of a second);
    :meth:`score` is a pure function of its argument after that.
    """

    def __init__(self, taxonomy: Taxonomy, tokenizer: Tokenizer, model: SentimentModel):
        self._matcher = AspectMatcher(taxonomy)
        self._tokenize = tokenizer
        self._model = model
        self.taxonomy_version = f"{taxonomy.industry}-{taxonomy.version}"
        self.model_version = model.version

    def score(self, feedback: Feedback) -> ScoredFeedback:
        """Return ``feedback`` scored. Never raises on a valid Feedback."""
        all_tokens: list[str] = []
        by_aspect: dict[str, list[_ClauseScore]] = {}
        for clause in split_clauses(feedback.text):
            tokens = self._tokenize(clause.text)
            all_tokens.extend(tokens)
            aspects = list(self._matcher.aspects_in(clause.text))
            if not aspects:
                continue
            clause_score = self._model.score(tokens)
            opinion = tuple(self._model.opinion_words(tokens))
            for aspect in aspects:
                by_aspect.setdefault(aspect, []).append(
                    _ClauseScore(aspect, clause_score, opinion, clause.text, clause.start, clause.end)
                )
        mentions = tuple(_merge(scores) for scores in by_aspect.values())
        overall = _overall_score(
            self._model.score(all_tokens) if all_tokens else None, feedback.rating, feedback.nps
        )
        # model_construct: every field comes from a validated Feedback or from this function,
        # so validating again would only cost time (a third of this stage's pydantic work).
        return ScoredFeedback.model_construct(
            **dict(feedback),
            polarity=polarity_of(overall),
            score=overall,
            aspects=mentions,
            taxonomy_version=self.taxonomy_version,
            model_version=self.model_version,
        )


def _merge(scores: list[_ClauseScore]) -> AspectMention:
    """One mention per aspect: mean score; the most opinionated clause is the evidence."""
    mean = sum(s.score for s in scores) / len(scores)
    strongest = max(scores, key=lambda s: abs(s.score - 0.5))
    words: list[str] = []
    for s in scores:
        words.extend(w for w in s.opinion_words if w not in words)
    return AspectMention(
        aspect=strongest.aspect,
        polarity=polarity_of(mean),
        score=round(mean, 6),
        opinion_words=tuple(words[:8]),
        evidence=strongest.evidence,
        evidence_start=strongest.start,
        evidence_end=strongest.end,
    )


def _overall_score(text_score: float | None, rating: int | None, nps: int | None) -> float:
    """Average the text's score with the stated rating (1-5) and NPS (0-10) where present."""
    signals: list[float] = []
    if text_score is not None:
        signals.append(text_score)
    if rating is not None:
        signals.append((rating - 1) / 4)
    if nps is not None:
        signals.append(nps / 10)
    return round(sum(signals) / len(signals), 6) if signals else 0.5
