"""A consumed Kafka record as the pure pipeline functions see it: bytes plus coordinates."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["RawRecord"]


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
