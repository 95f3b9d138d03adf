"""Seeded alert scenarios and their evaluation (``voc scenario generate``, ``voc eval alerts``).

A scenario is many products, each with two aspects (包装 with its sub-aspects, 物流), whose
feedback is stationary (Poisson-like mentions per window, a fixed negative share) except
where an anomaly is injected: a step, a short spike, a slow drift of the negative share, an
emerging sub-aspect (包装/封口), a volume surge, or a few critical messages. The scenario
directory holds ``scenario.json`` (the generator's parameters: the stream is a pure function
of them) and ``truth.jsonl`` (one line per injected anomaly).

The evaluation streams the scenario through the detector the agent runs
(:func:`pipeline.detection.windows.update_product_windows`), a quarter window per batch, and scores
the alerts against the truth: recall per anomaly kind, false alarms per 1,000 stationary
scope-windows, and detection delay in windows.
"""

from __future__ import annotations

import json
import math
import random
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any, Literal

from config.alert_rules import AlertRules
from pipeline.detection.dedup import FingerprintStore
from pipeline.detection.state import DetectorState
from pipeline.detection.windows import update_product_windows
from schemas.alerts import Alert
from schemas.feedback import AspectMention, Origin, Polarity, ScoredFeedback

__all__ = ["Injection", "Scenario", "evaluate_alerts", "generate_scenario", "read_scenario", "write_scenario"]

SCENARIO_FORMAT = 1
AnomalyKind = Literal["step", "spike", "drift", "emerging", "volume", "critical"]
ANOMALY_KINDS: tuple[AnomalyKind, ...] = ("step", "spike", "drift", "emerging", "volume", "critical")
TOP_ASPECTS = ("包装", "物流")
_START = datetime(2026, 11, 2, tzinfo=UTC)
_BRAND = "场景"
# Under 包装: plain 包装 mentions, 包装/破损 (common), 包装/封口 (rare, unless emerging).
_PACKAGING_SPLIT = (("包装", 0.6), ("包装/破损", 0.39), ("包装/封口", 0.01))
_BATCHES_PER_WINDOW = 4
# Alerts this many windows after an injection's end still belong to it (the baseline and the
# open window catch up one window late).
_AFTERMATH_WINDOWS = 2


@dataclass(frozen=True, slots=True)
class Injection:
    """One injected anomaly: the truth a detector is scored against."""

    kind: AnomalyKind
    product: str
    aspect: str
    start: int
    """First window (index from the scenario start) the anomaly touches."""
    end: int
    """Last window it touches."""
    detectable_from: int
    """First window where it meets the goal's bar (negative share ≥ 2× baseline, or its
    volume or sub-aspect share); delay is counted from here."""
    factor: float
    critical_ids: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Scenario:
    """The parameters that determine the stream, and the injected anomalies."""

    seed: int
    products: int
    windows: int
    window_seconds: int
    warmup_windows: int
    injections: tuple[Injection, ...]

    def product_names(self) -> list[str]:
        """The product ids: P000, P001 and so on."""
        return [f"P{i:03d}" for i in range(self.products)]


def generate_scenario(
    seed: int = 7,
    products: int = 120,
    windows: int = 48,
    window_seconds: int = 3600,
    anomaly_share: float = 0.5,
) -> Scenario:
    """Draw which products get which anomaly, when; the rest stay stationary."""
    rng = random.Random(seed)
    warmup = 12
    injections: list[Injection] = []
    for index, product in enumerate(f"P{i:03d}" for i in range(products)):
        if rng.random() >= anomaly_share:
            continue
        kind = ANOMALY_KINDS[index % len(ANOMALY_KINDS)]
        start = rng.randrange(warmup, windows - 10)
        aspect = "包装/封口" if kind == "emerging" else rng.choice(TOP_ASPECTS)
        if kind == "step":
            injections.append(
                Injection(kind, product, aspect, start, windows - 1, start, rng.uniform(2.0, 3.0))
            )
        elif kind == "spike":
            injections.append(Injection(kind, product, aspect, start, start, start, rng.uniform(2.5, 3.5)))
        elif kind == "drift":
            # The share climbs linearly to 3× over 8 windows; it passes 2× in the 5th.
            injections.append(Injection(kind, product, aspect, start, windows - 1, start + 4, 3.0))
        elif kind == "emerging":
            injections.append(
                Injection(kind, product, aspect, start, start + 2, start, rng.uniform(0.25, 0.4))
            )
        elif kind == "volume":
            injections.append(Injection(kind, product, aspect, start, start, start, rng.uniform(2.5, 4.0)))
        else:
            ids = tuple(f"critical:{product}:{start}:{k}" for k in range(rng.randint(1, 3)))
            injections.append(Injection(kind, product, aspect, start, start, start, 1.0, ids))
    return Scenario(seed, products, windows, window_seconds, warmup, tuple(injections))


