"""The Faust-free baseline of ``voc bench``: the worker's stage functions in a minimal loop.

One process, one aiokafka consumer in a group of its own on the three raw topics:

    getmany (up to VOC_BATCH_MAX_MESSAGES) → score_batch (ingest + analyze) → publish the
    scored records and dead letters → detect_batch on product states and fingerprints in the
    worker's stores over plain dicts → publish the alerts → store feedback and mentions (the
    worker's record store and exactly-once inserter) → commit the batch's offsets

The stage functions, the publisher, the retry policy and the ClickHouse writer are the
worker's own; the data, broker and database are the bench's. What the loop leaves out is what
Faust costs the worker: its consumer, streams and acks, the table changelogs, the brand-level
detector, the alert and action sinks, the watchdog and the HTTP endpoints. The worker /
baseline ratio is therefore the price of those, not a like-for-like race. Not a runtime: a
crash here is not recovered.

Run as ``python -m pipeline.tools.bench_baseline`` with the worker's VOC_* environment; stops on
SIGTERM or SIGINT after the batch in hand.
"""

from __future__ import annotations

import asyncio
import logging
import signal
import time
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from config import Settings
from pipeline.detection.dedup import FingerprintStore
from pipeline.detection.state import DetectorStateStore
from pipeline.ingest import Ingestor, ingest_chat, ingest_review, ingest_survey
from pipeline.runtime.context import WorkerContext
from pipeline.runtime.kafka_connection import KafkaConnection
from pipeline.stages import detect_batch, score_batch
from schemas.feedback import ScoredFeedback
from schemas.records import OutgoingRecord, RawRecord, Stored
from sinks.exactly_once import ExactlyOnceInserter, stored_feedback
from sinks.kafka import KafkaPublisher
from sinks.record_store import RecordStore
from sinks.rows import SCORED_FEEDBACK_TABLES

__all__ = ["run_baseline"]

log = logging.getLogger(__name__)


def _ingestors(ctx: WorkerContext) -> dict[str, Ingestor]:
    topics = ctx.topics
    return {
        topics.reviews_raw: ingest_review,
        topics.chats_raw: ingest_chat,
        topics.surveys_raw: ingest_survey,
    }


async def _process(
    ctx: WorkerContext,
    records: Mapping[str, Sequence[RawRecord]],
    publisher: KafkaPublisher,
    store: RecordStore[ScoredFeedback],
    states: DetectorStateStore,
    fingerprints: FingerprintStore,
) -> int:
    """One batch through every stage; returns how many feedback rows it stored."""
    ingestors = _ingestors(ctx)
    scored: list[Stored[ScoredFeedback]] = []
    for topic, batch in records.items():
        outcome = score_batch(
            batch, ingestors[topic], ctx.ingest, ctx.analyzer, ctx.topics.scored, ctx.topics.dlq
        )
        await publisher.publish(outcome.to_publish(ctx.settings.dlq_payload))
        # As in the worker, the rows carry the raw record's coordinates.
        scored.extend(item for _, item, _ in outcome.scored)
    keyed = [(item.message.partition_key.encode(), item) for item in scored]
    current = {key: states.load(key) for key, _ in keyed}
    result = detect_batch(keyed, current, ctx.rules, datetime.now(UTC), fingerprints)
    for key, (state, changes) in result.states.items():
        states.save(key, state, changes)
    for key, (counted, watermark) in result.counted.items():
        fingerprints.add(key, counted, watermark)
    alerts = [
        OutgoingRecord(ctx.topics.alerts, a.scope.brand.encode(), a.model_dump_json().encode())
        for a in result.alerts
    ]
    await publisher.publish(alerts)
    replayed = await stored_feedback(ctx.writer.query, [item.message for item in scored])
    fresh = [item for i, item in enumerate(scored) if i not in replayed]
    rejected = await store.store(fresh, int(time.time() * 1000))
    return len(fresh) - len(rejected)


async def run_baseline(settings: Settings) -> None:
    """Run the loop until SIGTERM/SIGINT; commits after every stored batch."""
    ctx = WorkerContext.build(settings)
    topics = ctx.topics
    kafka = KafkaConnection.from_settings(settings)
    consumer = AIOKafkaConsumer(
        topics.reviews_raw, topics.chats_raw, topics.surveys_raw,
        **kafka.client_options(), group_id=f"{settings.app_id}-baseline",
        enable_auto_commit=False, auto_offset_reset="earliest",
        fetch_max_wait_ms=settings.consumer_fetch_max_wait_ms,
    )  # fmt: skip
    producer = AIOKafkaProducer(
        **kafka.client_options(),
        acks="all",
        enable_idempotence=True,
        linger_ms=settings.producer_linger_ms,
    )

    async def send(topic: str, key: bytes | None, value: bytes, headers: Any) -> Any:
        return await producer.send(topic, value, key=key, headers=headers)

    publisher = KafkaPublisher(send, ctx.retry)
    inserter = ExactlyOnceInserter(ctx.writer.query, ctx.writer.insert, ctx.metrics)
    store: RecordStore[ScoredFeedback] = RecordStore(
        list(SCORED_FEEDBACK_TABLES),
        inserter,
        ctx.writer.column_types,
        ctx.metrics,
    )
    states = DetectorStateStore({})
    fingerprints = FingerprintStore({}, ctx.rules.horizon_s)
    stopping = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stopping.set)
    await consumer.start()
    await producer.start()
    stored = 0
    try:
        while not stopping.is_set():
            fetched = await consumer.getmany(
                timeout_ms=int(settings.batch_max_wait_s * 1000), max_records=settings.batch_max_messages
            )
            if not fetched:
                continue
            records: dict[str, list[RawRecord]] = {}
            for tp, messages in fetched.items():
                records.setdefault(tp.topic, []).extend(
                    RawRecord(m.topic, m.partition, m.offset, m.timestamp, m.key, m.value or b"")
                    for m in messages
                )
            stored += await _process(ctx, records, publisher, store, states, fingerprints)
            await consumer.commit()  # only after the batch's rows and records are durable
    finally:
        log.warning("baseline loop stopping after %d stored feedback", stored)
        await consumer.stop()
        await producer.stop()
        ctx.writer.close()


def main() -> None:
    """Entry point: settings from the environment, read once."""
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    asyncio.run(run_baseline(Settings()))


if __name__ == "__main__":
    main()
