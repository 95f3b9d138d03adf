"""Ingest agents, one per source topic: raw bytes → scored, counted and stored feedback.

A batch of raw records goes through every per-feedback stage in memory, in one agent:

1. ingest and analysis (pipeline.stages.score_batch): validate, normalize, mask, score;
2. product windows (agents.detect.ProductDetection) for the feedback whose raw record is on
   its product's partition (pipeline.placement); the rest moves to that partition on
   ``{ns}.feedback.repartition``, and only those are read again;
3. publishing: the scored feedback on ``{ns}.feedback.scored`` (a contract for downstream
   services), conversation ends, dead letters, alerts, brand window deltas, moved feedback;
   flushed with the windows' changelog writes;
4. storing in ClickHouse (agents.store.FeedbackSink), waiting out an outage.

The batch is acked only after all of it is durable. Alerts of a batch go out before its
rows are stored, so a slow insert does not delay them; while ClickHouse is away, the agent
holds its input (backpressure) and alerting waits with it.
"""

from __future__ import annotations

import faust

from agents._batch import BatchTimer, batches, publish_outcome
from agents.detect import ProductDetection
from agents.store import FeedbackSink
from pipeline.ingest import Ingestor, ingest_chat, ingest_review, ingest_social, ingest_survey
from pipeline.runtime.context import WorkerContext
from pipeline.stages import StageOutcome, place_scored, score_batch
from sinks.kafka import KafkaPublisher

__all__ = ["register_ingest_agents"]


def register_ingest_agents(
    app: faust.App,
    ctx: WorkerContext,
    publisher: KafkaPublisher,
    detection: ProductDetection,
    sink: FeedbackSink,
) -> None:
    """Add the four ingest agents (reviews, chats, surveys, social posts) to ``app``."""
    sources: list[tuple[str, str, Ingestor]] = [
        ("reviews", ctx.topics.reviews_raw, ingest_review),
        ("chats", ctx.topics.chats_raw, ingest_chat),
        ("surveys", ctx.topics.surveys_raw, ingest_survey),
        ("social", ctx.topics.social_raw, ingest_social),
    ]
    for name, topic_name, ingestor in sources:
        _register(app, ctx, publisher, detection, sink, name, topic_name, ingestor)


def _register(
    app: faust.App,
    ctx: WorkerContext,
    publisher: KafkaPublisher,
    detection: ProductDetection,
    sink: FeedbackSink,
    name: str,
    topic_name: str,
    ingestor: Ingestor,
) -> None:
    topic = app.topic(topic_name, key_type=bytes, value_type=bytes, value_serializer="raw")
    stage = f"ingest_{name}"
    partitions = ctx.settings.topic_partitions
    repartition = ctx.topics.repartition
    # Chats skip agent and bot turns; social posts the ones that name no known brand.
    skip_reason = "no_brand" if name == "social" else "not_customer_voice"

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
            # The partition count the group's assignment was made with (None before the first).
            raw_partitions = app.consumer.topic_partitions(topic_name)
            here, moved = place_scored(outcome, raw_partitions, partitions, repartition)
            result, deltas = detection.count(here)
            await detection.settle(result, outcome, stage, [*deltas, *moved], skip_reason)
            ctx.metrics.feedback_repartitioned.labels(stage).inc(len(moved))
            rejected = StageOutcome()
            await sink.store_batch([(raw, item) for raw, item, _ in outcome.scored], rejected)
            if rejected.dead_letters:
                await publish_outcome(publisher, rejected, ctx, stage)
            timer.done()

    app.agent(topic, name=f"ingest-{name}")(ingest)