def write_scenario(scenario: Scenario, directory: Path) -> None:
    """``scenario.json`` (parameters) and ``truth.jsonl`` (injections) in ``directory``."""
    directory.mkdir(parents=True, exist_ok=True)
    parameters = {k: v for k, v in asdict(scenario).items() if k != "injections"}
    (directory / "scenario.json").write_text(
        json.dumps({"format": SCENARIO_FORMAT, **parameters}, indent=2) + "\n", encoding="utf-8"
    )
    with (directory / "truth.jsonl").open("w", encoding="utf-8") as handle:
        for injection in scenario.injections:
            handle.write(json.dumps(asdict(injection), ensure_ascii=False) + "\n")


def read_scenario(directory: Path) -> Scenario:
    """Read a scenario written by :func:`write_scenario`; ValueError says what is wrong."""
    try:
        parameters = json.loads((directory / "scenario.json").read_text(encoding="utf-8"))
        lines = (directory / "truth.jsonl").read_text(encoding="utf-8").splitlines()
    except FileNotFoundError as exc:
        raise ValueError(f"{directory} is not a scenario: {exc.filename} is missing") from exc
    except json.JSONDecodeError as exc:
        raise ValueError(f"{directory}/scenario.json is not JSON: {exc}") from exc
    if parameters.get("format") != SCENARIO_FORMAT:
        raise ValueError(
            f"{directory}: scenario format {parameters.get('format')!r}, expected {SCENARIO_FORMAT}"
        )
    try:
        injections = tuple(
            Injection(**{**json.loads(line), "critical_ids": tuple(json.loads(line)["critical_ids"])})
            for line in lines
            if line.strip()
        )
        return Scenario(
            seed=parameters["seed"],
            products=parameters["products"],
            windows=parameters["windows"],
            window_seconds=parameters["window_seconds"],
            warmup_windows=parameters["warmup_windows"],
            injections=injections,
        )
    except (KeyError, TypeError, json.JSONDecodeError) as exc:
        raise ValueError(f"{directory}: malformed scenario: {exc!r}") from exc


@dataclass(frozen=True, slots=True)
class _Profile:
    """A product's stationary behaviour per top aspect: mean mentions and negative share."""

    mentions: dict[str, float]
    negative_share: dict[str, float]


def _profile(scenario: Scenario, product: str) -> _Profile:
    rng = random.Random(f"{scenario.seed}|profile|{product}")
    return _Profile(
        mentions={a: rng.uniform(30, 150) for a in TOP_ASPECTS},
        negative_share={a: rng.uniform(0.05, 0.25) for a in TOP_ASPECTS},
    )


