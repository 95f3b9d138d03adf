"""The rule kinds of issue #4 on hand-made windows: spike, volume, emerging, critical,
resolved, cooldown and the hourly cap."""

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from config.alert_rules import (
    AlertRules,
    CriticalRule,
    EmergingRule,
    SpikeRule,
    Suppression,
    ThresholdRule,
    VolumeRule,
)
from pipeline.detection.state import DetectorState
from pipeline.detection.windows import (
    DetectionResult,
    update_brand_windows,
    update_product_windows,
    window_delta,
)
from schemas.feedback import AspectMention, Origin, Polarity, ScoredFeedback
from tests.unit.conftest import T0, feedback

NOW = datetime(2026, 11, 22, tzinfo=UTC)


class Stream:
    """Feeds one product's state hour by hour, as the detect agent would."""

    def __init__(self, rules: AlertRules):
        self.rules = rules
        self.state: DetectorState | None = None
        self.offset = 0
        self.alerts: list[Any] = []
        self.suppressed: dict[tuple[str, str], int] = {}

    def item(
        self, hour: int, aspect: str, polarity: Polarity, text: str = "还行", score: float = 0.5, **extra: Any
    ) -> ScoredFeedback:
        self.offset += 1
        when = T0 + timedelta(hours=hour, seconds=self.offset % 3000)
        origin = Origin(topic="raw", partition=0, offset=self.offset, timestamp_ms=0)
        base = feedback(text, feedback_id=f"f{self.offset}", event_time=when, origin=origin, **extra)
        mention = AspectMention(
            aspect=aspect,
            polarity=polarity,
            score=score,
            evidence=text,
            evidence_start=0,
            evidence_end=len(text),
        )
        return ScoredFeedback(
            **base.model_dump(),
            polarity=polarity,
            score=score,
            aspects=(mention,),
            taxonomy_version="t",
            model_version="m",
        )

    def hour(self, hour: int, counts: dict[str, tuple[int, int]]) -> DetectionResult:
        """``counts``: aspect → (mentions, negative) in that hour."""
        batch = []
        for aspect, (mentions, negative) in counts.items():
            batch += [self.item(hour, aspect, -1 if i < negative else 1) for i in range(mentions)]
        return self.feed(batch)

    def feed(self, batch: list[ScoredFeedback]) -> DetectionResult:
        result = update_product_windows(self.state, batch, self.rules, NOW)
        self.state = result.state
        self.alerts += result.alerts
        for key, count in result.suppressed.items():
            self.suppressed[key] = self.suppressed.get(key, 0) + count
        return result


def _rules(*rules: Any, **suppression: Any) -> AlertRules:
    return AlertRules(version=1, rules=rules, suppression=Suppression(**suppression))


def test_spike_fires_on_a_significant_rise_over_the_baseline() -> None:
    stream = Stream(_rules(SpikeRule(name="spike", window_seconds=3600, min_mentions=30)))
    for hour in range(8):
        stream.hour(hour, {"包装": (40, 4)})  # 10% negative, stationary
    assert stream.alerts == []
    stream.hour(8, {"包装": (40, 16)})
    [alert] = stream.alerts
    assert (alert.kind, alert.scope.aspect, alert.observed) == ("spike", "包装", 0.4)
    assert alert.expected == pytest.approx(0.1, abs=0.01)
    assert "binomial" in alert.reason and len(alert.sample_feedback_ids) == 5
    assert alert.verbatims == ("还行",) * 5


def test_spike_respects_small_counts_and_needs_a_baseline() -> None:
    stream = Stream(_rules(SpikeRule(name="spike", window_seconds=3600, min_mentions=1)))
    stream.hour(0, {"包装": (3, 2)})  # no baseline yet
    for hour in range(1, 8):
        stream.hour(hour, {"包装": (40, 8)})  # 20%
    stream.hour(8, {"包装": (3, 2)})  # 2 of 3 negative: P = 0.10
    assert stream.alerts == []


