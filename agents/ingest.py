"""Ingest agents, one per source topic: raw bytes → ScoredFeedback on ``{ns}.feedback.scored``.

Ingest and analysis run in one agent (one hop): the feedback goes from the raw record to its
scores in memory, without a topic, an encode and a decode between the two.
"""

from __future__ import annotations

import faust

from agents._batch import BatchTimer, batches, publish_outcome
from pipeline.ingest import Ingestor, ingest_chat, ingest_review, ingest_social, ingest_survey
from pipeline.runtime.context import WorkerContext
from pipeline.stages import score_batch
from sinks.kafka import KafkaPublisher

__all__ = ["register_ingest_agents"]


def register_ingest_agents(app: faust.App, ctx: WorkerContext, publisher: KafkaPublisher) -> None:
    """Add the four ingest-and-analyze agents (reviews, chats, surveys, social posts) to ``app``."""
    sources: list[tuple[str, str, Ingestor]] = [
        ("reviews", ctx.topics.reviews_raw, ingest_review),
        ("chats", ctx.topics.chats_raw, ingest_chat),
        ("surveys", ctx.topics.surveys_raw, ingest_survey),
        ("social", ctx.topics.social_raw, ingest_social),
    ]
    for name, topic_name, ingestor in sources:
        _register(app, ctx, publisher, name, topic_name, ingestor)


def _register(
    app: faust.App,
    ctx: WorkerContext,
    publisher: KafkaPublisher,
    name: str,
    topic_name: str,
    ingestor: Ingestor,
) -> None:
    topic = app.topic(topic_name, key_type=bytes, value_type=bytes, value_serializer="raw")
    stage = f"ingest_{name}"

    async def ingest(stream: faust.StreamT[bytes]) -> None:
        async for records in batches(stream, ctx, stage):
            timer = BatchTimer(ctx, stage)
            outcome = score_batch(
                records,
                ingestor,
                ctx.ingest,
                ctx.analyzer,
                ctx.topics.scored,
                ctx.topics.dlq,
                conversations_topic=ctx.topics.conversations if name == "chats" else None,
            )
            # Chats skip agent and bot turns; social posts the ones that name no known brand.
            skip_reason = "no_brand" if name == "social" else "not_customer_voice"
            await publish_outcome(publisher, outcome, ctx, stage, skip_reason=skip_reason)
            timer.done()

    app.agent(topic, name=f"ingest-{name}")(ingest)
