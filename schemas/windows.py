"""Window deltas (``{ns}.windows.brand``, keyed by brand): what one product's batch added to
the brand-level and channel-level windows. Internal to the pipeline, but a contract between
two agents like any topic: the product-level detector writes them after deduplicating, the
brand-level detector merges them.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["WindowCounts", "WindowDelta"]


class WindowCounts(BaseModel):
    """Counts and sums of one window (or of what a batch adds to it)."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    mentions: int = Field(default=0, ge=0)
    positive: int = Field(default=0, ge=0)
    neutral: int = Field(default=0, ge=0)
    negative: int = Field(default=0, ge=0)
    score_sum: float = 0.0
    rating_sum: int = Field(default=0, ge=0)
    rated: int = Field(default=0, ge=0)
    promoters: int = Field(default=0, ge=0)
    passives: int = Field(default=0, ge=0)
    detractors: int = Field(default=0, ge=0)
    samples: tuple[tuple[str, str], ...] = Field(default=(), max_length=5)
    """(feedback id, short masked verbatim)."""
    negative_samples: tuple[tuple[str, str], ...] = Field(default=(), max_length=5)


class WindowDelta(BaseModel):
    """One product batch's contribution to its brand's windows.

    Window keys are ``<size>|<start>|<dimension>``: an aspect path, or ``@<channel>``.
    ``source`` and ``offset`` (the scored record's partition and the batch's last offset
    for the product) let the brand-level detector skip a delta it already merged.
    """

    model_config = ConfigDict(frozen=True, extra="ignore")

    schema_version: Literal[1] = 1
    brand: str
    product: str
    source: str
    offset: int = Field(ge=0)
    max_event_time: float
    """Latest event time in the batch (epoch seconds): advances the brand's watermark."""
    windows: dict[str, WindowCounts]
