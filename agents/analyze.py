"""Analyze agent: Feedback → ScoredFeedback (aspects, sentiment) on ``{ns}.feedback.scored``."""

from __future__ import annotations

import faust

from agents._batch import BatchTimer, batches, publish_outcome
from pipeline.context import WorkerContext
from pipeline.stages import analyze_batch
from sinks.kafka import KafkaPublisher

__all__ = ["register_analyze_agent"]

_STAGE = "analyze"


def register_analyze_agent(app: faust.App, ctx: WorkerContext, publisher: KafkaPublisher) -> None:
    """Add the analyze agent to ``app``."""
    topic = app.topic(ctx.topics.feedback, key_type=bytes, value_type=bytes, value_serializer="raw")

    async def analyze(stream: faust.StreamT[bytes]) -> None:
        async for records in batches(stream, ctx, _STAGE):
            timer = BatchTimer(ctx, _STAGE)
            outcome = analyze_batch(records, ctx.analyzer, ctx.topics.scored, ctx.topics.dlq)
            await publish_outcome(publisher, outcome, ctx, _STAGE)
            timer.done()

    app.agent(topic, name="analyze")(analyze)
