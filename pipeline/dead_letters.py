"""Turning a failed record into a dead-letter record: original bytes, reason in headers."""

from __future__ import annotations

from pipeline.errors import InvalidMessage
from pipeline.records import RawRecord
from schemas.dead_letters import DeadLetterReason, Stage
from sinks.kafka import OutgoingRecord

__all__ = ["dead_letter", "reason_for"]

# Long validation messages are cut so headers stay small; the original bytes are kept whole.
_MAX_ERROR_MESSAGE_CHARS = 2_000


def reason_for(record: RawRecord, stage: Stage, exc: BaseException) -> DeadLetterReason:
    """The reason for ``exc``: its code if it is an InvalidMessage, else ``processing_error``
    (a bug or an unexpected input the stage could not handle)."""
    if isinstance(exc, InvalidMessage):
        reason, error_class = exc.reason, exc.error_class
    else:
        reason, error_class = "processing_error", type(exc).__name__
    return DeadLetterReason(
        stage=stage,
        reason=reason,
        error_class=error_class,
        error_message=str(exc)[:_MAX_ERROR_MESSAGE_CHARS],
        source_topic=record.topic,
        source_partition=record.partition,
        source_offset=record.offset,
    )


def dead_letter(record: RawRecord, reason: DeadLetterReason, dlq_topic: str) -> OutgoingRecord:
    """The record for the dead-letter topic: same key, same bytes, reason headers."""
    return OutgoingRecord(dlq_topic, record.key, record.value, reason.to_headers())
