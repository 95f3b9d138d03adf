"""The dead-letter contract: the original bytes as value, the reason in record headers.

Header names follow Kafka Connect's habit (``<prefix>.errors.*``) so existing tooling shows
them; every value is UTF-8 text.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Literal

from pydantic import BaseModel, ConfigDict

__all__ = ["DeadLetterReason", "ReasonCode", "Stage"]

Stage = Literal["ingest", "analyze", "detect", "cases", "sink"]
ReasonCode = Literal[
    "not_utf8",
    "not_json",
    "schema_invalid",
    "too_large",
    "out_of_range",
    "sink_rejected",
    "processing_error",
    "case_update_rejected",
]
"""``out_of_range``: valid JSON and schema, but a value the store cannot hold or the pipeline
will not believe (an event time outside the accepted window). ``sink_rejected``: ClickHouse
refused the record's rows for good (a type or range error); the record's other rows were not
stored either. ``case_update_rejected``: a valid case update the case cannot take (unknown
case, wrong key, a status it does not allow)."""

_PREFIX = "voc.dlq."


class DeadLetterReason(BaseModel):
    """Why a message could not be processed, and where it came from."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    stage: Stage
    reason: ReasonCode
    error_class: str
    error_message: str
    source_topic: str
    source_partition: int
    source_offset: int

    def to_headers(self) -> list[tuple[str, bytes]]:
        """Render as Kafka record headers (``voc.dlq.<field>``), in field order."""
        return [(_PREFIX + name, str(value).encode()) for name, value in self]

    @classmethod
    def from_headers(cls, headers: Sequence[tuple[str, bytes]] | Mapping[str, bytes]) -> DeadLetterReason:
        """Parse the headers written by :meth:`to_headers`; other headers are ignored."""
        items = headers.items() if isinstance(headers, Mapping) else headers
        fields = {k[len(_PREFIX) :]: v.decode() for k, v in items if k.startswith(_PREFIX)}
        return cls.model_validate(fields)
