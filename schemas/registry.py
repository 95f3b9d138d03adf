"""Which message each topic carries, and its JSON Schema (``voc schema export``).

Topic keys are the suffixes after the namespace (``voc.alerts`` → ``alerts``). Inputs are
described as accepted (pydantic validation mode), what the pipeline writes as written
(serialization mode). The dead-letter topic's value is the original bytes; its schema is
that of the reason in the record headers (``voc.dlq.<field>``, UTF-8 text each).
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel

from schemas.actions import Action
from schemas.alerts import Alert
from schemas.cases import Case, CaseUpdate
from schemas.conversations import ConversationEnd
from schemas.dead_letters import DeadLetterReason
from schemas.feedback import ScoredFeedback
from schemas.inputs import ChatMessageIn, ReviewIn, SocialPostIn, SurveyResponseIn

__all__ = ["TOPIC_MESSAGES", "topic_json_schema", "topic_json_schemas"]

TOPIC_MESSAGES: dict[str, tuple[type[BaseModel], Literal["validation", "serialization"], str]] = {
    "reviews.raw": (ReviewIn, "validation", "record value: a review as a platform connector sends it"),
    "chats.raw": (ChatMessageIn, "validation", "record value: one chat message"),
    "surveys.raw": (SurveyResponseIn, "validation", "record value: one survey response"),
    "social.raw": (
        SocialPostIn,
        "validation",
        "record value: a social post or comment (brand found in its text)",
    ),
    "feedback.scored": (ScoredFeedback, "serialization", "record value, key brand|product: with sentiment"),
    "alerts": (Alert, "serialization", "record value, key brand: an alert event"),
    "actions": (Action, "validation", "record value, key brand: an action taken on a problem"),
    "cases": (Case, "serialization", "record value, key brand: a case's whole state after one change"),
    "case_updates": (
        CaseUpdate,
        "validation",
        "record value, key brand (required): a service's update of a case",
    ),
    "conversations": (
        ConversationEnd,
        "serialization",
        "record value, key brand: how a chat conversation ended (from its closing turn)",
    ),
    "dlq": (
        DeadLetterReason,
        "validation",
        "record headers voc.dlq.<field>; the value is the original bytes",
    ),
}


def topic_json_schema(topic: str) -> dict[str, Any]:
    """The JSON Schema (draft 2020-12, as pydantic writes it) of one topic's messages."""
    model, mode, description = TOPIC_MESSAGES[topic]
    schema = model.model_json_schema(mode=mode)
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": f"voc-pipeline/{topic}.schema.json",
        **schema,
        "description": f"{{namespace}}.{topic}, {description}. {schema.get('description', '')}".strip(),
    }


def topic_json_schemas() -> dict[str, dict[str, Any]]:
    """Every topic's schema, by topic suffix."""
    return {topic: topic_json_schema(topic) for topic in TOPIC_MESSAGES}
