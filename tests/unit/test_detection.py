import hashlib
from dataclasses import replace
from datetime import UTC, datetime, timedelta

from config.alert_rules import AlertRules, ThresholdRule
from pipeline.detection.state import DetectorState
from pipeline.detection.windows import update_product_windows
from schemas.feedback import AspectMention, Origin, Polarity, ScoredFeedback
from tests.unit.conftest import T0, feedback

RULE = AlertRules(
    version=1,
    rules=(
        ThresholdRule(name="neg", metric="negative_share", window_seconds=3600, min_mentions=3, high=0.5),
    ),
)
NOW = datetime(2026, 11, 22, tzinfo=UTC)


def scored(
    n: int, aspect: str, polarity: Polarity, minutes: float = 0, text: str = "x", customer_ref: str = ""
) -> ScoredFeedback:
    # Each feedback comes from its own raw record (offset n), as in a real stream.
    origin = Origin(topic="raw", partition=0, offset=n, timestamp_ms=0)
    when = T0 + timedelta(minutes=minutes)
    base = feedback(text, feedback_id=f"f{n}", event_time=when, origin=origin, customer_ref=customer_ref)
    mention = AspectMention(
        aspect=aspect, polarity=polarity, score=0.1, evidence="x", evidence_start=0, evidence_end=1
    )
    return ScoredFeedback(
        **base.model_dump(),
        polarity=polarity,
        score=0.1,
        aspects=(mention,),
        taxonomy_version="t",
        model_version="m",
    )


def expected_id(rule: str, aspect: str, window_start: datetime) -> str:
    basis = f"{rule}|云杉|P1|{aspect}|{int(window_start.timestamp())}"
    return hashlib.sha256(basis.encode()).hexdigest()[:32]


def test_no_alert_below_the_minimum_sample() -> None:
    result = update_product_windows(None, [scored(1, "包装", -1), scored(2, "包装", -1)], RULE, NOW)
    assert result.alerts == []


def test_alert_once_the_sample_is_large_enough_and_share_is_above_band() -> None:
    batch = [scored(1, "包装/封口", -1), scored(2, "包装/封口", -1), scored(3, "包装/封口", 1)]
    result = update_product_windows(None, batch, RULE, NOW)
    by_aspect = {a.scope.aspect: a for a in result.alerts}
    assert sorted(by_aspect) == ["包装", "包装/封口"]  # the parent counts its children
    alert = by_aspect["包装/封口"]
    assert alert.alert_id == expected_id("neg", "包装/封口", T0)
    assert (alert.observed, alert.mentions, alert.band_high) == (round(2 / 3, 6), 3, 0.5)
    assert alert.sample_feedback_ids == ("f1", "f2")
    assert (alert.window_start, alert.window_end) == (T0, T0 + timedelta(hours=1))
    assert alert.routing_key == "云杉|P1"


def test_a_window_alerts_only_once_even_across_batches() -> None:
    first = update_product_windows(None, [scored(i, "包装", -1) for i in range(3)], RULE, NOW)
    assert len(first.alerts) == 1
    second = update_product_windows(first.state, [scored(9, "包装", -1)], RULE, NOW)
    assert second.alerts == []
    assert second.state.windows[f"3600|{int(T0.timestamp())}|包装"].mentions == 4


def test_state_is_not_modified_in_place() -> None:
    first = update_product_windows(None, [scored(1, "包装", -1)], RULE, NOW)
    snapshot = repr(first.state)
    update_product_windows(first.state, [scored(2, "包装", -1)], RULE, NOW)
    assert repr(first.state) == snapshot


def test_positive_window_raises_nothing() -> None:
    result = update_product_windows(None, [scored(i, "口味", 1) for i in range(5)], RULE, NOW)
    assert result.alerts == []


def test_old_windows_are_evicted_and_late_events_counted() -> None:
    state = update_product_windows(None, [scored(1, "包装", -1)], RULE, NOW).state
    later = update_product_windows(state, [scored(2, "包装", -1, minutes=180)], RULE, NOW)
    assert all(not key.startswith(f"3600|{int(T0.timestamp())}|") for key in later.state.windows)
    late = update_product_windows(later.state, [scored(3, "包装", -1)], RULE, NOW)
    assert late.late_events == 1


def test_low_band_and_mentions_metric() -> None:
    volume = ThresholdRule(name="vol", metric="mentions", window_seconds=60, min_mentions=1, high=2)
    rules = AlertRules(version=1, rules=(volume,))
    result = update_product_windows(None, [scored(i, "物流", 1) for i in range(3)], rules, NOW)
    assert [(a.rule, a.observed) for a in result.alerts] == [("vol", 3.0)]


def with_origin(item: ScoredFeedback, offset: int, partition: int = 0) -> ScoredFeedback:
    origin = item.origin.model_copy(update={"topic": "raw", "partition": partition, "offset": offset})
    return item.model_copy(update={"origin": origin})


