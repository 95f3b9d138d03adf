"""Records as the stage logic takes and returns them, free of any client library: a consumed
Kafka record, a record to produce, a stored message with its coordinates, columnar rows.

They sit below the pipeline and the sinks alike, so the stage logic (``pipeline.stages``)
returns them without importing the sinks, and the sinks take them without importing the
pipeline.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Generic, TypeVar

__all__ = ["Columns", "Headers", "OutgoingRecord", "RawRecord", "Stored"]

T = TypeVar("T")

Headers = list[tuple[str, bytes]]
"""Kafka record headers, in order."""

Columns = dict[str, list[Any]]
"""Column name → values, all lists of one length: what a columnar INSERT takes."""


@dataclass(frozen=True, slots=True)
class RawRecord:
    """One record exactly as read from Kafka, before any decoding."""

    topic: str
    partition: int
    offset: int
    timestamp_ms: int
    key: bytes | None
    value: bytes
    headers: tuple[tuple[str, bytes], ...] = ()


@dataclass(frozen=True, slots=True)
class OutgoingRecord:
    """A record to produce; the partition follows from the key."""

    topic: str
    key: bytes | None
    value: bytes
    headers: Headers | None = None


@dataclass(frozen=True, slots=True)
class Stored(Generic[T]):
    """A message and the Kafka coordinates it was consumed from by the sink."""

    message: T
    topic: str
    partition: int
    offset: int
