"""Windows, baselines and alert rules for one product. Pure functions.

The state of one product (one Faust table key, ``brand|product``) is a JSON-serializable
dict, updated once per batch so that each batch costs one changelog write per product:

    {"watermark": <max event time seen, epoch s>,
     "origins": {"<raw topic>|<raw partition>": <highest raw offset counted>},
     "windows": {"<size>|<start>|<aspect>": <window: counts, sums, alerted rules, samples>},
     "baselines": {"<size>|<aspect>": <closed windows folded, EWMA of mentions/negatives>},
     "open": {"<rule>|<aspect>": {"alert_id": ..., "calm": <closed windows back inside>}},
     "cooldown": {"<rule>|<aspect>": <start of the window that last alerted>},
     "hourly": {"<hour start>": <window alerts emitted in that hour of event time>}}

Because baselines live in the same table as the windows, a restarted worker recovers them
from the changelog with the windows.

Replays are not counted twice. Delivery is at least once, so after a restart the same raw
records can come through again as new feedback messages. Each raw partition is processed in
offset order, and one product's feedback keeps that order per raw partition, so a feedback
whose raw offset is not above the highest one counted for its raw partition is a replay.

Duplicates are flagged, not counted. A feedback id counted within the longest window is the
same feedback sent again (new raw records, same source id: a connector re-sending a review;
a second ``make demo``). The same text from the same author (customer, or the channel when
the customer is unknown) and source, for the same product, within the longest window of the
last time it was counted, is a duplicate (a review posted twice, a survey
submitted twice, copy-pasted spam): it adds nothing to the windows and is counted in
``duplicate_events``. The fingerprints counted are not part of the state: the caller looks
them up (``last_counted``) and stores what a batch adds (``counted``) in a store of their own
(pipeline.detection.dedup), so the state stays bounded by the windows. A text of a few characters
(好评, 还行) is common to many customers, so without a customer it is not treated as a
duplicate.

A mention of ``包装/封口`` also counts for ``包装``. A window is kept until the watermark is one
whole window past its end (events for it until then are applied; older ones are late:
counted, not applied); then it is closed: folded into its scope's baseline, and open alerts
of its scope learn whether it was back inside.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from config.alert_rules import (
    AlertRules,
    SpikeRule,
    ThresholdRule,
    WindowLevel,
    WindowRule,
)
from pipeline.detection.alert_ids import alert_id, hashed_id
from pipeline.detection.critical import DETRACTOR_MAX, VERBATIM_CHARS, critical_alerts
from pipeline.detection.dedup import id_fingerprint, text_fingerprint
from pipeline.detection.rules import Verdict, WindowView, ewma_step, metric_name, reading_for
from pipeline.detection.state import (
    COUNT_FIELDS,
    Baseline,
    Changes,
    DetectorState,
    OpenAlert,
    Window,
    group_of,
)
from schemas.alerts import Alert, AlertScope
from schemas.feedback import Polarity, ScoredFeedback
from schemas.windows import WindowCounts, WindowDelta

__all__ = [
    "CHANNEL_PREFIX",
    "DetectionResult",
    "update_brand_windows",
    "update_product_windows",
    "window_delta",
]

_MAX_SAMPLES = 5
# Channel windows are keyed by "@" + channel where aspect windows have an aspect path.
CHANNEL_PREFIX = "@"
_PROMOTER_MIN = 9  # an NPS promoter scores 9-10 (Reichheld)


@dataclass
class DetectionResult:
    """What one batch did to one scope's state."""

    state: DetectorState
    changes: Changes = field(default_factory=Changes)
    """The parts of the state the batch changed (what the state store writes)."""
    alerts: list[Alert] = field(default_factory=list)
    late_events: int = 0
    replayed_events: int = 0
    duplicate_events: int = 0
    suppressed: dict[tuple[str, str], int] = field(default_factory=dict)
    """(rule, reason) → alerts not emitted; reason ``cooldown`` or ``hourly_cap``."""
    brand_windows: dict[str, Window] = field(default_factory=dict)
    """What the batch's counted feedback add to the brand's aspect and channel windows
    (product level only; published as a :class:`schemas.windows.WindowDelta`)."""
    max_event_time: float = 0.0
    counted: dict[str, float] = field(default_factory=dict)
    """The fingerprints (ids and texts) this batch counted, with their event times, for the
    caller's fingerprint store (pipeline.detection.dedup)."""

    @property
    def watermark(self) -> float:
        """The scope's watermark after the batch (the fingerprint store expires by it)."""
        return self.state.watermark


