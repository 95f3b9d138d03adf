"""Alert events on ``{ns}.alerts``, keyed by brand: a contract for downstream services."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["Alert", "AlertKind", "AlertScope", "Severity"]

AlertKind = Literal[
    "threshold", "spike", "volume", "emerging", "critical_feedback", "resolved", "sla_breached"
]
Severity = Literal["info", "warning", "critical"]


class AlertScope(BaseModel):
    """What the alert is about; empty strings mean 'all'."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    brand: str
    product: str = ""
    aspect: str = ""
    channel: str = ""
    """Set on channel-level alerts (all feedback of one channel of the brand)."""


class Alert(BaseModel):
    """An experience metric left its range (or a single feedback needs attention).

    ``alert_id`` is derived from rule, scope and window only, so a replay or a duplicate
    delivery yields the same id: consumers deduplicate on it.
    """

    model_config = ConfigDict(frozen=True, extra="ignore")

    schema_version: Literal[1] = 1
    alert_id: str
    kind: AlertKind
    rule: str
    severity: Severity
    scope: AlertScope
    metric: str
    observed: float
    expected: float | None = None
    band_low: float | None = None
    band_high: float | None = None
    mentions: int = Field(ge=0)
    """Sample size the metric was computed on."""
    window_start: datetime
    window_end: datetime
    sample_feedback_ids: tuple[str, ...] = Field(default=(), max_length=5)
    verbatims: tuple[str, ...] = Field(default=(), max_length=5)
    """Short masked excerpts of the sample feedback (the evidence clause), same order."""
    reason: str = ""
    """Why, in words: the test and its p-value, or the critical terms found."""
    resolves: str | None = None
    """On a ``resolved`` event: the ``alert_id`` it closes."""
    created_at: datetime
    routing_key: str
    """Who should act: ``brand|product`` for window alerts; ``store:…``, ``agent:…`` or
    ``customer:…`` for a critical single feedback and its case's ``sla_breached``."""
    customer_ref: str = ""
    """On ``critical_feedback`` and ``sla_breached``: the customer's salted hash, if known."""
    case_id: str = ""
    """On ``sla_breached``: the case nobody responded to in time ({ns}.cases)."""
