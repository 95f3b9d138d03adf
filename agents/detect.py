r"""Detect agents: windowed counts per product and brand in Faust tables, alerts to ``{ns}.alerts``.

The windows table holds each product's detector state in parts (pipeline.detection.state),
keyed ``brand|product`` and ``brand|product\x1f...``, all partitioned by the product part
with the producer's partitioner (pipeline.placement), so a key's changelog partition is the
partition of the product's keyed records: a worker that takes over a partition recovers
exactly that state. The fingerprints each product counted (pipeline.detection.dedup) are in a
table of their own, keyed and partitioned the same way; brands likewise.

Product windows are counted where the feedback is scored (agents.ingest, through
:class:`ProductDetection`) when the raw record is on its product's partition; the rest
arrives keyed by product on ``{ns}.feedback.repartition`` and is counted by the ``detect``
agent here. Each product batch's brand-level partial counts go to ``{ns}.windows.brand``,
where ``detect-brand`` merges them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
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
from schemas.records import OutgoingRecord, Stored
from schemas.windows import WindowDelta
from sinks.kafka import KafkaPublisher

__all__ = ["ProductDetection", "register_detect_agent"]

_STAGE: Stage = "detect"


@dataclass
class ProductDetection:
    """Counts scored feedback into its products' windows, in the worker that owns them.

    :meth:`count` is synchronous, so that no other agent of the worker reads or writes a
    product's state between its load and its save; :meth:`settle` publishes what counting
    produced and makes the changelog writes durable, to be awaited before the batch's ack.
    """

    app: faust.App
    ctx: WorkerContext
    publisher: KafkaPublisher
    windows: DetectorStateStore
    brand_windows: DetectorStateStore
    fingerprints: FingerprintStore

    def count(self, items: Sequence[Stored[ScoredFeedback]]) -> tuple[DetectOutcome, list[OutgoingRecord]]:
        """Update each product's windows with its feedback in ``items`` (each with the
        coordinates of the record it came on) and save the changed parts; returns the outcome
        and the brand window deltas to publish."""
        keyed = [(item.message.partition_key.encode(), item) for item in items]
        states = {key: self.windows.load(key) for key, _ in keyed}
        result = detect_batch(keyed, states, self.ctx.rules, datetime.now(UTC), self.fingerprints)
        self._save(self.windows, result)
        self.ctx.metrics.feedback_detected.inc(len(items))
        topic = self.ctx.topics.brand_windows
        deltas = [
            OutgoingRecord(topic, delta.brand.encode(), delta.model_dump_json().encode())
            for delta in result.deltas
        ]
        return result, deltas

    def count_brands(self, deltas: Sequence[WindowDelta]) -> DetectOutcome:
        """Merge each brand's window deltas into its windows and save the changed parts."""
        states = {d.brand.encode(): self.brand_windows.load(d.brand.encode()) for d in deltas}
        result = detect_brand_batch(deltas, states, self.ctx.rules, datetime.now(UTC))
        self._save(self.brand_windows, result)
        return result

    def _save(self, states: DetectorStateStore, result: DetectOutcome) -> None:
        for key, (state, changes) in result.states.items():
            states.save(key, state, changes)  # the parts the batch changed (changelog writes)
        for key, (counted, watermark) in result.counted.items():
            self.fingerprints.add(key, counted, watermark)  # what the batch added, and expiry

    async def settle(
        self,
        result: DetectOutcome,
        outcome: StageOutcome,
        stage: str,
        extra: Sequence[OutgoingRecord] = (),
        skip_reason: str = "not_customer_voice",
    ) -> None:
        """Publish ``outcome``'s records, ``extra`` and the alerts, flush the changelog writes,
        and count the detector's figures (and ``outcome``'s skips under ``skip_reason``).
        Returns once all of it is durable."""
        ctx = self.ctx
        alerts = [
            OutgoingRecord(ctx.topics.alerts, a.scope.brand.encode(), a.model_dump_json().encode())
            for a in result.alerts
        ]
        await publish_outcome(self.publisher, outcome, ctx, stage, [*alerts, *extra], skip_reason)
        # Changelog writes are buffered by Faust: make them durable before the ack.
        await self.app.producer.flush()
        for alert in result.alerts:
            ctx.metrics.alerts_emitted.labels(alert.rule, alert.severity).inc()
        ctx.metrics.late_events.inc(result.late_events)
        ctx.metrics.replayed_events.inc(result.replayed_events)
        ctx.metrics.duplicate_events.inc(result.duplicate_events)
        for (rule, reason), count in result.suppressed.items():
            ctx.metrics.alerts_suppressed.labels(rule, reason).inc(count)


def register_detect_agent(app: faust.App, ctx: WorkerContext, publisher: KafkaPublisher) -> ProductDetection:
    """Add the windows tables and the detect agents to ``app``: per product on the
    repartition topic, per brand (aspects over all products, and channels) on the window
    deltas; returns the product detection the ingest agents count with."""
    topic = app.topic(ctx.topics.repartition, key_type=bytes, value_type=bytes, value_serializer="raw")
    deltas_topic = app.topic(
        ctx.topics.brand_windows, key_type=bytes, value_type=bytes, value_serializer="raw"
    )

    # Several keys per scope (its state's parts, its fingerprints), all on the partition its
    # records arrive on, which the producer's partitioner picks (pipeline.placement).
    def co_partitioned(name: str, value_type: type[bytes] | None) -> Any:
        return app.tables.add(
            CoPartitionedTable(
                app, name=name, default=None, key_type=bytes, value_type=value_type,
                partitions=ctx.settings.topic_partitions, beacon=app.tables.beacon,
            )
        )  # fmt: skip

    detection = ProductDetection(
        app,
        ctx,
        publisher,
        DetectorStateStore(co_partitioned(WINDOWS_TABLE, bytes)),
        DetectorStateStore(co_partitioned(BRAND_WINDOWS_TABLE, bytes)),
        FingerprintStore(co_partitioned(FINGERPRINTS_TABLE, None), ctx.rules.horizon_s),
    )

    async def forget_decoded(sender: Any, *args: Any, **kwargs: Any) -> None:
        # The tables' content changes with the partitions this worker owns.
        detection.fingerprints.forget()
        detection.windows.forget()
        detection.brand_windows.forget()

    app.on_partitions_revoked.connect(cast(Any, forget_decoded))
    app.on_partitions_assigned.connect(cast(Any, forget_decoded))

    async def detect(stream: faust.StreamT[bytes]) -> None:
        async for records in batches(stream, ctx, _STAGE):
            timer = BatchTimer(ctx, _STAGE)
            decoded, outcome = decode_batch(records, ScoredFeedback, _STAGE, ctx.topics.dlq)
            result, deltas = detection.count([item for _, item in decoded])
            await detection.settle(result, outcome, _STAGE, deltas)
            timer.done()

    async def detect_brand(stream: faust.StreamT[bytes]) -> None:
        stage = "detect_brand"
        async for records in batches(stream, ctx, stage):
            timer = BatchTimer(ctx, stage)
            decoded, outcome = decode_batch(records, WindowDelta, _STAGE, ctx.topics.dlq)
            result = detection.count_brands([item.message for _, item in decoded])
            await detection.settle(result, outcome, _STAGE)
            timer.done()

    app.agent(topic, name="detect")(detect)
    app.agent(deltas_topic, name="detect-brand")(detect_brand)
    return detection
