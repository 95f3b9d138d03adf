"""What every agent does around its stage logic: read a batch, publish, count."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Sequence
from typing import Any, cast

from faust.streams import Stream
from faust.types import EventT, StreamT

from pipeline.context import WorkerContext
from pipeline.records import RawRecord
from pipeline.stages import StageOutcome
from sinks.kafka import KafkaPublisher

__all__ = ["batches", "publish_outcome", "raw_record"]


def raw_record(event: EventT[bytes]) -> RawRecord:
    """The Kafka record behind a Faust event, as the pure stage functions take it."""
    message = event.message
    value: Any = message.value
    return RawRecord(
        topic=message.topic,
        partition=message.partition,
        offset=message.offset,
        timestamp_ms=int((message.timestamp or 0) * 1000),
        key=message.key if isinstance(message.key, bytes) or message.key is None else bytes(message.key),
        value=value if isinstance(value, bytes) else bytes(value or b""),
    )


async def batches(stream: StreamT[bytes], ctx: WorkerContext, stage: str) -> AsyncIterator[list[RawRecord]]:
    """Yield the stream in batches; ack a batch only once the caller's loop body that
    received it has returned.

    Faust's ``take()`` acks a batch even when the body raised (the agent crashed), which
    loses it. Here a batch whose body raised is never acked: its offsets are not committed
    and the next owner of the partition reads it again (at-least-once).
    """
    settings = ctx.settings
    # noack_take is on faust's Stream class but missing from its StreamT protocol.
    source = cast("Stream[bytes]", stream)
    ctx.watchdog.register(stage, cast(Any, source.channel).topics)
    async for events in source.noack_take(settings.batch_max_messages, within=settings.batch_max_wait_s):
        ctx.metrics.messages_in.labels(stage).inc(len(events))
        ctx.metrics.batch_size.labels(stage).observe(len(events))
        records = [raw_record(cast(EventT[bytes], e)) for e in events]
        yield records
        # Reached only when the body finished without raising.
        for event in events:
            await source.ack(cast(EventT[bytes], event))
        last: dict[tuple[str, int], int] = {}
        for record in records:
            key = (record.topic, record.partition)
            last[key] = max(last.get(key, -1), record.offset)
        ctx.watchdog.finished(stage, last)


async def publish_outcome(
    publisher: KafkaPublisher,
    outcome: StageOutcome,
    ctx: WorkerContext,
    stage: str,
    extra: Sequence[Any] = (),
) -> None:
    """Deliver outputs and dead letters (waiting for the broker), then count them."""
    await publisher.publish([*outcome.outputs, *outcome.dead_letters, *extra])
    ctx.metrics.messages_out.labels(stage).inc(len(outcome.outputs) + len(extra))
    for reason in outcome.dead_reasons:
        ctx.metrics.dead_letters.labels(stage, reason).inc()
    if outcome.skipped:
        ctx.metrics.skipped.labels(stage, "not_customer_voice").inc(outcome.skipped)


class BatchTimer:
    """Observes how long one batch took, for ``voc_batch_duration_seconds``."""

    def __init__(self, ctx: WorkerContext, stage: str):
        self._histogram = ctx.metrics.batch_seconds.labels(stage)
        self._started = time.perf_counter()

    def done(self) -> None:
        """Record the elapsed time."""
        self._histogram.observe(time.perf_counter() - self._started)
