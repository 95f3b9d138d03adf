r"""Detect agent: windowed counts per product in a Faust table, threshold alerts to ``{ns}.alerts``.

The windows table holds each product's detector state in parts (pipeline.detection.state),
keyed ``brand|product`` (the record key of ``{ns}.feedback.scored``) and ``brand|product\x1f...``,
all partitioned by the product part with the producer's partitioner, so a key's changelog
partition is the partition its feedback arrives on: a worker that takes over a partition
recovers exactly that state. The fingerprints each product counted (pipeline.detection.dedup)
are in a table of their own, keyed and partitioned the same way; brands likewise.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, cast

import faust

from agents._batch import BatchTimer, batches, publish_outcome
from pipeline.detection.dedup import FingerprintStore
from pipeline.detection.state import DetectorStateStore
from pipeline.runtime.context import WorkerContext
from pipeline.runtime.faust_tables import CoPartitionedTable
from pipeline.runtime.topics import BRAND_WINDOWS_TABLE, FINGERPRINTS_TABLE, WINDOWS_TABLE
from pipeline.stages import DetectOutcome, StageOutcome, decode_batch, detect_batch, detect_brand_batch
from schemas.dead_letters import Stage
from schemas.feedback import ScoredFeedback
from schemas.records import OutgoingRecord
from schemas.windows import WindowDelta
from sinks.kafka import KafkaPublisher

__all__ = ["register_detect_agent"]

_STAGE: Stage = "detect"


def register_detect_agent(app: faust.App, ctx: WorkerContext, publisher: KafkaPublisher) -> None:
    """Add the windows tables and the detect agents to ``app``: per product on the scored
    topic, per brand (aspects over all products, and channels) on the window deltas the
    first publishes."""
    topic = app.topic(ctx.topics.scored, key_type=bytes, value_type=bytes, value_serializer="raw")
    deltas_topic = app.topic(
        ctx.topics.brand_windows, key_type=bytes, value_type=bytes, value_serializer="raw"
    )

    # Several keys per scope (its state's parts, its fingerprints), all on the partition its
    # records arrive on, which the producer's partitioner picks (pipeline.runtime.faust_tables).
    def co_partitioned(name: str, value_type: type[bytes] | None) -> Any:
        return app.tables.add(
            CoPartitionedTable(
                app, name=name, default=None, key_type=bytes, value_type=value_type,
                partitions=ctx.settings.topic_partitions, beacon=app.tables.beacon,
            )
        )  # fmt: skip

    windows = DetectorStateStore(co_partitioned(WINDOWS_TABLE, bytes))
    brand_windows = DetectorStateStore(co_partitioned(BRAND_WINDOWS_TABLE, bytes))
    rules = ctx.rules
    fingerprints = FingerprintStore(co_partitioned(FINGERPRINTS_TABLE, None), rules.horizon_s)

    async def forget_decoded(sender: Any, *args: Any, **kwargs: Any) -> None:
        # The tables' content changes with the partitions this worker owns.
        fingerprints.forget()
        windows.forget()
        brand_windows.forget()

    app.on_partitions_revoked.connect(cast(Any, forget_decoded))
    app.on_partitions_assigned.connect(cast(Any, forget_decoded))

    async def finish(
        states: DetectorStateStore, result: DetectOutcome, outcome: StageOutcome, extra: list[OutgoingRecord]
    ) -> None:
        for key, (state, changes) in result.states.items():
            states.save(key, state, changes)  # the parts the batch changed (changelog writes)
        for key, (counted, watermark) in result.counted.items():
            fingerprints.add(key, counted, watermark)  # what the batch added, and expiry
        alerts = [
            OutgoingRecord(ctx.topics.alerts, a.scope.brand.encode(), a.model_dump_json().encode())
            for a in result.alerts
        ]
        await publish_outcome(publisher, outcome, ctx, _STAGE, extra=alerts + extra)
        # Changelog writes are buffered by Faust: make them durable before the ack.
        await app.producer.flush()
        for alert in result.alerts:
            ctx.metrics.alerts_emitted.labels(alert.rule, alert.severity).inc()
        ctx.metrics.late_events.inc(result.late_events)
        ctx.metrics.replayed_events.inc(result.replayed_events)
        ctx.metrics.duplicate_events.inc(result.duplicate_events)
        for (rule, reason), count in result.suppressed.items():
            ctx.metrics.alerts_suppressed.labels(rule, reason).inc(count)

    async def detect(stream: faust.StreamT[bytes]) -> None:
        async for records in batches(stream, ctx, _STAGE):
            timer = BatchTimer(ctx, _STAGE)
            decoded, outcome = decode_batch(records, ScoredFeedback, _STAGE, ctx.topics.dlq)
            keyed = [(item.message.partition_key.encode(), item) for _, item in decoded]
            states = {key: windows.load(key) for key, _ in keyed}
            result = detect_batch(keyed, states, rules, datetime.now(UTC), fingerprints)
            deltas = [
                OutgoingRecord(ctx.topics.brand_windows, d.brand.encode(), d.model_dump_json().encode())
                for d in result.deltas
            ]
            await finish(windows, result, outcome, deltas)
            timer.done()

    async def detect_brand(stream: faust.StreamT[bytes]) -> None:
        stage = "detect_brand"
        async for records in batches(stream, ctx, stage):
            timer = BatchTimer(ctx, stage)
            decoded, outcome = decode_batch(records, WindowDelta, _STAGE, ctx.topics.dlq)
            deltas = [item.message for _, item in decoded]
            states = {d.brand.encode(): brand_windows.load(d.brand.encode()) for d in deltas}
            result = detect_brand_batch(deltas, states, rules, datetime.now(UTC))
            await finish(brand_windows, result, outcome, [])
            timer.done()

    app.agent(topic, name="detect")(detect)
    app.agent(deltas_topic, name="detect-brand")(detect_brand)