def test_volume_surge() -> None:
    stream = Stream(_rules(VolumeRule(name="surge", window_seconds=3600, min_mentions=30)))
    for hour in range(8):
        stream.hour(hour, {"物流": (20, 2)})
    stream.hour(8, {"物流": (30, 3)})
    assert stream.alerts == []  # 1.5× is not a surge
    stream.hour(9, {"物流": (80, 8)})
    assert [(a.kind, a.observed) for a in stream.alerts] == [("volume", 80.0)]
    assert stream.alerts[0].expected == pytest.approx(21, abs=2)


def test_emerging_sub_aspect() -> None:
    rule = EmergingRule(name="emerging", window_seconds=3600, min_mentions=5)
    stream = Stream(_rules(rule))
    for hour in range(8):
        stream.hour(hour, {"包装/破损": (20, 2)})  # 包装 counts its children: 20 a window
    stream.hour(8, {"包装/破损": (20, 2), "包装/封口": (12, 10)})
    [alert] = stream.alerts
    assert (alert.kind, alert.scope.aspect, alert.metric) == ("emerging", "包装/封口", "share_of_parent")
    assert alert.observed == pytest.approx(12 / 32, abs=1e-6)


def test_critical_feedback_is_routed_to_the_front_line() -> None:
    rule = CriticalRule(
        name="critical",
        terms={"safety": ("过敏", "异物"), "churn": ("再也不买", "退货")},
        term_max_score={"churn": 0.4},
        detractor_max_score=0.2,
    )
    stream = Stream(_rules(rule))
    allergic = stream.item(0, "口味", -1, text="吃完过敏了,再也不买", score=0.1, store_id="S-17")
    detractor = stream.item(0, "服务", -1, text="服务很差", score=0.1, nps=2, customer_ref="c9")
    calm = stream.item(0, "服务", -1, text="服务一般", score=0.4, nps=5)
    happy = stream.item(0, "质量", 1, text="质量很好,不用退货", score=0.9)
    stream.feed([allergic, detractor, calm, happy])
    by_feedback = {a.sample_feedback_ids[0]: a for a in stream.alerts}
    assert set(by_feedback) == {allergic.feedback_id, detractor.feedback_id}
    first = by_feedback[allergic.feedback_id]
    assert (first.kind, first.severity, first.routing_key) == ("critical_feedback", "critical", "store:S-17")
    assert first.reason == "safety: 过敏; churn: 再也不买"
    assert by_feedback[detractor.feedback_id].routing_key == "customer:c9"
    # A replay of the same feedback gives the same alert id: consumers collapse it.
    again = Stream(_rules(rule))
    again.feed([allergic])
    assert again.alerts[0].alert_id == first.alert_id


@pytest.mark.parametrize(
    ("text", "reported"),
    [
        ("回复 醉在张裕中 蒙牛提醒喝多了会中毒", False),  # the demo's joke (issue #14)
        ("他说“吃了会中毒”,哈哈", False),
        ("不错//@某人:喝了中毒了", False),
        ("小心过敏", False),
        ("喝完就中毒了,太可怕", True),
        ("孩子喝了会过敏了", True),
        ("会中毒的东西也卖?我吃了中毒了", True),
        ("里面有异物", True),
    ],
)
def test_safety_terms_count_where_they_are_reported(text: str, reported: bool) -> None:
    rule = CriticalRule(
        name="critical",
        terms={"safety": ("中毒", "过敏", "异物"), "legal": ("投诉",)},
        reported_only=("safety",),
    )
    stream = Stream(_rules(rule))
    stream.feed([stream.item(0, "口味", -1, text=text, score=0.1)])
    assert bool(stream.alerts) is reported
    # Categories not listed in reported_only count as said: a threat is actionable.
    threat = Stream(_rules(rule))
    threat.feed([threat.item(0, "服务", -1, text="再不处理我就会去投诉", score=0.1)])
    assert threat.alerts[0].reason == "legal: 投诉"


def test_reported_only_names_known_categories() -> None:
    with pytest.raises(ValueError, match="reported_only names categories without terms: safety"):
        CriticalRule(name="c", terms={"legal": ("投诉",)}, reported_only=("safety",))


