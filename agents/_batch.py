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
    """Up to ``max_`` events of ``stream``'s channel, or what came within ``within_s`` of the
    first; acks nothing (the caller does, with :func:`_ack`).

    Faust's own iteration (``Stream.__aiter__``, which ``take`` and ``noack_take`` build on)
    hands over one event per turn of the event loop: a ``sleep(0)``, a processor coroutine and
    a sensor call for each record, most of a worker's CPU beside the stage work itself. Here
    the channel's queue is drained in bulk and each event gets, in one loop over the batch,
    what that iteration gives it: an event of an older consumer generation, or read while
    flow control is off (a rebalance), is acked without being processed, as Faust does;
    the others are tracked as unacked messages and reported to the sensors. Draining only
    after the body returned also closes the lost-event race of Faust's ``noack_take``
    (its background drainer could append an event to a batch being cleared).
    """
    channel = cast(Any, aiter(stream.channel))  # registers the iterator with the conductor
    queue = channel.queue
    app = stream.app
    consumer = cast(Any, app.consumer)
    unacked = consumer.unacked
    acking_topics = app.topics.acking_topics
    flow_control = app.flow_control
    on_message_in = stream._on_message_in
    on_stream_event_in = stream._on_stream_event_in
    loop = asyncio.get_running_loop()
    ended = False
    while not ended and not stream.should_stop:
        try:
            items = [await queue.get()]
        except StopAsyncIteration:  # Faust ends the channel this way when the worker stops
            return
        deadline = loop.time() + within_s
        while len(items) < max_:
            try:
                if not queue.empty():
                    items.append(queue.get_nowait())
                    continue
                remaining = deadline - loop.time()
                if remaining <= 0:
                    break
                items.append(await asyncio.wait_for(queue.get(), remaining))
            except TimeoutError:
                break
            except StopAsyncIteration:
                ended = True  # process what came before the end, then stop
                break
        events: list[EventT[bytes]] = []
        for event in items:
            message = event.message
            if not flow_control.is_active() or message.generation_id != app.consumer_generation_id:
                _ack(stream, event)  # stale (before a rebalance): its next owner reads it
                continue
            if message.topic in acking_topics and not message.tracked:
                message.tracked = True
                unacked.add(message)
                on_message_in(message.tp, message.offset, message)
            on_stream_event_in(message.tp, message.offset, stream, event)
            events.append(event)
        if events:
            stream.current_event = events[-1]
            try:
                yield events
            finally:
                stream.current_event = None


def _ack(stream: Stream[bytes], event: EventT[bytes]) -> None:
    """``Stream.ack`` without its coroutine: the consumer may commit the event's offset once
    every stream that read its message acked it."""
    message = event.message
    last_stream_to_ack = event.ack()
    stream._on_stream_event_out(message.tp, message.offset, stream, event)
    if last_stream_to_ack:
        stream._on_message_out(message.tp, message.offset, message)


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
            _ack(source, event)
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
