"""Messages on the raw input topics, as the producing systems send them (JSON, UTF-8).

Tolerant readers: unknown fields are ignored so producers can add fields first; every field
the pipeline relies on is validated, and a message that fails goes to the dead-letter topic.
Timestamps without a time zone are read as UTC.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator

__all__ = [
    "ChatMessageIn",
    "ProductRef",
    "SocialEngagement",
    "SocialPostIn",
    "ReviewIn",
    "SurveyAnswer",
    "SurveyResponseIn",
]


def _as_utc(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


UtcDatetime = Annotated[datetime, AfterValidator(_as_utc)]
Identifier = Annotated[str, Field(min_length=1, max_length=256)]
Name = Annotated[str, Field(min_length=1, max_length=256)]


class _Input(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore", str_strip_whitespace=True)

    schema_version: Literal[1] = 1


class ProductRef(BaseModel):
    """The product a piece of feedback is about."""

    model_config = ConfigDict(frozen=True, extra="ignore", str_strip_whitespace=True)

    sku: Identifier
    name: str = Field(default="", max_length=512)
    variant: str = Field(default="", max_length=256)
    """Free-form variant as the shop shows it, e.g. ``红色 XL``."""


class ReviewIn(_Input):
    """An e-commerce review (``{ns}.reviews.raw``)."""

    review_id: Identifier
    platform: Name
    """Where it was posted: ``tmall``, ``jd``, ``meituan``..."""
    brand: Name
    product: ProductRef
    rating: int | None = Field(default=None, ge=1, le=5)
    text: str = Field(max_length=20_000)
    follow_up_text: str | None = Field(default=None, max_length=20_000)
    """追评: the follow-up review written days later, scored together with the text."""
    created_at: UtcDatetime
    customer_id: str | None = Field(default=None, max_length=256)


class ChatMessageIn(_Input):
    """One turn of a customer-service conversation (``{ns}.chats.raw``).

    Only customer turns are customer voice; agent and bot turns are counted and skipped.
    """

    conversation_id: Identifier
    turn_index: int = Field(ge=0)
    role: Literal["customer", "agent", "bot"]
    text: str = Field(max_length=20_000)
    ts: UtcDatetime
    channel: Name
    """Chat channel: ``tmall_im``, ``wechat``, ``app``..."""
    brand: Name
    product: ProductRef | None = None
    customer_id: str | None = Field(default=None, max_length=256)
    store_id: str | None = Field(default=None, max_length=256)
    agent_id: str | None = Field(default=None, max_length=256)
    outcome: Literal["resolved", "unresolved", "escalated"] | None = None
    """Conversation outcome, set on the turn that closes it."""


class SurveyAnswer(BaseModel):
    """One open question of a survey and the customer's answer."""

    model_config = ConfigDict(frozen=True, extra="ignore", str_strip_whitespace=True)

    question: str = Field(max_length=1_000)
    answer: str = Field(max_length=20_000)


class SocialEngagement(BaseModel):
    """How many people reacted to a post, as the platform counts them."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    likes: int = Field(default=0, ge=0)
    comments: int = Field(default=0, ge=0)
    shares: int = Field(default=0, ge=0)

    @property
    def total(self) -> int:
        """Likes, comments and shares together."""
        return self.likes + self.comments + self.shares


class SocialPostIn(_Input):
    """A post or comment on a social platform (``{ns}.social.raw``): 微博, 小红书, 抖音...

    It names no brand: the brand and product are found in its text (config/brand_lexicon.yaml),
    and a post without a known brand is skipped and counted.
    """

    platform: Name
    post_id: Identifier
    comment_id: str | None = Field(default=None, max_length=256)
    """Set on a comment: the post it answers is ``post_id``."""
    author_id: str | None = Field(default=None, max_length=256)
    """The platform's author id: stored only as a salted hash, like a customer id."""
    text: str = Field(max_length=20_000)
    ts: UtcDatetime
    engagement: SocialEngagement = SocialEngagement()


class SurveyResponseIn(_Input):
    """A survey reply with NPS and/or CSAT and open answers (``{ns}.surveys.raw``)."""

    survey_id: Identifier
    response_id: Identifier
    brand: Name
    product: ProductRef | None = None
    nps: int | None = Field(default=None, ge=0, le=10)
    csat: int | None = Field(default=None, ge=1, le=5)
    answers: tuple[SurveyAnswer, ...] = ()
    ts: UtcDatetime
    customer_id: str | None = Field(default=None, max_length=256)
    touchpoint: Name
    """Where the survey was taken: ``post_purchase``, ``after_chat``, ``app``..."""

    @model_validator(mode="after")
    def _says_something(self) -> SurveyResponseIn:
        if self.nps is None and self.csat is None and not self.answers:
            raise ValueError("a survey response needs nps, csat or at least one answer")
        return self