def _window_feedback(
    scenario: Scenario, product: str, profile: _Profile, window: int, injections: list[Injection], offset: int
) -> list[ScoredFeedback]:
    """Every feedback of one product in one window, in event-time order."""
    rng = random.Random(f"{scenario.seed}|{product}|{window}")
    start = _START + timedelta(seconds=window * scenario.window_seconds)
    items: list[tuple[float, str, Polarity, str, str]] = []  # (second, aspect, polarity, text, id)
    for top in TOP_ASPECTS:
        mean = profile.mentions[top]
        share = profile.negative_share[top]
        emerging_share = 0.0
        for injection in injections:
            if not injection.start <= window <= injection.end or not injection.aspect.startswith(top):
                continue
            if injection.kind in ("step", "spike"):
                share *= injection.factor
            elif injection.kind == "drift":
                share *= 1 + (injection.factor - 1) * min(1.0, (window - injection.start + 1) / 8)
            elif injection.kind == "volume":
                mean *= injection.factor
            elif injection.kind == "emerging":
                emerging_share = injection.factor
        count = max(0, round(rng.gauss(mean, math.sqrt(mean))))
        for _ in range(count):
            aspect = top
            if top == "包装":
                aspect = "包装/封口" if rng.random() < emerging_share else _pick(rng, _PACKAGING_SPLIT)
            negative = rng.random() < (0.8 if aspect == "包装/封口" and emerging_share else min(share, 0.95))
            polarity: Polarity = -1 if negative else (0 if rng.random() < 0.1 else 1)
            text = f"{aspect.split('/')[-1]}{'太差' if negative else '不错'}"
            items.append((rng.uniform(0, scenario.window_seconds), aspect, polarity, text, ""))
    for injection in injections:
        if injection.kind == "critical" and injection.start == window:
            for feedback_id in injection.critical_ids:
                items.append(
                    (rng.uniform(0, scenario.window_seconds), "物流", -1, "吃完过敏了,要投诉", feedback_id)
                )
    items.sort()
    out: list[ScoredFeedback] = []
    for n, (second, aspect, polarity, text, feedback_id) in enumerate(items):
        score = 0.15 if polarity == -1 else (0.5 if polarity == 0 else 0.85)
        mention = AspectMention.model_construct(
            aspect=aspect,
            polarity=polarity,
            score=score,
            opinion_words=(),
            evidence=text,
            evidence_start=0,
            evidence_end=len(text),
        )
        out.append(
            ScoredFeedback.model_construct(
                schema_version=1,
                feedback_id=feedback_id or f"scenario:{product}:{window}:{n}",
                source="review",
                channel="scenario",
                brand=_BRAND,
                product_sku=product,
                product_name="",
                variant="",
                customer_ref="",
                store_id=f"S-{product}",
                agent_id="",
                text=text,
                rating=None,
                nps=None,
                event_time=start + timedelta(seconds=second),
                origin=Origin.model_construct(
                    topic="scenario", partition=0, offset=offset + n, timestamp_ms=0
                ),
                polarity=polarity,
                score=score,
                aspects=(mention,),
                taxonomy_version="scenario",
                model_version="scenario",
            )
        )
    return out


def _pick(rng: random.Random, choices: tuple[tuple[str, float], ...]) -> str:
    roll = rng.random()
    for value, weight in choices:
        roll -= weight
        if roll < 0:
            return value
    return choices[-1][0]


def stream_alerts(scenario: Scenario, rules: AlertRules) -> Iterator[Alert]:
    """Run the scenario through the detector, window by window, a quarter window per batch."""
    states: dict[str, DetectorState | None] = {}
    fingerprints = FingerprintStore({}, rules.horizon_s)
    by_product: dict[str, list[Injection]] = {}
    for injection in scenario.injections:
        by_product.setdefault(injection.product, []).append(injection)
    profiles = {p: _profile(scenario, p) for p in scenario.product_names()}
    offset = 0
    for window in range(scenario.windows):
        for product in scenario.product_names():
            items = _window_feedback(
                scenario, product, profiles[product], window, by_product.get(product, []), offset
            )
            offset += len(items) + 1
            size = max(1, math.ceil(len(items) / _BATCHES_PER_WINDOW))
            for lo in range(0, len(items), size):
                batch = items[lo : lo + size]
                key = product.encode()
                result = update_product_windows(
                    states.get(product), batch, rules, batch[-1].event_time,
                    partial(fingerprints.last_counted, key),
                )  # fmt: skip
                states[product] = result.state
                fingerprints.add(key, result.counted, result.watermark)
                yield from result.alerts


