"""How a chat conversation ended (``{ns}.conversations``, key: brand).

The turn that closes a conversation carries its outcome (``ChatMessageIn.outcome``), usually
an agent's turn, which is not customer voice and stores no feedback. The outcome is kept
apart: a journey needs to know that a chat ended unresolved before the customer's next review.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict

__all__ = ["ConversationEnd"]


class ConversationEnd(BaseModel):
    """The outcome of one chat conversation, from the turn that closed it."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    schema_version: Literal[1] = 1
    conversation_id: str
    brand: str
    product_sku: str = ""
    channel: str
    customer_ref: str = ""
    store_id: str = ""
    agent_id: str = ""
    outcome: Literal["resolved", "unresolved", "escalated"]
    ended_at: datetime
    closing_turn: int
