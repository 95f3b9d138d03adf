"""How each kind of window rule reads a window: one class per rule kind. Pure.

A reading gets one window of a scope (its counts), the window's place (size, start,
dimension) and the scope's history (the other open windows and the closed windows' baselines),
and returns a :class:`Verdict`, or None where the window is too small to judge or the baseline
too young. Firing, suppression and alert building are the caller's
(:mod:`pipeline.detection.windows`); what a rule *means* is here.

Windows and baselines are the detector state's (pipeline.detection.state).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar, Generic, TypeVar

from config.alert_rules import EmergingRule, SpikeRule, ThresholdRule, VolumeRule, WindowRule
from pipeline.detection.state import Baseline, Window
from pipeline.detection.stats import binomial_upper_tail, poisson_upper_tail

__all__ = ["BASELINE_Z", "EWMA_ALPHA", "Verdict", "WindowView", "ewma_step", "metric_name", "reading_for"]

#: Baselines: exponentially weighted means over closed windows, with a plain mean while
#: fewer than 1/alpha windows are in (so that the first windows are not under-weighted).
EWMA_ALPHA = 0.1
#: Baselines are tested at their one-sided 95% upper bound (see _share_upper_bound).
BASELINE_Z = 1.645
# Pseudo-counts that keep a baseline share away from 0 and 1: a sub-aspect never seen before
# has a small expected share, not an impossible one.
_PRIOR_HITS, _PRIOR_TRIALS = 0.5, 1.0


@dataclass(frozen=True, slots=True)
class Verdict:
    """A rule's reading of one window: whether it fires and what it saw."""

    fires: bool
    observed: float
    expected: float | None = None
    reason: str = ""


@dataclass(frozen=True, slots=True)
class WindowView:
    """One window of a scope and the scope's history, as a rule reads them."""

    window: Window
    size: int
    start: int
    dimension: str
    """An aspect path, or ``@<channel>``."""
    windows: Mapping[str, Window]
    """Every open window of the detector, by ``<size>|<start>|<dimension>``."""
    baselines: Mapping[str, Baseline]
    """Closed windows folded, by ``<size>|<dimension>``."""

    def other_window(self, start: int, dimension: str) -> Window | None:
        """An open window of the same size."""
        return self.windows.get(f"{self.size}|{start}|{dimension}")

    def baseline(self, dimension: str | None = None) -> Baseline | None:
        """The baseline of this window's size for a dimension (this window's by default)."""
        return self.baselines.get(f"{self.size}|{self.dimension if dimension is None else dimension}")


R = TypeVar("R", bound=WindowRule)


class _Reading(Generic[R]):
    """The reading of one rule kind. Subclasses implement :meth:`judge` and set :attr:`metric`
    (or, where the rule names its metric, override :meth:`metric_of`)."""

    metric: ClassVar[str]

    def read(self, rule: R, view: WindowView) -> Verdict | None:
        """None below the rule's ``min_mentions``; else the kind's own judgement."""
        if view.window.mentions < rule.min_mentions:
            return None
        return self.judge(rule, view)

    def judge(self, rule: R, view: WindowView) -> Verdict | None:
        raise NotImplementedError

    def metric_of(self, rule: R) -> str:
        """The metric an alert of this rule reports."""
        return self.metric


class ThresholdReading(_Reading[ThresholdRule]):
    """A fixed band on a window metric: fires outside ``[low, high]``."""

    def judge(self, rule: ThresholdRule, view: WindowView) -> Verdict | None:
        observed = window_metric(view.window, rule.metric)
        if observed is None:
            return None
        outside = (rule.low is not None and observed < rule.low) or (
            rule.high is not None and observed > rule.high
        )
        return Verdict(outside, observed)

    def metric_of(self, rule: ThresholdRule) -> str:
        return rule.metric


class SpikeReading(_Reading[SpikeRule]):
    """Negative share against the scope's baseline share (binomial, one-sided)."""

    metric = "negative_share"

    def judge(self, rule: SpikeRule, view: WindowView) -> Verdict | None:
        """Binomial test of the window's negatives against the baseline share; where the
        previous window is still held, also of both pooled (a step that one window cannot
        prove yet, two can). Each test at half the rule's p-value (Bonferroni)."""
        baseline = view.baseline()
        if baseline is None or baseline.windows < rule.min_baseline_windows:
            return None
        window = view.window
        expected = _share(baseline.negative, baseline.mentions, baseline.windows)
        tested = _share_upper_bound(expected, baseline.mentions, baseline.windows)
        observed = window.negative / window.mentions
        p = binomial_upper_tail(window.negative, window.mentions, tested)
        reason = f"p={p:.2g} (binomial, one-sided)"
        previous = (
            view.other_window(view.start - view.size, view.dimension) if rule.pool_previous_window else None
        )
        if previous is not None:
            negative = window.negative + previous.negative
            mentions = window.mentions + previous.mentions
            pooled = binomial_upper_tail(negative, mentions, tested)
            if pooled < p and negative / mentions >= rule.min_ratio * expected:
                p, observed = pooled, negative / mentions
                reason = f"p={p:.2g} (binomial, one-sided, this and the previous window pooled)"
            p *= 2
        fires = p < rule.p_value and observed >= rule.min_ratio * expected
        return Verdict(fires, observed, expected, reason)


