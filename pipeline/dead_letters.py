"""Turning a failed record into a dead-letter record: the message, the reason in headers.

What the value carries follows ``VOC_DLQ_PAYLOAD`` (:func:`with_payload_policy`): the
original bytes hold whatever personal data the source sent, so by default the dead letter
holds the message with personal data masked; the header ``voc.payload`` says which.
"""

from __future__ import annotations

from typing import Any, Literal

import orjson

from pipeline.errors import InvalidMessage
from pipeline.text.normalize import mask_pii, normalize_text
from schemas.dead_letters import DeadLetterReason, Stage
from schemas.records import OutgoingRecord, RawRecord

__all__ = [
    "PAYLOAD_HEADER",
    "DlqPayload",
    "dead_letter",
    "mask_personal_data",
    "reason_for",
    "with_payload_policy",
]

DlqPayload = Literal["original", "masked", "none"]
#: Header naming what the value of a dead letter is: ``original``, ``masked`` or ``none``.
PAYLOAD_HEADER = "voc.payload"

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


def _mask_string(value: str) -> str:
    """``value`` as is when it holds no personal data, else its masked normal form (the
    masks expect normalized text: full-width digits are digits there)."""
    normal = normalize_text(value)
    masked = mask_pii(normal)
    return value if masked == normal else masked


def _mask_json(value: Any) -> Any:
    if isinstance(value, str):
        return _mask_string(value)
    if isinstance(value, dict):
        return {key: _mask_json(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_mask_json(item) for item in value]
    return value


def mask_personal_data(value: bytes) -> bytes:
    """The message with personal data masked: in every string of a JSON message (keys kept,
    so a fixed dead letter can be replayed), in the whole text otherwise (bytes that are not
    UTF-8 are decoded with replacement characters first). A message with nothing to mask
    comes back as the same bytes."""
    text = value.decode("utf-8", errors="replace")
    try:
        data = orjson.loads(text)
    except orjson.JSONDecodeError:
        masked_text = _mask_string(text)
        return value if masked_text == text else masked_text.encode()
    masked = _mask_json(data)
    return value if masked == data else orjson.dumps(masked)


def with_payload_policy(letter: OutgoingRecord, policy: DlqPayload) -> OutgoingRecord:
    """``letter`` (from :func:`dead_letter`) with the value ``policy`` asks for and the
    ``voc.payload`` header saying which."""
    if policy == "original":
        value = letter.value
    elif policy == "none":
        value = b""
    else:
        value = mask_personal_data(letter.value)
    headers = [*(letter.headers or ()), (PAYLOAD_HEADER, policy.encode())]
    return OutgoingRecord(letter.topic, letter.key, value, headers)