def evaluate_alerts(scenario: Scenario, rules: AlertRules) -> dict[str, Any]:
    """Recall per anomaly kind, false alarms per 1,000 stationary scope-windows, delay."""
    started = time.perf_counter()
    alerts = list(stream_alerts(scenario, rules))
    size = scenario.window_seconds

    def window_of(alert: Alert) -> int:
        return int((alert.window_start - _START).total_seconds() // size)

    detected: dict[AnomalyKind, list[int | None]] = {kind: [] for kind in ANOMALY_KINDS}
    # Share anomalies by the baseline's negatives per window (mentions × share): with a
    # handful, no test can prove a doubling in one or two windows; the bar is statistical.
    by_negatives: dict[str, list[bool]] = {}
    critical_ids = {a.sample_feedback_ids[0] for a in alerts if a.kind == "critical_feedback"}
    window_alerts = [a for a in alerts if a.kind not in ("critical_feedback", "resolved")]
    for injection in scenario.injections:
        if injection.kind == "critical":
            found = all(i in critical_ids for i in injection.critical_ids)
            detected["critical"].append(0 if found else None)
            continue
        delays = [
            window_of(a) - injection.detectable_from
            for a in window_alerts
            if _matches(a, injection) and injection.detectable_from <= window_of(a) <= injection.end + 1
        ]
        detected[injection.kind].append(min(delays) if delays else None)
        if injection.kind in ("step", "spike", "drift"):
            profile = _profile(scenario, injection.product)
            negatives = profile.mentions[injection.aspect] * profile.negative_share[injection.aspect]
            bucket = "<5" if negatives < 5 else ("5-10" if negatives < 10 else "≥10")
            by_negatives.setdefault(bucket, []).append(bool(delays))
    false_alarms = [
        a for a in window_alerts if not any(_explained(a, i, window_of(a)) for i in scenario.injections)
    ]
    stationary = 0
    for product in scenario.product_names():
        for top in TOP_ASPECTS:
            for window in range(scenario.warmup_windows, scenario.windows):
                if not any(
                    i.product == product
                    and i.aspect.startswith(top)
                    and i.start <= window <= i.end + _AFTERMATH_WINDOWS
                    for i in scenario.injections
                ):
                    stationary += 1
    report: dict[str, Any] = {"alerts": len(alerts), "recall": {}, "detected": {}, "delay_windows": {}}
    for kind, outcomes in detected.items():
        hits = [d for d in outcomes if d is not None]
        report["recall"][kind] = round(len(hits) / len(outcomes), 4) if outcomes else None
        report["detected"][kind] = f"{len(hits)}/{len(outcomes)}"
        report["delay_windows"][kind] = (
            {"mean": round(sum(hits) / len(hits), 3), "max": max(hits)} if hits else None
        )
    report["share_recall_by_baseline_negatives_per_window"] = {
        bucket: f"{sum(hits)}/{len(hits)}" for bucket, hits in sorted(by_negatives.items())
    }
    report["false_alarms"] = len(false_alarms)
    report["stationary_scope_windows"] = stationary
    report["false_alarms_per_1000_scope_windows"] = round(1000 * len(false_alarms) / max(stationary, 1), 3)
    report["false_alarm_rules"] = dict(Counter(a.rule for a in false_alarms))
    report["seconds"] = round(time.perf_counter() - started, 1)
    return report


def _matches(alert: Alert, injection: Injection) -> bool:
    """Whether ``alert`` is the kind of alert that detects ``injection``, on its scope."""
    if alert.scope.product != injection.product:
        return False
    on_scope = alert.scope.aspect == injection.aspect or alert.scope.aspect.startswith(injection.aspect + "/")
    if injection.kind == "emerging":
        return alert.kind == "emerging" and alert.scope.aspect == injection.aspect
    if injection.kind == "volume":
        return alert.kind == "volume" and on_scope
    return alert.kind in ("spike", "threshold") and on_scope


def _explained(alert: Alert, injection: Injection, window: int) -> bool:
    """An alert on an injected scope during (or just after) the injection is not false."""
    top = injection.aspect.split("/")[0]
    return (
        alert.scope.product == injection.product
        and alert.scope.aspect.split("/")[0] == top
        and injection.start <= window <= injection.end + _AFTERMATH_WINDOWS
    )
