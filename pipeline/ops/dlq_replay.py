"""``voc dlq replay``: send dead letters whose cause is fixed back to the topic they came from.

A dead letter names its source (``voc.dlq.source_topic``) and why it failed. Once the cause
is gone (a bug fixed: ``processing_error``; a migration applied: ``sink_rejected``; a source
that sent a field the schema did not allow, now allowed), the operator replays the letters of
that reason. The replayed record keeps its key and value and gets the header
``voc.replayed_from`` (``dlq topic:partition:offset``), so a downstream reader can tell it
from a first delivery. Replaying twice sends twice: the sinks store a feedback once whatever
the number of deliveries (sinks/exactly_once.py), other consumers deduplicate by id.

Letters without a value (``VOC_DLQ_PAYLOAD=none``) cannot be replayed and are counted;
masked letters replay their masked text.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

from aiokafka import AIOKafkaConsumer
from pydantic import ValidationError

from pipeline.dead_letters import PAYLOAD_HEADER
from pipeline.ops.kafka_io import new_producer
from pipeline.runtime.kafka_connection import KafkaConnection
from schemas.dead_letters import DeadLetterReason
from schemas.records import RawRecord

__all__ = ["REPLAYED_FROM_HEADER", "ReplayFilter", "ReplayReport", "choose", "replay_dead_letters"]

REPLAYED_FROM_HEADER = "voc.replayed_from"
_IN_FLIGHT = 1_000
_ASSIGNMENT_TIMEOUT_S = 30.0


@dataclass(frozen=True, slots=True)
class ReplayFilter:
    """Which dead letters to replay; an empty set matches everything. The CLI always names
    the source topics (the pipeline's own), so a letter naming another topic stays."""

    reasons: frozenset[str] = frozenset()
    stages: frozenset[str] = frozenset()
    source_topics: frozenset[str] = frozenset()

    def matches(self, reason: DeadLetterReason) -> bool:
        """Whether ``reason`` passes every non-empty criterion."""
        return (
            (not self.reasons or reason.reason in self.reasons)
            and (not self.stages or reason.stage in self.stages)
            and (not self.source_topics or reason.source_topic in self.source_topics)
        )


@dataclass(slots=True)
class ReplayReport:
    """What one replay read and did."""

    read: int = 0
    replayed: dict[str, int] = field(default_factory=dict)
    """Source topic → letters sent back to it (or that would be, with ``dry_run``)."""
    not_matching: int = 0
    without_payload: int = 0
    unreadable: int = 0
    """Records on the dead-letter topic without valid ``voc.dlq.*`` headers."""

    def to_json(self) -> dict[str, Any]:
        """For ``--json`` and the summary line."""
        return {
            "read": self.read,
            "replayed": dict(sorted(self.replayed.items())),
            "not_matching": self.not_matching,
            "without_payload": self.without_payload,
            "unreadable": self.unreadable,
        }


def choose(letter: RawRecord, wanted: ReplayFilter, report: ReplayReport) -> DeadLetterReason | None:
    """The reason of ``letter`` if it is to be replayed; counts it in ``report`` either way."""
    report.read += 1
    try:
        reason = DeadLetterReason.from_headers(list(letter.headers))
    except ValidationError:
        report.unreadable += 1
        return None
    if not wanted.matches(reason):
        report.not_matching += 1
        return None
    if dict(letter.headers).get(PAYLOAD_HEADER) == b"none":
        report.without_payload += 1
        return None
    report.replayed[reason.source_topic] = report.replayed.get(reason.source_topic, 0) + 1
    return reason


async def _dead_letters(kafka: KafkaConnection, topic: str) -> AsyncIterator[RawRecord]:
    """Every record of ``topic`` from the earliest to the end offsets taken at the start (what
    arrives meanwhile is left for the next replay), one partition batch at a time."""
    # Subscribed without a group: the consumer is given every partition of the topic.
    consumer = AIOKafkaConsumer(
        topic, **kafka.client_options(), enable_auto_commit=False, auto_offset_reset="earliest"
    )
    await consumer.start()
    try:
        if topic not in await consumer.topics():
            return
        deadline = time.monotonic() + _ASSIGNMENT_TIMEOUT_S
        while not consumer.assignment():
            if time.monotonic() > deadline:
                raise TimeoutError(f"no partitions of {topic} were assigned in {_ASSIGNMENT_TIMEOUT_S:.0f} s")
            await asyncio.sleep(0.1)
        partitions = sorted(consumer.assignment(), key=lambda tp: tp.partition)
        ends = await consumer.end_offsets(partitions)
        await consumer.seek_to_beginning(*partitions)
        remaining = {tp for tp in partitions if await consumer.position(tp) < ends[tp]}
        while remaining:
            batch = await consumer.getmany(*remaining, timeout_ms=1_000)
            for tp, records in batch.items():
                for r in records:
                    if r.offset < ends[tp]:
                        yield RawRecord(
                            r.topic, r.partition, r.offset, r.timestamp, r.key, r.value or b"",
                            tuple(r.headers or ()),
                        )  # fmt: skip
            remaining = {tp for tp in remaining if await consumer.position(tp) < ends[tp]}
    finally:
        await consumer.stop()


async def replay_dead_letters(
    kafka: KafkaConnection,
    dlq_topic: str,
    wanted: ReplayFilter,
    dry_run: bool = False,
) -> ReplayReport:
    """Send the dead letters of ``dlq_topic`` that ``wanted`` matches back to their source
    topics and wait for every ack; with ``dry_run`` only count them."""
    report = ReplayReport()
    producer = None if dry_run else new_producer(kafka)
    if producer is not None:
        await producer.start()
    pending: list[asyncio.Future[Any]] = []
    try:
        async for letter in _dead_letters(kafka, dlq_topic):
            reason = choose(letter, wanted, report)
            if reason is not None and producer is not None:
                origin = f"{letter.topic}:{letter.partition}:{letter.offset}".encode()
                headers = [(REPLAYED_FROM_HEADER, origin)]
                sent = await producer.send(reason.source_topic, letter.value, key=letter.key, headers=headers)
                pending.append(sent)
                if len(pending) >= _IN_FLIGHT:
                    await asyncio.gather(*pending)
                    pending = []
        await asyncio.gather(*pending)
    finally:
        if producer is not None:
            await producer.stop()
    return report