def test_a_replayed_batch_is_not_counted_twice() -> None:
    batch = [with_origin(scored(i, "包装", -1), offset=i) for i in range(2)]
    first = update_product_windows(None, batch, RULE, NOW)
    # After a restart the same raw records come through again, as new messages.
    again = update_product_windows(first.state, batch, RULE, NOW)
    assert (again.replayed_events, again.alerts) == (2, [])
    assert again.state.windows[f"3600|{int(T0.timestamp())}|包装"].mentions == 2


def test_the_same_feedback_sent_again_is_not_counted_twice() -> None:
    # A second `make demo` re-sends the same reviews as new raw records: new offsets, same
    # feedback ids. Short anonymous texts escape the text check, so the id must catch them
    # (before this, a second demo run raised one more alert).
    first = update_product_windows(
        None, [with_origin(scored(1, "包装", -1, text="太差"), offset=1)], RULE, NOW
    )
    again = update_product_windows(
        first.state, [with_origin(scored(1, "包装", -1, text="太差"), offset=900)], RULE, NOW,
        first.counted.get,
    )  # fmt: skip
    assert (again.duplicate_events, again.replayed_events) == (1, 0)
    assert again.state.windows[f"3600|{int(T0.timestamp())}|包装"].mentions == 1


def test_offsets_are_tracked_per_raw_partition() -> None:
    first = update_product_windows(
        None, [with_origin(scored(1, "包装", -1), offset=5, partition=0)], RULE, NOW
    )
    other = update_product_windows(
        first.state, [with_origin(scored(2, "包装", -1), offset=3, partition=1)], RULE, NOW
    )
    assert other.replayed_events == 0
    assert other.state.windows[f"3600|{int(T0.timestamp())}|包装"].mentions == 2


def _counted(state: DetectorState) -> int:
    return state.windows[f"3600|{int(T0.timestamp()) // 3600 * 3600}|包装"].mentions


def test_same_text_from_the_same_customer_is_flagged_not_counted() -> None:
    text = "包装没有封口，汤洒了一地"
    batch = [
        scored(1, "包装", -1, text=text, customer_ref="c1"),
        scored(2, "包装", -1, text=text, customer_ref="c1"),
    ]
    result = update_product_windows(None, batch, RULE, NOW)
    assert result.duplicate_events == 1
    assert _counted(result.state) == 1
    # Across batches too: the caller's fingerprint store says it was counted.
    again = update_product_windows(
        result.state, [scored(3, "包装", -1, text=text, customer_ref="c1")], RULE, NOW, result.counted.get
    )
    assert again.duplicate_events == 1 and _counted(again.state) == 1


def test_same_text_from_other_customers_or_after_the_window_counts() -> None:
    text = "包装没有封口，汤洒了一地"
    batch = [
        scored(1, "包装", -1, text=text, customer_ref="c1"),
        scored(2, "包装", -1, text=text, customer_ref="c2"),
    ]
    result = update_product_windows(None, batch, RULE, NOW)
    assert result.duplicate_events == 0 and _counted(result.state) == 2
    later = update_product_windows(
        result.state, [scored(3, "包装", -1, minutes=61, text=text, customer_ref="c1")], RULE, NOW,
        result.counted.get,
    )  # fmt: skip
    assert later.duplicate_events == 0


def test_short_anonymous_texts_are_not_duplicates_of_each_other() -> None:
    batch = [scored(1, "包装", 1, text="包装好"), scored(2, "包装", 1, text="包装好")]
    result = update_product_windows(None, batch, RULE, NOW)
    assert result.duplicate_events == 0 and _counted(result.state) == 2
    long_text = "包装没有封口，汤洒了一地，太差了"
    spam = [scored(3, "包装", -1, text=long_text), scored(4, "包装", -1, text=long_text)]
    assert update_product_windows(None, spam, RULE, NOW).duplicate_events == 1


def test_the_state_holds_no_fingerprints_and_legacy_ones_move_to_the_store() -> None:
    text = "包装没有封口，汤洒了一地"
    result = update_product_windows(None, [scored(1, "包装", -1, text=text, customer_ref="c1")], RULE, NOW)
    assert result.state.legacy_fingerprints == {} and len(result.counted) == 2  # the id and the text
    # A state written before issue #15 kept them inline: still a duplicate, and handed over.
    legacy = replace(result.state, legacy_fingerprints=dict(result.counted))
    again = update_product_windows(legacy, [scored(2, "包装", -1, text=text, customer_ref="c1")], RULE, NOW)
    assert again.duplicate_events == 1 and set(result.counted) <= set(again.counted)
    assert again.state.legacy_fingerprints == {}


def test_social_mentions_count_in_the_same_windows_and_raise_alerts() -> None:
    # Issue #17: social posts go through the same detector, so a burst of negative posts
    # about a product raises its window alert like reviews do.
    posts = [
        ScoredFeedback(**{**scored(i, "包装", -1).model_dump(), "source": "social", "channel": "weibo"})
        for i in range(3)
    ]
    result = update_product_windows(None, posts, RULE, NOW)
    assert [(a.rule, a.scope.aspect, a.mentions) for a in result.alerts] == [("neg", "包装", 3)]