def test_resolved_after_the_scope_is_back_inside() -> None:
    rule = ThresholdRule(
        name="neg",
        metric="negative_share",
        window_seconds=3600,
        min_mentions=10,
        high=0.5,
        resolve_after_windows=2,
    )
    stream = Stream(_rules(rule))
    stream.hour(0, {"包装": (10, 8)})
    [opened] = stream.alerts
    for hour in range(1, 5):
        stream.hour(hour, {"包装": (10, 1)})
    resolved = [a for a in stream.alerts if a.kind == "resolved"]
    assert len(resolved) == 1
    assert resolved[0].resolves == opened.alert_id and resolved[0].rule == "neg"
    assert stream.state is not None and stream.state.open_alerts == {}


def test_cooldown_and_hourly_cap_suppress_and_count() -> None:
    threshold = ThresholdRule(
        name="neg",
        metric="negative_share",
        window_seconds=3600,
        min_mentions=5,
        high=0.5,
        cooldown_seconds=7200,
    )
    stream = Stream(_rules(threshold, max_alerts_per_hour=1))
    stream.hour(0, {"包装": (5, 5), "口味": (5, 5)})
    assert len(stream.alerts) == 1
    assert stream.suppressed == {("neg", "hourly_cap"): 1}
    stream.hour(1, {"包装": (5, 5)})  # within the cooldown of the hour-0 alert
    assert len(stream.alerts) == 1
    assert stream.suppressed[("neg", "cooldown")] == 1


def test_threshold_metrics_rating_score_and_nps() -> None:
    rules = _rules(
        ThresholdRule(name="rating", metric="average_rating", window_seconds=3600, low=3.0),
        ThresholdRule(name="nps", metric="nps", window_seconds=3600, low=0.0),
        ThresholdRule(name="score", metric="average_score", window_seconds=3600, low=0.3),
        ThresholdRule(
            name="scoped", metric="mentions", window_seconds=3600, high=0, scope={"aspect": "物流*"}
        ),
    )
    stream = Stream(rules)
    stream.feed([stream.item(0, "包装", -1, score=0.1, rating=1, nps=3) for _ in range(3)])
    assert sorted((a.rule, a.observed) for a in stream.alerts) == [
        ("nps", -100.0),
        ("rating", 1.0),
        ("score", pytest.approx(0.1)),
    ]


def test_brand_and_channel_windows_from_product_deltas() -> None:
    rules = _rules(
        SpikeRule(name="brand_spike", level="brand", window_seconds=3600, min_mentions=20),
        ThresholdRule(
            name="channel_neg", level="channel", metric="negative_share", window_seconds=3600,
            min_mentions=20, high=0.45,
        ),
        SpikeRule(name="product_spike", window_seconds=3600, min_mentions=20),  # level product
    )  # fmt: skip
    products = {sku: Stream(rules) for sku in ("P1", "P2")}
    brand_state: DetectorState | None = None
    brand_alerts = []
    offset = 0
    for hour in range(9):
        deltas = []
        for sku, stream in products.items():
            negative = 8 if hour == 8 else 1  # 15 mentions a product: only the brand has 30
            batch = [
                stream.item(hour, "包装", -1 if i < negative else 1, product_sku=sku, channel="tmall")
                for i in range(15)
            ]
            result = stream.feed(batch)
            offset += 1
            deltas.append(window_delta("云杉", sku, "scored|0", offset, result))
        merged = update_brand_windows(brand_state, deltas, rules, NOW)
        brand_state = merged.state
        brand_alerts += merged.alerts
        # A delta sent again (the product detector re-ran its batch) is not merged twice.
        again = update_brand_windows(brand_state, deltas[:1], rules, NOW)
        assert again.replayed_events == 1 and again.alerts == []
    assert all(a.kind != "spike" for s in products.values() for a in s.alerts)  # 15 < 20
    by_rule = {a.rule: a for a in brand_alerts}
    assert set(by_rule) == {"brand_spike", "channel_neg"}
    spike = by_rule["brand_spike"]
    assert (spike.scope.product, spike.scope.aspect, spike.mentions) == ("", "包装", 30)
    assert spike.window_start == T0 + timedelta(hours=8) and spike.routing_key == "云杉"
    channel = by_rule["channel_neg"]
    assert (channel.scope.channel, channel.scope.aspect) == ("tmall", "")
    assert channel.observed == pytest.approx(16 / 30, abs=1e-6)
    assert channel.routing_key == "云杉|@tmall"
