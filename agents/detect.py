"""Detect agent: windowed counts per product in a Faust table, threshold alerts to ``{ns}.alerts``.

The table is keyed by the record key of ``{ns}.feedback.scored`` (``brand|product``) and
uses the producer's partitioner, so a key's changelog partition is the partition its
feedback arrives on: a worker that takes over a partition recovers exactly that state.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import faust

from agents._batch import BatchTimer, batches, publish_outcome
from pipeline.context import WorkerContext
from pipeline.stages import decode_batch, detect_batch
from pipeline.topics import WINDOWS_TABLE
from schemas.dead_letters import Stage
from schemas.feedback import ScoredFeedback
from sinks.kafka import KafkaPublisher, OutgoingRecord

__all__ = ["register_detect_agent"]

_STAGE: Stage = "detect"


def register_detect_agent(app: faust.App, ctx: WorkerContext, publisher: KafkaPublisher) -> None:
    """Add the windows table and the detect agent to ``app``."""
    topic = app.topic(ctx.topics.scored, key_type=bytes, value_type=bytes, value_serializer="raw")
    windows: Any = app.Table(
        WINDOWS_TABLE,
        default=None,
        key_type=bytes,
        partitions=ctx.settings.topic_partitions,
        use_partitioner=True,
    )
    rules = ctx.rules

    async def detect(stream: faust.StreamT[bytes]) -> None:
        async for records in batches(stream, ctx, _STAGE):
            timer = BatchTimer(ctx, _STAGE)
            decoded, outcome = decode_batch(records, ScoredFeedback, _STAGE, ctx.topics.dlq)
            keyed = [(item.message.partition_key.encode(), item.message) for _, item in decoded]
            states = {key: windows.get(key) for key, _ in keyed}
            result = detect_batch(keyed, states, rules, datetime.now(UTC))
            for key, state in result.states.items():
                windows[key] = state  # one changelog write per product per batch
            alerts = [
                OutgoingRecord(ctx.topics.alerts, a.scope.brand.encode(), a.model_dump_json().encode())
                for a in result.alerts
            ]
            await publish_outcome(publisher, outcome, ctx, _STAGE, extra=alerts)
            # Changelog writes are buffered by Faust: make them durable before the ack.
            await app.producer.flush()
            for alert in result.alerts:
                ctx.metrics.alerts_emitted.labels(alert.rule, alert.severity).inc()
            ctx.metrics.late_events.inc(result.late_events)
            ctx.metrics.replayed_events.inc(result.replayed_events)
            ctx.metrics.duplicate_events.inc(result.duplicate_events)
            for (rule, reason), count in result.suppressed.items():
                ctx.metrics.alerts_suppressed.labels(rule, reason).inc(count)
            timer.done()

    app.agent(topic, name="detect")(detect)
