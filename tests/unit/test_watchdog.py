"""The stall watchdog: input waiting and no batch finished for the timeout means stalled."""

from __future__ import annotations

from prometheus_client import CollectorRegistry

from pipeline.runtime.metrics import PipelineMetrics
from pipeline.runtime.watchdog import ProgressWatchdog


class Clock:
    def __init__(self) -> None:
        self.now = 1_000.0

    def __call__(self) -> float:
        return self.now


def watchdog(timeout_s: float = 60) -> tuple[ProgressWatchdog, Clock, CollectorRegistry]:
    registry = CollectorRegistry()
    clock = Clock()
    dog = ProgressWatchdog(timeout_s, PipelineMetrics.create(registry), clock)
    dog.register("analyze", ["voc.feedback"])
    dog.register("store_feedback", ["voc.feedback.scored"])
    dog.register("detect", ["voc.feedback.scored"])
    dog.assigned([("voc.feedback", 0), ("voc.feedback.scored", 0), ("voc-pipeline-changelog", 0)])
    return dog, clock, registry


def stalled(registry: CollectorRegistry, stage: str, topic: str, partition: int = 0) -> float | None:
    labels = {"stage": stage, "topic": topic, "partition": str(partition)}
    return registry.get_sample_value("voc_partition_stalled", labels)


def test_a_stage_with_input_and_no_progress_for_the_timeout_is_stalled() -> None:
    dog, clock, registry = watchdog()
    ends = {("voc.feedback", 0): 100, ("voc.feedback.scored", 0): 50}
    starts = {("voc.feedback", 0): 0, ("voc.feedback.scored", 0): 0}
    assert dog.check(ends, starts) == []
    clock.now += 30
    dog.finished("analyze", {("voc.feedback", 0): 59})
    dog.finished("detect", {("voc.feedback.scored", 0): 49})
    clock.now += 45  # 75 s since the sink got the partition, 45 s since analyze's last batch
    [stall] = dog.check(ends, starts)
    assert (stall.stage, stall.topic, stall.partition, stall.lag) == (
        "store_feedback",
        "voc.feedback.scored",
        0,
        50,
    )
    assert stall.idle_s == 75
    assert dog.stalls() == [stall]
    assert stalled(registry, "store_feedback", "voc.feedback.scored") == 1
    assert stalled(registry, "analyze", "voc.feedback") == 0
    assert (
        registry.get_sample_value(
            "voc_consumer_lag_messages", {"stage": "analyze", "topic": "voc.feedback", "partition": "0"}
        )
        == 40
    )


def test_an_idle_partition_is_not_stalled_and_its_clock_starts_when_input_arrives() -> None:
    dog, clock, _ = watchdog()
    starts = {("voc.feedback", 0): 10, ("voc.feedback.scored", 0): 0}
    # Nothing waiting for an hour: the committed offset is the end.
    clock.now += 3_600
    assert dog.check({("voc.feedback", 0): 10, ("voc.feedback.scored", 0): 0}, starts) == []
    # Input arrives; 59 s later nothing is finished yet: not stalled before the timeout.
    clock.now += 59
    assert dog.check({("voc.feedback", 0): 20, ("voc.feedback.scored", 0): 0}, starts) == []
    clock.now += 2
    assert [s.stage for s in dog.check({("voc.feedback", 0): 20, ("voc.feedback.scored", 0): 0}, starts)] == [
        "analyze"
    ]


def test_a_rebalance_forgets_revoked_partitions_and_restarts_the_clock() -> None:
    dog, clock, registry = watchdog()
    ends = {("voc.feedback", 0): 100, ("voc.feedback.scored", 0): 0, ("voc.feedback", 1): 5}
    clock.now += 120
    assert [s.stage for s in dog.check(ends, {("voc.feedback", 0): 0})] == ["analyze"]
    dog.assigned([("voc.feedback", 1)])
    assert dog.stalls() == []
    assert stalled(registry, "analyze", "voc.feedback", 0) is None
    clock.now += 10
    assert dog.check(ends, {("voc.feedback", 1): 0}) == []
    clock.now += 60
    [stall] = dog.check(ends, {("voc.feedback", 1): 0})
    assert (stall.partition, stall.lag) == (1, 5)


def test_first_gap_finds_the_records_a_stream_skipped() -> None:
    from agents._batch import first_gap

    assert first_gap(None, [5, 6, 7]) is None  # nothing delivered before: no claim
    assert first_gap(400, [400, 401, 402]) is None
    assert first_gap(400, [380, 381]) is None  # delivered again after a seek back: fine
    # Measured after a restart on Kafka: 378-399 delivered, then 465 on; 400-464 never.
    assert first_gap(400, [465, 466]) == (400, 465)
    assert first_gap(None, [10, 11, 14, 15]) == (12, 14)
    assert first_gap(10, [12, 10, 11]) is None  # order within a batch does not matter
