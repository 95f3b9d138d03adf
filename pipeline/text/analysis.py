"""The analyze stage: clauses, aspect mentions and sentiment for one text. Pure.

Each clause is scored by the sentence model, then adjusted for what a bag of words reads
poorly: degree adverbs scale the opinion (非常 strengthens, 有点 weakens), a rhetorical
question turns it around (难道不好吃吗), a complaint question is negative (怎么这么慢?).
Negation is in the model's features (不新鲜 → ``!新鲜``), contrast in the clause split
(味道不错但是有点贵 is two clauses, each with its own aspect and opinion).
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Collection
from dataclasses import dataclass

from config.taxonomy import Taxonomy
from pipeline.text.aspect_model import AspectInputs, LearnedAspectModel, aspect_inputs
from pipeline.text.aspects import AspectMatcher, most_specific
from pipeline.text.clauses import Clause
from pipeline.text.sentiment import SentimentScorer, probability, read_clauses
from pipeline.text.tokenize import Tokenizer
from schemas.feedback import AspectMention, Feedback, Polarity, ScoredFeedback

__all__ = ["Analyzer", "TextAnalysis", "clause_log_odds_adjusted", "polarity_of"]

# Share of the whole text's log-odds added to each aspect clause's own. 0: on ASAP
# train_sample, 0.15-0.6 moved neutral mentions to positive and lowered macro-F1 (0.43 →
# 0.42); kept as a knob for corpora where mentions rarely stand without an opinion.
CONTEXT_WEIGHT = 0.0

# A score this far from 0.5 is an opinion; in between is neutral.
_POSITIVE_AT = 0.6
_NEGATIVE_AT = 0.4

# Degree adverbs and the factor they put on a clause's log-odds (its distance from neutral).
_DEGREE = {
    **dict.fromkeys(
        ["非常", "特别", "超级", "极其", "十分", "超", "巨", "贼", "太", "相当", "最", "极"], 1.5
    ),
    **dict.fromkeys(["很", "挺", "蛮", "真", "好好", "真的"], 1.2),
    **dict.fromkeys(["有点", "有些", "稍微", "稍", "略", "略微", "一点", "还算", "比较", "一般"], 0.6),
}
# Question words that make a question rhetorical: the opinion is the opposite of the words
# (难道不好吃吗 praises), and those that make it a complaint whatever the words (怎么这么慢).
_RHETORICAL = ("难道", "岂", "何必", "何尝", "哪里不")
_COMPLAINT = (
    "怎么这么",
    "怎么那么",
    "怎么会这么",
    "凭什么",
    "为什么这么",
    "为啥这么",
    "好意思",
    "有没有搞错",
)


# The additive particle 也 says "as well", not how the writer feels: an aspect clause is
# scored without it (价格也便宜 read 0.59, neutral, because 也便宜 leans negative in the data:
# 再便宜也…). The whole text's score keeps it: the sentence model was fit with it. On the
# labelled aspect sets: e-commerce macro-F1 0.536 → 0.543, catering lexicon 0.4388 → 0.4382;
# adding 又 and 都 did less (0.540).
_TRANSPARENT = frozenset(["也"])


def _without_particles(clause: Clause) -> Clause:
    tokens = [token for token in clause.tokens if token not in _TRANSPARENT]
    return clause._replace(text="".join(tokens), tokens=tokens)


def polarity_of(score: float) -> Polarity:
    """Map a positive-probability to -1 / 0 / 1."""
    if score >= _POSITIVE_AT:
        return 1
    if score <= _NEGATIVE_AT:
        return -1
    return 0


def clause_log_odds_adjusted(log_odds: float, clause: Clause) -> float:
    """Apply degree adverbs and question rules to a clause's log-odds (see module doc)."""
    factor = 1.0
    for token in clause.tokens:
        factor *= _DEGREE.get(token, 1.0)
    adjusted = log_odds * min(factor, 3.0)
    if clause.question:
        if any(word in clause.text for word in _RHETORICAL):
            return -adjusted
        if any(word in clause.text for word in _COMPLAINT):
            return -abs(adjusted) - 1.0
    return adjusted


@dataclass(frozen=True, slots=True)
class _ClauseScore:
    aspect: str
    score: float
    opinion_words: tuple[str, ...]
    clause: Clause
    index: int
    """The clause's position in the text's clauses."""


