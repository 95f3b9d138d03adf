"""Every message on every topic of voc-pipeline (pydantic v2, JSON on the wire)."""

from schemas.alerts import Alert, AlertKind, AlertScope, Severity
from schemas.dead_letters import DeadLetterReason, ReasonCode, Stage
from schemas.feedback import AspectMention, Feedback, Origin, Polarity, ScoredFeedback, Source
from schemas.inputs import ChatMessageIn, ProductRef, ReviewIn, SurveyAnswer, SurveyResponseIn

__all__ = [
    "Alert",
    "AlertKind",
    "AlertScope",
    "AspectMention",
    "ChatMessageIn",
    "DeadLetterReason",
    "Feedback",
    "Origin",
    "Polarity",
    "ProductRef",
    "ReasonCode",
    "ReviewIn",
    "ScoredFeedback",
    "Severity",
    "Source",
    "Stage",
    "SurveyAnswer",
    "SurveyResponseIn",
]
