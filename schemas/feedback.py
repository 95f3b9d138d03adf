"""The unified feedback stream (``{ns}.feedback``) and its scored form (``{ns}.feedback.scored``).

Both are keyed by :meth:`Feedback.partition_key` so that all feedback of one product lands on
one partition, where the windowed state of that product lives.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["AspectMention", "Feedback", "Origin", "Polarity", "ScoredFeedback", "Source"]

Source = Literal["review", "chat", "survey", "social"]
Polarity = Literal[-1, 0, 1]
"""-1 negative, 0 neutral, 1 positive."""


class Origin(BaseModel):
    """Where the raw message came from: lineage, replay and end-to-end latency."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    topic: str
    partition: int = Field(ge=0)
    offset: int = Field(ge=0)
    timestamp_ms: int = Field(ge=0)
    """The raw record's Kafka timestamp (producer create time)."""


class Feedback(BaseModel):
    """One piece of customer voice, whatever its source, with text normalized and PII masked."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    schema_version: Literal[1] = 1
    feedback_id: str
    """Stable id derived from the source id: ``review:{platform}:{review_id}``,
    ``chat:{conversation_id}:{turn_index}``, ``survey:{survey_id}:{response_id}``."""
    source: Source
    channel: str
    """Platform, chat channel or survey touchpoint."""
    brand: str
    product_sku: str = ""
    product_name: str = ""
    variant: str = ""
    customer_ref: str = ""
    """Salted one-way hash of the customer id; never the id itself. Empty when unknown."""
    store_id: str = ""
    agent_id: str = ""
    text: str
    """Normalized, PII-masked text."""
    rating: int | None = Field(default=None, ge=1, le=5)
    """Star rating, or CSAT for surveys (both 1-5)."""
    nps: int | None = Field(default=None, ge=0, le=10)
    engagement: int = Field(default=0, ge=0)
    """Social posts: likes, comments and shares together (0 elsewhere)."""
    csat: int | None = Field(default=None, ge=1, le=5)
    """A survey's CSAT answer (1-5; ``rating`` carries it too, as before): its own column and
    rollups, so CSAT is reported apart from star ratings."""
    event_time: datetime
    """When the customer said it (UTC)."""
    origin: Origin

    @property
    def partition_key(self) -> str:
        """The Kafka key: brand and product, so one product's feedback shares a partition."""
        return f"{self.brand}|{self.product_sku}"


class AspectMention(BaseModel):
    """One aspect the feedback talks about and how it feels about it."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    aspect: str
    """Aspect path in the taxonomy, e.g. ``包装/封口``."""
    polarity: Polarity
    score: float = Field(ge=0.0, le=1.0)
    """Probability that the mention is positive."""
    opinion_words: tuple[str, ...] = ()
    evidence: str
    """The clause the mention was found in."""
    evidence_start: int = Field(ge=0)
    evidence_end: int = Field(ge=0)
    """Character offsets of the evidence in :attr:`Feedback.text`."""


class ScoredFeedback(Feedback):
    """Feedback plus its overall sentiment and its aspect mentions."""

    polarity: Polarity
    score: float = Field(ge=0.0, le=1.0)
    aspects: tuple[AspectMention, ...] = ()
    taxonomy_version: str
    model_version: str
