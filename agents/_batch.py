"""What every agent does around its stage logic: read a batch, publish, count."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Sequence
from typing import Any, cast

from faust.streams import Stream
from faust.types import EventT, StreamT

from pipeline.runtime.context import WorkerContext
from pipeline.stages import StageOutcome
from schemas.records import RawRecord
from sinks.kafka import KafkaPublisher

__all__ = ["batches", "publish_outcome", "raw_record"]

log = logging.getLogger(__name__)


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


async def _take_events(
    stream: Stream[bytes], max_: int, within_s: float
) -> AsyncIterator[list[EventT[bytes]]]:
    """Faust's ``noack_take`` without its lost-event race: up to ``max_`` events, or what came
    within ``within_s``; acks nothing (the caller does).

    Faust fills the buffer from a background drainer while the caller holds a batch. Its own
    version lets an event that was waiting for one batch to be consumed reset the guard of
    the *next* batch and be appended while that batch is held; the batch's cleanup then
    drops it without processing or acking it, and the partition's commits stop at its
    offset. A hazard found reading Faust's code, not isolated by a measurement (the restart
    losses first blamed on it were Faust's recovery, see pipeline/runtime/faust_recovery.py). Here
    the drainer waits while any batch is held, and the guard is cleared only by the
    consumer. The rest follows faust.streams.Stream.noack_take.
    """
    buffer: list[EventT[bytes]] = []
    full = asyncio.Event()
    consumed = asyncio.Event()
    holding: asyncio.Future[None] | None = None
    channel_it = aiter(stream.channel)

    async def add_to_buffer(value: bytes) -> bytes:
        try:
            while holding is not None:
                await asyncio.shield(holding)
            event = stream.current_event
            if event is None:
                raise RuntimeError("take buffer found no current event")
            buffer.append(cast(EventT[bytes], event))
            if len(buffer) >= max_:
                full.set()
                consumed.clear()
                await stream.wait(consumed)  # type: ignore[arg-type]
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            log.exception("error adding to the take buffer: %r", exc)
            await stream.crash(exc)
        return value

    acks_were_enabled = stream.enable_acks
    stream.enable_acks = False
    stream.add_processor(add_to_buffer)
    stream._enable_passive(cast(Any, channel_it))
    try:
        while not stream.should_stop:
            await stream.wait_for_stopped(full, timeout=within_s)  # type: ignore[arg-type]
            if buffer:
                holding = asyncio.get_running_loop().create_future()
                try:
                    yield list(buffer)
                finally:
                    buffer.clear()
                    released, holding = holding, None
                    released.set_result(None)
                    full.clear()
                    consumed.set()
    finally:
        stream.enable_acks = acks_were_enabled
        stream._processors.remove(add_to_buffer)


def first_gap(position: int | None, offsets: Sequence[int]) -> tuple[int, int] | None:
    """The first range of offsets ``[start, end)`` a stream skipped, given the position after
    the last offset it delivered before (None: nothing yet) and the offsets of one batch.

    The pipeline's topics are neither compacted nor written in transactions, so their offsets
    have no holes: a skipped range is records the stream lost.
    """
    expected = position
    for offset in sorted(offsets):
        if expected is not None and offset > expected:
            return expected, offset
        expected = offset + 1 if expected is None else max(expected, offset + 1)
    return None


def report_gap(ctx: WorkerContext, stage: str, topic: str, partition: int, hole: tuple[int, int]) -> None:
    """Count and log a range of records the stream skipped, and fail ``/livez``.

    A guard, not a cure: the cause found so far (Faust's recovery clearing the agents' queues
    after the fetcher had delivered into them, pipeline/runtime/faust_recovery.py) is closed. A
    skipped record is never acked, so the partition's commits stop at it and the next owner
    reads it again; Faust drops records below the offset it last delivered, so seeking back
    inside the worker would not deliver it. The worker reports itself unhealthy and its
    supervisor restarts it.
    """
    ctx.metrics.stream_gaps.labels(stage).inc()
    ctx.watchdog.skipped(stage, topic, partition, hole)
    log.warning(
        "stage %s: the stream skipped offsets %d..%d of %s[%d]; commits stop there until the "
        "worker restarts (/livez fails)",
        stage, hole[0], hole[1] - 1, topic, partition,
    )  # fmt: skip


async def batches(stream: StreamT[bytes], ctx: WorkerContext, stage: str) -> AsyncIterator[list[RawRecord]]:
    """Yield the stream in batches; ack a batch only once the caller's loop body that
    received it has returned.

    Faust's ``take()`` acks a batch even when the body raised (the agent crashed), which
    loses it. Here a batch whose body raised is never acked: its offsets are not committed
    and the next owner of the partition reads it again (at-least-once).
    """
    settings = ctx.settings
    # The take machinery is on faust's Stream class but missing from its StreamT protocol.
    source = cast("Stream[bytes]", stream)
    ctx.watchdog.register(stage, cast(Any, source.channel).topics)
    async for events in _take_events(source, settings.batch_max_messages, settings.batch_max_wait_s):
        ctx.metrics.messages_in.labels(stage).inc(len(events))
        ctx.metrics.batch_size.labels(stage).observe(len(events))
        records = [raw_record(e) for e in events]
        yield records
        # Reached only when the body finished without raising.
        for event in events:
            await source.ack(event)
        offsets: dict[tuple[str, int], list[int]] = {}
        for record in records:
            offsets.setdefault((record.topic, record.partition), []).append(record.offset)
        for (topic, partition), seen in offsets.items():
            hole = first_gap(ctx.watchdog.position(stage, topic, partition), seen)
            if hole is not None:
                report_gap(ctx, stage, topic, partition, hole)
        ctx.watchdog.finished(stage, {key: max(seen) for key, seen in offsets.items()})


async def publish_outcome(
    publisher: KafkaPublisher,
    outcome: StageOutcome,
    ctx: WorkerContext,
    stage: str,
    extra: Sequence[Any] = (),
    skip_reason: str = "not_customer_voice",
) -> None:
    """Deliver outputs and dead letters (waiting for the broker), then count them. Dead
    letters carry the value ``VOC_DLQ_PAYLOAD`` asks for (masked by default); records the
    stage skipped count under ``skip_reason``."""
    await publisher.publish([*outcome.to_publish(ctx.settings.dlq_payload), *extra])
    ctx.metrics.messages_out.labels(stage).inc(len(outcome.outputs) + len(extra))
    for reason in outcome.dead_reasons:
        ctx.metrics.dead_letters.labels(stage, reason).inc()
    if outcome.skipped:
        ctx.metrics.skipped.labels(stage, skip_reason).inc(outcome.skipped)


class BatchTimer:
    """Observes how long one batch took, for ``voc_batch_duration_seconds``."""

    def __init__(self, ctx: WorkerContext, stage: str):
        self._histogram = ctx.metrics.batch_seconds.labels(stage)
        self._started = time.perf_counter()

    def done(self) -> None:
        """Record the elapsed time."""
        self._histogram.observe(time.perf_counter() - self._started)