def _nothing_counted(fingerprint: str) -> float | None:
    return None


def _aspects_with_ancestors(feedback: ScoredFeedback) -> dict[str, tuple[Polarity, float, str]]:
    """Each aspect path and its ancestors once, with polarity, score and evidence; an
    ancestor takes its most negative child."""
    out: dict[str, tuple[Polarity, float, str]] = {}
    for mention in feedback.aspects:
        parts = mention.aspect.split("/")
        for depth in range(1, len(parts) + 1):
            path = "/".join(parts[:depth])
            previous = out.get(path)
            if previous is None or mention.polarity < previous[0]:
                out[path] = (mention.polarity, mention.score, mention.evidence)
    return out


def _add(window: Window, feedback: ScoredFeedback, polarity: Polarity, score: float, evidence: str) -> bool:
    """Count one feedback in ``window``; True if it became one of the window's samples."""
    window.mentions += 1
    if polarity == -1:
        window.negative += 1
    elif polarity == 0:
        window.neutral += 1
    else:
        window.positive += 1
    window.score_sum += score
    if feedback.rating is not None:
        window.rating_sum += feedback.rating
        window.rated += 1
    if feedback.nps is not None:
        if feedback.nps <= DETRACTOR_MAX:
            window.detractors += 1
        elif feedback.nps >= _PROMOTER_MIN:
            window.promoters += 1
        else:
            window.passives += 1
    sampled = False
    if len(window.samples) < _MAX_SAMPLES:
        window.samples.append([feedback.feedback_id, evidence[:VERBATIM_CHARS]])
        sampled = True
    if polarity == -1 and len(window.negative_samples) < _MAX_SAMPLES:
        window.negative_samples.append([feedback.feedback_id, evidence[:VERBATIM_CHARS]])
        sampled = True
    return sampled