class VolumeReading(_Reading[VolumeRule]):
    """Mentions against the scope's baseline mean (Poisson, one-sided)."""

    metric = "mentions"

    def judge(self, rule: VolumeRule, view: WindowView) -> Verdict | None:
        baseline = view.baseline()
        if baseline is None or baseline.windows < rule.min_baseline_windows:
            return None
        mentions = view.window.mentions
        expected = max(baseline.mentions, 1.0)
        # Test against the mean's upper bound: a young baseline is an uncertain one.
        tested = expected + BASELINE_Z * math.sqrt(expected / _effective_windows(baseline.windows))
        p = poisson_upper_tail(mentions, tested)
        fires = p < rule.p_value and mentions >= rule.min_ratio * expected
        return Verdict(fires, float(mentions), expected, f"p={p:.2g} (Poisson, one-sided)")


class EmergingReading(_Reading[EmergingRule]):
    """A sub-aspect's share of its parent's mentions against its baseline share."""

    metric = "share_of_parent"

    def judge(self, rule: EmergingRule, view: WindowView) -> Verdict | None:
        if "/" not in view.dimension:
            return None
        parent_path = view.dimension.rsplit("/", 1)[0]
        parent = view.other_window(view.start, parent_path)
        parent_baseline = view.baseline(parent_path)
        if parent is None or parent_baseline is None or parent_baseline.windows < rule.min_baseline_windows:
            return None
        own = view.baseline() or Baseline()
        expected = _share(own.mentions, parent_baseline.mentions, parent_baseline.windows)
        tested = _share_upper_bound(expected, parent_baseline.mentions, parent_baseline.windows)
        window = view.window
        observed = window.mentions / parent.mentions
        p = binomial_upper_tail(window.mentions, parent.mentions, tested)
        fires = p < rule.p_value and observed >= max(rule.min_share, rule.min_ratio * expected)
        return Verdict(fires, observed, expected, f"share of {parent_path}; p={p:.2g} (binomial, one-sided)")


_READINGS: dict[str, _Reading[Any]] = {
    "threshold": ThresholdReading(),
    "spike": SpikeReading(),
    "volume": VolumeReading(),
    "emerging": EmergingReading(),
}


def reading_for(rule: WindowRule) -> _Reading[Any]:
    """The reading of the rule's kind."""
    return _READINGS[rule.kind]


def metric_name(rule: WindowRule) -> str:
    """The metric an alert of the rule reports (a threshold rule's own metric)."""
    return reading_for(rule).metric_of(rule)


def window_metric(window: Window, metric: str) -> float | None:
    """A threshold metric of a window; None where the window has no data for it."""
    mentions = window.mentions
    if metric == "negative_share":
        return float(window.negative / mentions)
    if metric == "mentions":
        return float(mentions)
    if metric == "average_score":
        return float(window.score_sum / mentions)
    if metric == "average_rating":
        return float(window.rating_sum / window.rated) if window.rated else None
    answered = int(window.promoters + window.passives + window.detractors)
    if not answered:
        return None
    return 100.0 * float(window.promoters - window.detractors) / answered


def ewma_step(baseline: Baseline, mentions: int, negative: int) -> None:
    """Fold one closed window into a baseline (the mean of all windows while young)."""
    baseline.windows += 1
    alpha = max(EWMA_ALPHA, 1 / baseline.windows)
    baseline.mentions += alpha * (mentions - baseline.mentions)
    baseline.negative += alpha * (negative - baseline.negative)


def _effective_windows(windows: int) -> int:
    """How many windows an EWMA baseline effectively averages: all of them while young,
    about 1/alpha once mature."""
    return max(1, min(windows, round(1 / EWMA_ALPHA)))


def _share(hits: float, trials: float, windows: int) -> float:
    """A baseline share from EWMAs of counts, smoothed by pseudo-counts (see _PRIOR_*)."""
    weight = _effective_windows(windows)
    return (hits * weight + _PRIOR_HITS) / (trials * weight + _PRIOR_TRIALS)


def _share_upper_bound(share: float, mentions_per_window: float, windows: int) -> float:
    """The share tests run against: its one-sided upper confidence bound, given how many
    mentions the baseline rests on. A baseline of four windows is an estimate; testing
    against its point value turned its noise into false alarms (scenario seed 3)."""
    trials = max(mentions_per_window * _effective_windows(windows), 1.0)
    return min(0.99, share + BASELINE_Z * math.sqrt(share * (1 - share) / trials))