@dataclass(frozen=True, slots=True)
class _Reading:
    """One text as the lexicon pass reads it."""

    clauses: list[Clause]
    text_log_odds: float
    by_aspect: dict[str, list[_ClauseScore]]
    adjusted: list[float]
    """Each clause's log-odds after degree and question rules (0 for clauses without aspect)."""
    mentions: list[AspectMention]


def _inputs(reading: _Reading, label_of: dict[str, str]) -> AspectInputs:
    label_clauses = {
        label_of[path]: [s.index for s in scores]
        for path, scores in reading.by_aspect.items()
        if path in label_of
    }
    verdicts = {label_of[m.aspect]: m.polarity for m in reading.mentions if m.aspect in label_of}
    return aspect_inputs(reading.clauses, label_clauses, reading.adjusted, verdicts)


@dataclass(frozen=True, slots=True)
class TextAnalysis:
    """What the analyzer reads in one text: its sentiment and its aspect mentions."""

    score: float
    """Probability that the text as a whole is positive (the text only, no rating)."""
    aspects: tuple[AspectMention, ...]


class Analyzer:
    """Scores feedback: overall sentiment plus one :class:`AspectMention` per aspect path.

    Built once per process (tokenizer and model load take a fraction of a second);
    :meth:`score` is a pure function of its argument after that.
    """

    def __init__(
        self,
        taxonomy: Taxonomy,
        tokenizer: Tokenizer,
        model: SentimentScorer,
        context_weight: float = CONTEXT_WEIGHT,
        aspect_model: LearnedAspectModel | None = None,
    ):
        self._context_weight = context_weight
        self._matcher = AspectMatcher(taxonomy)
        self._tokenize = tokenizer
        self._model = model
        self.taxonomy = taxonomy
        self.taxonomy_version = f"{taxonomy.industry}-{taxonomy.version}"
        self.model_version = model.version
        self._aspect_model = aspect_model
        self._label_of: dict[str, str] = {}
        self._path_of: dict[str, str] = {}
        if aspect_model is not None:
            if aspect_model.taxonomy_version != self.taxonomy_version:
                raise ValueError(
                    f"aspect model {aspect_model.version} was trained for taxonomy "
                    f"{aspect_model.taxonomy_version}, not {self.taxonomy_version}: run `make train`"
                )
            learned = set(aspect_model.labels)
            self._path_of = {node.label: path for path, node in taxonomy.paths() if node.label in learned}
            missing = learned - set(self._path_of)
            if missing:
                raise ValueError(f"aspect model labels not in the taxonomy: {', '.join(sorted(missing))}")
            self._label_of = {path: label for label, path in self._path_of.items()}
            self.model_version = f"{model.version}+{aspect_model.version}"

    def analyze(self, text: str) -> TextAnalysis:
        """Sentiment and aspect mentions of a normalized text. Never raises on a str."""
        reading = self._read(text)
        if reading is None:
            return TextAnalysis(0.5, ())
        mentions = reading.mentions
        if self._aspect_model is not None:
            mentions = self._learned_mentions(reading)
        return TextAnalysis(round(probability(reading.text_log_odds), 6), tuple(mentions))

    def _read(self, text: str) -> _Reading | None:
        """Clauses, sentence scores and the lexicon's mentions; None for a text without words."""
        model = self._model
        # Split, domain and each clause's evidence in one call (compiled for our model).
        clauses, domain, evidence = read_clauses(model, text, self._tokenize(text))
        if not clauses:
            return None
        text_log_odds = model.prior_log_odds(domain) + sum(evidence)
        paths_by_clause = self._aspects_by_clause(text, clauses)
        by_aspect: dict[str, list[_ClauseScore]] = {}
        context = self._context_weight * text_log_odds
        adjusted = [0.0] * len(clauses)
        for index, paths in paths_by_clause.items():
            clause = clauses[index]
            # The clause's own evidence, without the prior (a clause that says nothing about
            # how it feels is neutral), plus a share of the whole text's tone.
            own = evidence[index]
            if "也" in clause.text and _TRANSPARENT.intersection(clause.tokens):  # text test: cheaper
                own = model.clause_log_odds(_without_particles(clause), domain)
            adjusted[index] = clause_log_odds_adjusted(own, clause)
            score = probability(adjusted[index] + context)
            opinion = tuple(model.opinion_words(clause.tokens))
            for aspect in most_specific(paths):
                by_aspect.setdefault(aspect, []).append(_ClauseScore(aspect, score, opinion, clause, index))
        mentions = [_merge(scores) for scores in by_aspect.values()]
        return _Reading(clauses, text_log_odds, by_aspect, adjusted, mentions)

    def learning_inputs(self, text: str, labels: Collection[str]) -> AspectInputs:
        """What the learned aspect model reads of a normalized text, for the taxonomy labels
        ``labels`` (training computes its examples with this, so that they are the runtime's)."""
        label_of = {path: node.label for path, node in self.taxonomy.paths() if node.label in labels}
        reading = self._read(text)
        if reading is None:
            return aspect_inputs([], {}, [], {})
        return _inputs(reading, label_of)

    def _learned_mentions(self, reading: _Reading) -> list[AspectMention]:
        """The lexicon's mentions of aspects the model was not trained on, and the model's
        decision for every aspect it was (see pipeline/text/aspect_model.py)."""
        assert self._aspect_model is not None
        label_of = self._label_of
        kept = [m for m in reading.mentions if m.aspect not in label_of]
        found = {m.aspect: m for m in reading.mentions}
        clauses = reading.clauses
        inputs = _inputs(reading, label_of)
        decisions = self._aspect_model.decide(inputs)
        implicit = [d for d in decisions if self._path_of[d.label] not in found]
        evidence_of = self._aspect_model.evidence_clauses(inputs, implicit)
        for decision in decisions:
            path = self._path_of[decision.label]
            lexicon = found.get(path)
            if lexicon is not None:  # evidence and opinion words from the lexicon's clauses
                kept.append(
                    lexicon.model_copy(update={"polarity": decision.polarity, "score": decision.score})
                )
                continue
            # An implicit mention: the clause whose features say most for the decision.
            evidence = clauses[evidence_of[decision.label]]
            kept.append(
                AspectMention.model_construct(
                    aspect=path,
                    polarity=decision.polarity,
                    score=decision.score,
                    opinion_words=tuple(self._model.opinion_words(evidence.tokens)[:8]),
                    evidence=evidence.text,
                    evidence_start=evidence.start,
                    evidence_end=evidence.end,
                )
            )
        return kept

    def _aspects_by_clause(self, text: str, clauses: list[Clause]) -> dict[int, list[str]]:
        """The aspect paths of the terms in each clause, by clause index (in text order)."""
        found: dict[int, list[str]] = {}
        starts = [clause.start for clause in clauses]
        for position, path in self._matcher.mentions(text):
            index = bisect_right(starts, position) - 1
            if index >= 0 and position < clauses[index].end:
                found.setdefault(index, []).append(path)
        return found

    def score(self, feedback: Feedback) -> ScoredFeedback:
        """Return ``feedback`` scored. Never raises on a valid Feedback."""
        analysis = self.analyze(feedback.text)
        overall = _overall_score(analysis.score if feedback.text else None, feedback.rating, feedback.nps)
        # model_construct: every field comes from a validated Feedback or from this function,
        # so validating again would only cost time (a third of this stage's pydantic work).
        return ScoredFeedback.model_construct(
            **dict(feedback),
            polarity=polarity_of(overall),
            score=overall,
            aspects=analysis.aspects,
            taxonomy_version=self.taxonomy_version,
            model_version=self.model_version,
        )


def _merge(scores: list[_ClauseScore]) -> AspectMention:
    """One mention per aspect: mean score; the most opinionated clause is the evidence."""
    if len(scores) == 1:  # the common case, without the generators below
        strongest = scores[0]
        mean = strongest.score
        words = list(strongest.opinion_words)
    else:
        mean = sum(s.score for s in scores) / len(scores)
        strongest = max(scores, key=lambda s: abs(s.score - 0.5))
        words = []
        for s in scores:
            words.extend(w for w in s.opinion_words if w not in words)
    # model_construct: every value is computed here within the schema's bounds (scores are
    # probabilities, offsets come from the clause split), so validating costs time for nothing.
    return AspectMention.model_construct(
        aspect=strongest.aspect,
        polarity=polarity_of(mean),
        score=round(mean, 6),
        opinion_words=tuple(words[:8]),
        evidence=strongest.clause.text,
        evidence_start=strongest.clause.start,
        evidence_end=strongest.clause.end,
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