def update_product_windows(
    state: DetectorState | None,
    batch: Sequence[ScoredFeedback],
    rules: AlertRules,
    now: datetime,
    last_counted: Callable[[str], float | None] = _nothing_counted,
) -> DetectionResult:
    """Add ``batch`` (all of one brand and product) to the windows and evaluate the
    product-level rules. ``last_counted`` says when a fingerprint was last counted for this
    product (event time), None if never; the result's ``counted`` holds those the batch adds.

    Returns the new state (``state`` is not modified) and the parts of it the batch changed,
    the alerts to emit (window alerts at most once per rule, scope and window over the life
    of the state; one critical alert per feedback; ``resolved`` events for alerts whose scope
    is back inside), counts of late, replayed, duplicate and suppressed events, and what the
    counted feedback add to the brand's aspect and channel windows.
    """
    new = state.copy() if state is not None else DetectorState()
    offsets = new.offsets
    sizes = rules.window_sizes
    horizon = rules.horizon_s
    result = DetectionResult(state=new)
    changes = result.changes
    # States written before issue #15 kept the fingerprints inline: they move to the store.
    counted = result.counted
    if state is not None:
        counted.update(state.legacy_fingerprints)

    def last(key: str) -> float | None:
        here, before = counted.get(key), last_counted(key)
        return before if here is None else here if before is None else max(here, before)

    touched: set[str] = set()
    for feedback in batch:
        origin = f"{feedback.origin.topic}|{feedback.origin.partition}"
        if feedback.origin.offset <= offsets.get(origin, -1):
            result.replayed_events += 1
            continue
        offsets[origin] = feedback.origin.offset
        t = feedback.event_time.timestamp()
        # A feedback id seen before is the same feedback sent again (a connector re-sending
        # a review); a known text from the same author is a duplicate. Neither counts again.
        keys = [id_fingerprint(feedback.feedback_id)]
        fingerprint = text_fingerprint(feedback)
        if fingerprint is not None:
            keys.append(fingerprint)
        if any((seen := last(key)) is not None and abs(t - seen) < horizon for key in keys):
            result.duplicate_events += 1
            continue
        for key in keys:
            counted[key] = t
        result.alerts.extend(critical_alerts(feedback, rules.critical_rules, now))
        aspects = _aspects_with_ancestors(feedback)
        for size in sizes:
            start = int(t // size) * size
            if _closed(size, start, new.watermark):
                result.late_events += 1
                continue
            changes.counts.add((size, start))
            for aspect, (polarity, score, evidence) in aspects.items():
                key = f"{size}|{start}|{aspect}"
                if _add(_window(new.windows, key), feedback, polarity, score, evidence):
                    changes.samples.add((size, start))
                _add(_window(result.brand_windows, key), feedback, polarity, score, evidence)
                touched.add(key)
            channel_key = f"{size}|{start}|{CHANNEL_PREFIX}{feedback.channel}"
            _add(
                _window(result.brand_windows, channel_key),
                feedback,
                feedback.polarity,
                feedback.score,
                feedback.text,
            )
        new.watermark = max(new.watermark, t)
        result.max_event_time = max(result.max_event_time, t)
    if batch:
        _judge(new, rules, ("product",), touched, batch[0].brand, batch[0].product_sku, result, now)
    _expire(new, rules)
    return result


def update_brand_windows(
    state: DetectorState | None, deltas: Sequence[WindowDelta], rules: AlertRules, now: datetime
) -> DetectionResult:
    """Merge the window deltas of one brand's products and evaluate the brand-level and
    channel-level rules (same windows, baselines, suppression and resolution as products).

    A delta whose (source, product) offset is not above the last one merged is a replay
    (the product detector re-ran a batch after a restart) and is skipped.
    """
    new = state.copy() if state is not None else DetectorState()
    merged = new.offsets
    result = DetectionResult(state=new)
    changes = result.changes
    touched: set[str] = set()
    for delta in deltas:
        source = f"{delta.source}|{delta.product}"
        if delta.offset <= merged.get(source, -1):
            result.replayed_events += 1
            continue
        merged[source] = delta.offset
        for key, counts in delta.windows.items():
            group = group_of(key)
            if _closed(*group, new.watermark):
                result.late_events += 1
                continue
            changes.counts.add(group)
            if _merge_counts(_window(new.windows, key), counts):
                changes.samples.add(group)
            touched.add(key)
        new.watermark = max(new.watermark, delta.max_event_time)
    if deltas:
        _judge(new, rules, ("brand", "channel"), touched, deltas[0].brand, "", result, now)
    _expire(new, rules)
    return result


def _judge(
    state: DetectorState,
    rules: AlertRules,
    levels: tuple[WindowLevel, ...],
    touched: set[str],
    brand: str,
    product: str,
    result: DetectionResult,
    now: datetime,
) -> None:
    """Evaluate the touched windows, then close those the watermark has passed."""
    judge = _Judge(rules, levels, state, result, now)
    for key in sorted(touched):
        judge.evaluate(key, brand, product)
    closing = sorted(
        (k for k in state.windows if _closed(*group_of(k), state.watermark)), key=lambda k: group_of(k)[1]
    )
    for key in closing:
        judge.close(key, brand, product)
    for key in closing:  # after all are judged: an emerging sub-aspect reads its parent
        del state.windows[key]
    if closing:
        result.changes.baselines = True


def _expire(state: DetectorState, rules: AlertRules) -> None:
    """Drop cooldowns that can no longer suppress and hour counts of past hours."""
    horizon = rules.horizon_s
    first_hour = int(state.watermark // 3600) * 3600 - 3600
    state.cooldown = {
        k: s for k, s in state.cooldown.items() if s + _cooldown_of(rules, k) + horizon > state.watermark
    }
    state.hourly = {h: n for h, n in state.hourly.items() if int(h) >= first_hour}


def _window(windows: dict[str, Window], key: str) -> Window:
    window = windows.get(key)
    if window is None:
        window = windows[key] = Window()
    return window


def _merge_counts(window: Window, counts: WindowCounts) -> bool:
    """Add a delta's counts to ``window``; True if it took samples from it."""
    for name in COUNT_FIELDS:
        setattr(window, name, getattr(window, name) + getattr(counts, name))
    sampled = False
    for mine, theirs in (
        (window.samples, counts.samples),
        (window.negative_samples, counts.negative_samples),
    ):
        room = _MAX_SAMPLES - len(mine)
        if room > 0 and theirs:
            mine.extend([list(sample) for sample in theirs[:room]])
            sampled = True
    return sampled


def window_delta(brand: str, product: str, source: str, offset: int, result: DetectionResult) -> WindowDelta:
    """The :class:`WindowDelta` a product batch publishes for its brand."""
    return WindowDelta(
        brand=brand,
        product=product,
        source=source,
        offset=offset,
        max_event_time=result.max_event_time,
        windows={
            key: WindowCounts.model_validate(
                {
                    **{n: getattr(w, n) for n in COUNT_FIELDS},
                    "samples": w.samples,
                    "negative_samples": w.negative_samples,
                }
            )
            for key, w in result.brand_windows.items()
        },
    )


class _Judge:
    """Evaluates window rules on open windows and closes old ones (one batch, one product)."""

    def __init__(
        self,
        rules: AlertRules,
        levels: tuple[WindowLevel, ...],
        state: DetectorState,
        result: DetectionResult,
        now: datetime,
    ):
        self.rules = rules
        self.levels = levels
        self.state = state
        self.windows = state.windows
        self.baselines = state.baselines
        self.open_alerts = state.open_alerts
        self.result = result
        self.now = now

    def _rules_for(self, brand: str, product: str, aspect: str) -> Iterator[WindowRule]:
        """The window rules of this detector's levels that watch the scope."""
        # Plain strings, not an AlertScope: this runs for every touched window of every batch.
        channel = aspect[len(CHANNEL_PREFIX) :] if aspect.startswith(CHANNEL_PREFIX) else ""
        level = "channel" if channel else ("product" if product else "brand")
        if level not in self.levels:
            return
        if channel:
            product, aspect = "", ""
        for rule in self.rules.window_rules:
            if rule.level == level and rule.scope.matches(brand, product, aspect, channel):
                yield rule

    def evaluate(self, key: str, brand: str, product: str) -> None:
        """Fire each rule the window now meets, once per window."""
        size, start, aspect = _parse(key)
        window = self.windows[key]
        for rule in self._rules_for(brand, product, aspect):
            if rule.window_seconds != size or rule.name in window.alerted:
                continue
            verdict = self._verdict(rule, window, size, start, aspect)
            if verdict is None or not verdict.fires:
                continue
            window.alerted.append(rule.name)  # judged once, emitted or suppressed
            reason = self._suppression(rule, aspect, start)
            if reason:
                counts = self.result.suppressed
                counts[(rule.name, reason)] = counts.get((rule.name, reason), 0) + 1
                continue
            alert = self._alert(rule, verdict, window, _scope(brand, product, aspect), size, start)
            self.result.alerts.append(alert)
            if rule.resolve_after_windows:
                self.open_alerts[f"{rule.name}|{aspect}"] = OpenAlert(alert.alert_id)

    def close(self, key: str, brand: str, product: str) -> None:
        """Fold a window that can no longer change into its baseline and into the open
        alerts of its scope."""
        size, start, aspect = _parse(key)
        window = self.windows[key]
        for rule in self._rules_for(brand, product, aspect):
            tracked = self.open_alerts.get(f"{rule.name}|{aspect}")
            if tracked is None or rule.window_seconds != size:
                continue
            verdict = self._verdict(rule, window, size, start, aspect)
            if verdict is None:
                continue  # too few mentions to say either way
            tracked.calm = 0 if verdict.fires else tracked.calm + 1
            if tracked.calm >= rule.resolve_after_windows:
                del self.open_alerts[f"{rule.name}|{aspect}"]
                self.result.alerts.append(
                    self._resolved(
                        rule,
                        tracked.alert_id,
                        verdict,
                        window,
                        _scope(brand, product, aspect),
                        size,
                        start,
                    )
                )
        self._fold(size, start, aspect, window)

    def _fold(self, size: int, start: int, aspect: str, window: Window) -> None:
        baseline = self.baselines.get(f"{size}|{aspect}")
        if baseline is None:
            baseline = self.baselines[f"{size}|{aspect}"] = Baseline(last=start - size)
        # Windows without a mention of the aspect were never stored: fold them as zeros.
        empty = min(max(0, (start - baseline.last) // size - 1), 100)
        for _ in range(empty):
            ewma_step(baseline, 0, 0)
        ewma_step(baseline, window.mentions, window.negative)
        baseline.last = max(baseline.last, start)

    def _verdict(
        self, rule: WindowRule, window: Window, size: int, start: int, aspect: str
    ) -> Verdict | None:
        """The rule kind's reading of the window (pipeline.detection.rules)."""
        view = WindowView(window, size, start, aspect, self.windows, self.baselines)
        return reading_for(rule).read(rule, view)

    def _suppression(self, rule: WindowRule, aspect: str, start: int) -> str:
        last = self.state.cooldown.get(f"{rule.name}|{aspect}")
        if last is not None and last != start and abs(start - last) < rule.cooldown_seconds:
            return "cooldown"
        hour = str(start // 3600 * 3600)
        if self.state.hourly.get(hour, 0) >= self.rules.suppression.max_alerts_per_hour:
            return "hourly_cap"
        self.state.hourly[hour] = self.state.hourly.get(hour, 0) + 1
        self.state.cooldown[f"{rule.name}|{aspect}"] = start
        return ""

    def _alert(
        self,
        rule: WindowRule,
        verdict: Verdict,
        window: Window,
        scope: AlertScope,
        size: int,
        start: int,
    ) -> Alert:
        negative_metric = isinstance(rule, SpikeRule) or (
            isinstance(rule, ThresholdRule) and rule.metric == "negative_share"
        )
        samples = window.negative_samples if negative_metric else window.samples
        return Alert(
            alert_id=alert_id(rule.name, scope, datetime.fromtimestamp(start, UTC)),
            kind=rule.kind,
            severity=rule.severity,
            sample_feedback_ids=tuple(s[0] for s in samples),
            verbatims=tuple(s[1] for s in samples),
            reason=verdict.reason,
            **self._window_fields(rule, verdict, window, scope, size, start),
        )

    def _resolved(
        self,
        rule: WindowRule,
        resolves: str,
        verdict: Verdict,
        window: Window,
        scope: AlertScope,
        size: int,
        start: int,
    ) -> Alert:
        return Alert(
            alert_id=hashed_id(f"resolved|{resolves}"),
            kind="resolved",
            severity="info",
            reason=f"back inside for {rule.resolve_after_windows} closed windows",
            resolves=resolves,
            **self._window_fields(rule, verdict, window, scope, size, start),
        )

    def _window_fields(
        self, rule: WindowRule, verdict: Verdict, window: Window, scope: AlertScope, size: int, start: int
    ) -> dict[str, Any]:
        """The fields an alert and a resolution of a window rule share."""
        return {
            "rule": rule.name,
            "scope": scope,
            "metric": metric_name(rule),
            "observed": round(verdict.observed, 6),
            "expected": None if verdict.expected is None else round(verdict.expected, 6),
            "band_low": rule.low if isinstance(rule, ThresholdRule) else None,
            "band_high": rule.high if isinstance(rule, ThresholdRule) else None,
            "mentions": window.mentions,
            "window_start": datetime.fromtimestamp(start, UTC),
            "window_end": datetime.fromtimestamp(start + size, UTC),
            "created_at": self.now,
            "routing_key": "|".join(
                part
                for part in (scope.brand, scope.product, scope.channel and CHANNEL_PREFIX + scope.channel)
                if part
            ),
        }


def _scope(brand: str, product: str, dimension: str) -> AlertScope:
    """The scope of a window: its dimension is an aspect path or ``@<channel>``."""
    if dimension.startswith(CHANNEL_PREFIX):
        return AlertScope(brand=brand, channel=dimension[len(CHANNEL_PREFIX) :])
    return AlertScope(brand=brand, product=product, aspect=dimension)


def _cooldown_of(rules: AlertRules, key: str) -> int:
    name = key.split("|", 1)[0]
    return max((r.cooldown_seconds for r in rules.window_rules if r.name == name), default=0)


def _parse(key: str) -> tuple[int, int, str]:
    size, start, aspect = key.split("|", 2)
    return int(size), int(start), aspect


def _closed(size: int, start: int, watermark: float) -> bool:
    """A window is kept until the watermark is one whole window past its end; then it is
    closed, and an event for it is late."""
    return start + 2 * size <= watermark
