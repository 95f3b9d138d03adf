"""Producing files into topics and reading topics back, for the CLI, the demo and tests.

Plain aiokafka clients (no consumer group): these are tools, not pipeline stages.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

import orjson
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from pipeline.runtime.kafka_connection import KafkaConnection
from schemas.records import RawRecord

__all__ = ["PRODUCT_KEY", "iter_jsonl_lines", "key_of", "new_producer", "produce_lines", "read_topic"]

#: The key of a review: its brand and SKU, the key the scored feedback gets, so the worker
#: that scores it owns its product's windows (pipeline.placement) and nothing has to move.
PRODUCT_KEY = "brand|product.sku"

# Sends in flight before waiting for their acks: bounds memory while keeping the pipe full.
_IN_FLIGHT = 5_000


def iter_jsonl_lines(path: Path) -> Iterator[bytes]:
    """Each non-empty line of ``path`` as raw bytes, without the newline; never decoded, so
    that invalid lines reach the pipeline (and its dead-letter topic) unchanged."""
    with path.open("rb") as handle:
        for line in handle:
            line = line.rstrip(b"\r\n")
            if line:
                yield line


def _field(message: Any, path: str) -> Any:
    for name in path.split("."):
        if not isinstance(message, dict):
            return None
        message = message.get(name)
    return message


def key_of(line: bytes, field: str | None) -> bytes | None:
    """The record key of a JSON line: the value of ``field``, a top-level name or a dotted
    path (``product.sku``), or several joined by ``|`` (``brand|product.sku`` gives
    ``云杉|S1``); None when ``field`` is None, the line is not a JSON object or a value is
    missing."""
    if field is None:
        return None
    try:
        message = orjson.loads(line)
    except orjson.JSONDecodeError:
        return None
    values = [_field(message, path) for path in field.split("|")]
    if any(value is None for value in values):
        return None
    return "|".join(str(value) for value in values).encode()


def new_producer(kafka: KafkaConnection) -> AIOKafkaProducer:
    """A producer tuned for replaying files: small linger, large batches; acknowledged by
    every in-sync replica and idempotent, so a broker lost mid-file loses and doubles nothing."""
    return AIOKafkaProducer(
        **kafka.client_options(), linger_ms=5, max_batch_size=262_144, acks="all", enable_idempotence=True
    )


async def produce_lines(
    kafka: KafkaConnection,
    topic: str,
    lines: Iterable[bytes],
    key_field: str | None = None,
    on_progress: Callable[[int], None] | None = None,
    first_offsets: dict[int, int] | None = None,
) -> int:
    """Send each line as one record and wait for every ack; returns how many were sent.

    If ``first_offsets`` is given, it receives the lowest offset written per partition.
    """
    producer = new_producer(kafka)
    await producer.start()
    sent = 0

    async def settle(pending: list[asyncio.Future[Any]]) -> None:
        nonlocal sent
        for metadata in await asyncio.gather(*pending):
            if first_offsets is not None:
                first = first_offsets.get(metadata.partition)
                first_offsets[metadata.partition] = (
                    metadata.offset if first is None else min(first, metadata.offset)
                )
        sent += len(pending)
        if on_progress and pending:
            on_progress(len(pending))

    try:
        pending: list[asyncio.Future[Any]] = []
        for line in lines:
            pending.append(await producer.send(topic, line, key=key_of(line, key_field)))
            if len(pending) >= _IN_FLIGHT:
                await settle(pending)
                pending = []
        await settle(pending)
    finally:
        await producer.stop()
    return sent


async def read_topic(
    kafka: KafkaConnection, topic: str, idle_timeout_s: float = 3.0, max_wait_s: float = 60.0
) -> list[RawRecord]:
    """Every record of ``topic`` from the beginning, in partition then offset order.

    Stops when nothing new came for ``idle_timeout_s`` (or after ``max_wait_s`` in all).
    """
    # Subscribed without a group: the consumer is given every partition of the topic and,
    # having no committed offsets, starts each at the earliest record.
    consumer = AIOKafkaConsumer(
        topic, **kafka.client_options(), enable_auto_commit=False, auto_offset_reset="earliest"
    )
    await consumer.start()
    records: list[RawRecord] = []
    try:
        deadline = time.monotonic() + max_wait_s
        last_seen = time.monotonic()
        while time.monotonic() < deadline:
            batch = await consumer.getmany(timeout_ms=500)
            for tp_records in batch.values():
                for r in tp_records:
                    records.append(
                        RawRecord(
                            r.topic,
                            r.partition,
                            r.offset,
                            r.timestamp,
                            r.key,
                            r.value or b"",
                            tuple(r.headers or ()),
                        )
                    )
            if batch:
                last_seen = time.monotonic()
            elif time.monotonic() - last_seen >= idle_timeout_s:
                break
    finally:
        await consumer.stop()
    records.sort(key=lambda r: (r.partition, r.offset))
    return records
