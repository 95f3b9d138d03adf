"""Actions taken on a problem (``{ns}.actions``, keyed by brand): the closed loop.

A front-line or product team says what it did about a scope (a new packaging supplier for
云杉-FRUIT 包装, a courier changed); ``voc report`` shows the metric before and after.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["Action"]


class Action(BaseModel):
    """What was done, about which scope, when."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    schema_version: Literal[1] = 1
    action_id: str = Field(min_length=1, max_length=256)
    """Stable id from the system that records actions; a re-sent action collapses on it."""
    brand: str = Field(min_length=1)
    product: str = ""
    """Empty: every product of the brand."""
    aspect: str = ""
    """Aspect path; its sub-aspects are included. Empty: every aspect."""
    taken_at: datetime
    description: str = Field(min_length=1, max_length=2_000)
    actor: str = ""
    target_negative_share: float | None = Field(default=None, ge=0, le=1)
    """The band's upper edge the scope should return inside (for example the alert rule's
    ``high``); the report says whether it did."""
