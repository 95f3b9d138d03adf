"""Windowed aspect counts per product and the threshold rule. Pure functions.

The state of one product (one Faust table key) is a JSON-serializable dict, updated once per
batch so that each batch costs one changelog write per product:

    {"watermark": <max event time seen, epoch s>,
     "origins": {"<raw topic>|<raw partition>": <highest raw offset counted>},
     "texts": {"<fingerprint>": <event time last counted, epoch s>},
     "windows": {"<window_s>|<window_start>|<aspect>": [mentions, negative, [alerted rules],
                                                        [negative feedback ids]]}}

Replays are not counted twice. Delivery is at least once, so after a restart the same raw
records can come through again as new feedback messages. Each raw partition is processed in
offset order, and one product's feedback keeps that order per raw partition, so a feedback
whose raw offset is not above the highest one counted for its raw partition is a replay.

Duplicates are flagged, not counted. The same text from the same author (customer, or the
channel when the customer is unknown) and source, for the same product, within the longest
rule window of the last time it was counted, is a duplicate (a review posted twice, a survey
submitted twice, copy-pasted spam): it adds nothing to the windows and is counted in
``duplicate_events``. A text of a few characters (好评, 还行) is common to many customers, so
without a customer it is not treated as a duplicate.

A mention of ``包装/封口`` also counts for ``包装``. A window is kept until the watermark is one
whole window past its end; events for an older window are late: counted, not applied.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from config.alert_rules import AlertRule
from schemas.alerts import Alert, AlertScope
from schemas.feedback import Polarity, ScoredFeedback

__all__ = ["DetectionResult", "alert_id", "text_fingerprint", "update_product_windows"]

_MAX_SAMPLES = 5
# Without a customer, texts shorter than this are too common to call a repeat a duplicate.
_ANONYMOUS_DUPLICATE_MIN_CHARS = 10


def text_fingerprint(feedback: ScoredFeedback) -> str | None:
    """What makes two feedback "the same text from the same source", hashed; None where
    the text cannot be told apart from other customers' (empty, or short and anonymous)."""
    text = feedback.text
    if not text or (not feedback.customer_ref and len(text) < _ANONYMOUS_DUPLICATE_MIN_CHARS):
        return None
    author = feedback.customer_ref or f"channel:{feedback.channel}"
    raw = "\x1f".join((feedback.source, author, text)).encode()
    return hashlib.blake2b(raw, digest_size=12).hexdigest()


ProductState = dict[str, Any]


@dataclass
class DetectionResult:
    """What one batch did to one product's state."""

    state: ProductState
    alerts: list[Alert] = field(default_factory=list)
    late_events: int = 0
    replayed_events: int = 0
    duplicate_events: int = 0


def alert_id(rule: str, scope: AlertScope, window_start: datetime) -> str:
    """Deterministic id: the same rule, scope and window always give the same id."""
    basis = f"{rule}|{scope.brand}|{scope.product}|{scope.aspect}|{int(window_start.timestamp())}"
    return hashlib.sha256(basis.encode()).hexdigest()[:32]


def _aspects_with_ancestors(feedback: ScoredFeedback) -> dict[str, Polarity]:
    """Each aspect path and its ancestors once; an ancestor takes its most negative child."""
    out: dict[str, Polarity] = {}
    for mention in feedback.aspects:
        parts = mention.aspect.split("/")
        for depth in range(1, len(parts) + 1):
            path = "/".join(parts[:depth])
            previous = out.get(path)
            out[path] = mention.polarity if previous is None else min(previous, mention.polarity)
    return out


def update_product_windows(
    state: ProductState | None,
    batch: Sequence[ScoredFeedback],
    rules: Iterable[AlertRule],
    now: datetime,
) -> DetectionResult:
    """Add ``batch`` (all of one brand and product) to the windows and evaluate ``rules``.

    Returns the new state (``state`` is not modified), the alerts to emit (at most one per
    rule, scope and window over the life of the state) and how many events were late.
    """
    rules = tuple(rules)
    windows: dict[str, list[Any]] = {
        k: [v[0], v[1], list(v[2]), list(v[3])] for k, v in (state or {}).get("windows", {}).items()
    }
    watermark: float = (state or {}).get("watermark", 0.0)
    origins: dict[str, int] = dict((state or {}).get("origins", {}))
    texts: dict[str, float] = dict((state or {}).get("texts", {}))
    sizes = sorted({r.window_seconds for r in rules})
    duplicate_horizon = sizes[-1] if sizes else 0
    result = DetectionResult(state={})
    touched: set[str] = set()
    for feedback in batch:
        origin = f"{feedback.origin.topic}|{feedback.origin.partition}"
        if feedback.origin.offset <= origins.get(origin, -1):
            result.replayed_events += 1
            continue
        origins[origin] = feedback.origin.offset
        t = feedback.event_time.timestamp()
        fingerprint = text_fingerprint(feedback)
        if fingerprint is not None:
            last = texts.get(fingerprint)
            if last is not None and abs(t - last) < duplicate_horizon:
                result.duplicate_events += 1
                continue
            texts[fingerprint] = t
        aspects = _aspects_with_ancestors(feedback)
        for size in sizes:
            start = int(t // size) * size
            if start + 2 * size <= watermark:
                result.late_events += 1
                continue
            for aspect, polarity in aspects.items():
                key = f"{size}|{start}|{aspect}"
                entry = windows.setdefault(key, [0, 0, [], []])
                entry[0] += 1
                if polarity == -1:
                    entry[1] += 1
                    if len(entry[3]) < _MAX_SAMPLES:
                        entry[3].append(feedback.feedback_id)
                touched.add(key)
        watermark = max(watermark, t)

    if batch:
        brand, product = batch[0].brand, batch[0].product_sku
        for key in sorted(touched):
            result.alerts.extend(_evaluate(key, windows[key], rules, brand, product, now))
    result.state = {
        "watermark": watermark,
        "origins": origins,
        "texts": {f: t for f, t in texts.items() if t + duplicate_horizon > watermark},
        "windows": {k: v for k, v in windows.items() if _window_end(k) + _window_size(k) > watermark},
    }
    return result


def _window_size(key: str) -> int:
    return int(key.split("|", 1)[0])


def _window_end(key: str) -> int:
    size, start, _ = key.split("|", 2)
    return int(start) + int(size)


def _evaluate(
    key: str, entry: list[Any], rules: tuple[AlertRule, ...], brand: str, product: str, now: datetime
) -> Iterable[Alert]:
    size_text, start_text, aspect = key.split("|", 2)
    size, start = int(size_text), int(start_text)
    mentions, negative, alerted, samples = entry
    for rule in rules:
        if rule.window_seconds != size or rule.name in alerted or mentions < rule.min_mentions:
            continue
        observed = negative / mentions if rule.metric == "negative_share" else float(mentions)
        below = rule.low is not None and observed < rule.low
        above = rule.high is not None and observed > rule.high
        if not (below or above):
            continue
        alerted.append(rule.name)
        scope = AlertScope(brand=brand, product=product, aspect=aspect)
        window_start = datetime.fromtimestamp(start, UTC)
        yield Alert(
            alert_id=alert_id(rule.name, scope, window_start),
            kind=rule.kind,
            rule=rule.name,
            severity=rule.severity,
            scope=scope,
            metric=rule.metric,
            observed=round(observed, 6),
            band_low=rule.low,
            band_high=rule.high,
            mentions=mentions,
            window_start=window_start,
            window_end=datetime.fromtimestamp(start + size, UTC),
            sample_feedback_ids=tuple(samples),
            created_at=now,
            routing_key=f"{brand}|{product}",
        )
