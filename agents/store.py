"""Sink agents: scored feedback and alerts → ClickHouse, in columnar batches.

The batch body returns only after ClickHouse acknowledged the insert, so Faust commits the
offsets of stored rows only (at-least-once; ReplacingMergeTree collapses replays).
"""

from __future__ import annotations

import time

import faust

from agents._batch import BatchTimer, batches, publish_outcome
from pipeline.context import WorkerContext
from pipeline.stages import build_rows, decode_batch
from schemas.alerts import Alert
from schemas.feedback import ScoredFeedback
from sinks.kafka import KafkaPublisher
from sinks.rows import alert_columns, feedback_columns, mention_columns

__all__ = ["register_store_agents"]


def register_store_agents(app: faust.App, ctx: WorkerContext, publisher: KafkaPublisher) -> None:
    """Add the feedback and alert sink agents to ``app``."""
    scored = app.topic(ctx.topics.scored, key_type=bytes, value_type=bytes, value_serializer="raw")
    alerts = app.topic(ctx.topics.alerts, key_type=bytes, value_type=bytes, value_serializer="raw")
    writer = ctx.writer
    latency = ctx.metrics.feedback_latency
    feedback_tables = {"feedback": feedback_columns, "aspect_mentions": mention_columns}
    alert_tables = {"alerts": alert_columns}

    async def store_feedback(stream: faust.StreamT[bytes]) -> None:
        stage = "store_feedback"
        async for records in batches(stream, ctx, stage):
            timer = BatchTimer(ctx, stage)
            decoded, outcome = decode_batch(records, ScoredFeedback, "sink", ctx.topics.dlq)
            tables = build_rows(decoded, feedback_tables, int(time.time() * 1000), outcome, ctx.topics.dlq)
            # Mentions first: a feedback row is the marker that its whole record is stored.
            await writer.insert("aspect_mentions", tables["aspect_mentions"])
            await writer.insert("feedback", tables["feedback"])
            stored_at_ms = int(time.time() * 1000)
            for _, item in decoded:
                latency.observe(max(0, stored_at_ms - item.message.origin.timestamp_ms) / 1000)
            await publish_outcome(publisher, outcome, ctx, stage)
            timer.done()

    async def store_alerts(stream: faust.StreamT[bytes]) -> None:
        stage = "store_alerts"
        async for records in batches(stream, ctx, stage):
            timer = BatchTimer(ctx, stage)
            decoded, outcome = decode_batch(records, Alert, "sink", ctx.topics.dlq)
            tables = build_rows(decoded, alert_tables, int(time.time() * 1000), outcome, ctx.topics.dlq)
            await writer.insert("alerts", tables["alerts"])
            await publish_outcome(publisher, outcome, ctx, stage)
            timer.done()

    app.agent(scored, name="store-feedback")(store_feedback)
    app.agent(alerts, name="store-alerts")(store_alerts)
