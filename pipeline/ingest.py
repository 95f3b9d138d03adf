"""The ingest stage: raw bytes of a source topic → validated, normalized, masked Feedback.

Pure functions. A message that cannot become Feedback raises :class:`InvalidMessage` with a
reason code; the agent sends it to the dead-letter topic. A valid message that is not
customer voice (an agent's chat turn) yields ``None`` and is counted as skipped.
"""

from __future__ import annotations

import functools
import hashlib
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TypeVar

import orjson
from pydantic import BaseModel, ValidationError

from config.brand_lexicon import BrandLexicon
from pipeline.errors import InvalidMessage
from pipeline.text.normalize import mask_pii, normalize_text
from schemas.conversations import ConversationEnd
from schemas.feedback import Feedback, Origin
from schemas.inputs import ChatMessageIn, ProductRef, ReviewIn, SocialPostIn, SurveyResponseIn
from schemas.records import RawRecord

__all__ = [
    "DATETIME_MAX", "DATETIME_MIN", "IngestContext", "Ingestor", "check_event_time", "conversation_end",
    "decode_message", "ingest_social",
    "customer_ref", "ingest_chat", "ingest_review", "ingest_survey",
]  # fmt: skip

ModelT = TypeVar("ModelT", bound=BaseModel)

# Joins the parts of one feedback (review + 追评, survey answers) so that the clause splitter
# keeps them apart.
_PART_SEPARATOR = "。"


#: What a ClickHouse ``DateTime`` column holds (unsigned 32-bit seconds since the epoch).
DATETIME_MIN = datetime(1970, 1, 1, tzinfo=UTC)
DATETIME_MAX = datetime(2106, 2, 7, 6, 28, 15, tzinfo=UTC)

_DAY_S = 86_400


@dataclass(frozen=True, slots=True)
class IngestContext:
    """What ingest needs from the settings."""

    max_message_bytes: int
    customer_ref_salt: bytes
    event_time_max_age_s: int = 3_650 * _DAY_S
    """Event times older than this (before the batch's ``now``) are out of range."""
    event_time_max_future_s: int = _DAY_S
    """Event times further ahead of ``now`` than this are out of range."""
    brands: BrandLexicon | None = None
    """Finds the brand and product of a social post (``ingest_social``)."""


def check_event_time(feedback: Feedback, ctx: IngestContext, now: datetime) -> Feedback:
    """``feedback`` if its event time lies in the accepted window around ``now`` (and in what
    ClickHouse can store), else InvalidMessage ``out_of_range``.

    A default date (0001-01-01), a clock in the wrong century or a unit mix-up (milliseconds
    read as seconds) would otherwise fail every insert of its batch, or land in a far-away
    partition of every table and rollup.
    """
    _in_window(feedback.event_time, ctx, now)
    return feedback


def _in_window(when: datetime, ctx: IngestContext, now: datetime) -> datetime:
    earliest = max(DATETIME_MIN, now - timedelta(seconds=ctx.event_time_max_age_s))
    latest = min(DATETIME_MAX, now + timedelta(seconds=ctx.event_time_max_future_s))
    if not earliest <= when <= latest:
        raise InvalidMessage(
            "out_of_range",
            f"event time {when.isoformat()} is outside the accepted window "
            f"{earliest.isoformat()} .. {latest.isoformat()} "
            "(VOC_EVENT_TIME_MAX_AGE_DAYS, VOC_EVENT_TIME_MAX_FUTURE_S)",
        )
    return when


def decode_message(record: RawRecord, model: type[ModelT], max_bytes: int) -> ModelT:
    """Check size, UTF-8 and JSON, then validate against ``model``.

    Raises InvalidMessage with reason ``too_large``, ``not_utf8``, ``not_json`` or
    ``schema_invalid``; the message says which field failed and why.
    """
    if len(record.value) > max_bytes:
        raise InvalidMessage("too_large", f"{len(record.value)} bytes exceeds the limit of {max_bytes}")
    try:
        text = record.value.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InvalidMessage("not_utf8", f"not UTF-8: {exc.reason} at byte {exc.start}", exc) from exc
    try:
        data = orjson.loads(text)
    except orjson.JSONDecodeError as exc:
        raise InvalidMessage("not_json", f"not JSON: {exc}", exc) from exc
    if not isinstance(data, dict):
        raise InvalidMessage("schema_invalid", f"expected a JSON object, got {type(data).__name__}")
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or '<root>'}: {e['msg']}" for e in exc.errors()
        )
        raise InvalidMessage("schema_invalid", f"{model.__name__}: {problems}", exc) from exc


def _clean(text: str) -> str:
    return mask_pii(normalize_text(text))


@functools.lru_cache(maxsize=65_536)
def _clean_field(value: str) -> str:
    """A free-text field other than the text (product name, variant), masked like the text."""
    return _clean(value)


# What each field other than the text gets (issue #13), written down in the README ("Personal
# data"): free text is masked like the text (``product.name``, ``variant``); identifiers that
# key rollups and route alerts (``brand``, ``product.sku``, ``store_id``, ``agent_id``) are
# refused when they hold a phone, e-mail, ID or card number, since a masked key would merge
# unrelated stores and a kept one leaks; ``customer_id`` is replaced by a keyed hash; survey
# questions are not stored. A street address in an identifier is kept: stores are named by
# their street.
_PERSONAL_IN_IDENTIFIER = re.compile(r"<(PHONE|EMAIL|ID|CARD)>")


# Brands, SKUs, stores and agents repeat across millions of messages: remembering the last
# checks keeps the cost off the hot path (a refused value raises, and is not remembered).
@functools.lru_cache(maxsize=65_536)
def _identifier(field: str, value: str) -> str:
    """``value`` unchanged, or InvalidMessage ``schema_invalid`` when it holds personal data."""
    if not value:
        return value
    found = set(_PERSONAL_IN_IDENTIFIER.findall(mask_pii(normalize_text(value))))
    found -= set(_PERSONAL_IN_IDENTIFIER.findall(value))
    if found:
        kinds = ", ".join(sorted(kind.lower() for kind in found))
        raise InvalidMessage(
            "schema_invalid",
            f"{field} holds personal data ({kinds}); identifiers must not, replace it at the source",
        )
    return value


def customer_ref(customer_id: str | None, salt: bytes) -> str:
    """The pseudonym stored for a customer id: a keyed hash with the configured salt, so the
    same id gives the same ref in every worker and ``voc forget --customer-id`` finds it;
    '' for no id."""
    if not customer_id:
        return ""
    return hashlib.blake2b(customer_id.encode(), key=salt[:64], digest_size=16).hexdigest()


def _product_fields(product: ProductRef | None) -> dict[str, str]:
    if product is None:
        return {}
    return {
        "product_sku": _identifier("product.sku", product.sku),
        "product_name": _clean_field(product.name),
        "variant": _clean_field(product.variant),
    }


def _origin(record: RawRecord) -> Origin:
    return Origin(
        topic=record.topic,
        partition=record.partition,
        offset=record.offset,
        timestamp_ms=max(record.timestamp_ms, 0),
    )


def ingest_review(record: RawRecord, ctx: IngestContext) -> Feedback:
    """A review becomes one Feedback; the follow-up review (追评) is appended to the text."""
    review = decode_message(record, ReviewIn, ctx.max_message_bytes)
    parts = [review.text, review.follow_up_text or ""]
    return Feedback(
        feedback_id=f"review:{review.platform}:{review.review_id}",
        source="review",
        channel=review.platform,
        brand=_identifier("brand", review.brand),
        **_product_fields(review.product),
        customer_ref=customer_ref(review.customer_id, ctx.customer_ref_salt),
        text=_clean(_PART_SEPARATOR.join(p for p in parts if p)),
        rating=review.rating,
        event_time=review.created_at,
        origin=_origin(record),
    )


def ingest_chat(record: RawRecord, ctx: IngestContext) -> Feedback | None:
    """A customer turn becomes one Feedback; agent and bot turns yield ``None``."""
    turn = decode_message(record, ChatMessageIn, ctx.max_message_bytes)
    if turn.role != "customer":
        return None
    return Feedback(
        feedback_id=f"chat:{turn.conversation_id}:{turn.turn_index}",
        source="chat",
        channel=turn.channel,
        brand=_identifier("brand", turn.brand),
        **_product_fields(turn.product),
        customer_ref=customer_ref(turn.customer_id, ctx.customer_ref_salt),
        store_id=_identifier("store_id", turn.store_id or ""),
        agent_id=_identifier("agent_id", turn.agent_id or ""),
        text=_clean(turn.text),
        event_time=turn.ts,
        origin=_origin(record),
    )


def conversation_end(record: RawRecord, ctx: IngestContext, now: datetime) -> ConversationEnd | None:
    """The outcome a chat turn closes its conversation with, if it carries one (any role).

    Called for every chat record that passed ingest; a record without the word ``outcome``
    is not decoded again (most turns), one with ``"outcome": null`` is. An agent's turn is
    checked here as a customer's is at ingest: identifiers without personal data, and the
    time inside the accepted window (InvalidMessage otherwise).
    """
    if b'"outcome"' not in record.value:
        return None
    turn = decode_message(record, ChatMessageIn, ctx.max_message_bytes)
    if turn.outcome is None:
        return None
    return ConversationEnd(
        conversation_id=turn.conversation_id,
        brand=_identifier("brand", turn.brand),
        product_sku=_product_fields(turn.product).get("product_sku", ""),
        channel=turn.channel,
        customer_ref=customer_ref(turn.customer_id, ctx.customer_ref_salt),
        store_id=_identifier("store_id", turn.store_id or ""),
        agent_id=_identifier("agent_id", turn.agent_id or ""),
        outcome=turn.outcome,
        ended_at=_in_window(turn.ts, ctx, now),
        closing_turn=turn.turn_index,
    )


def ingest_social(record: RawRecord, ctx: IngestContext) -> Feedback | None:
    """A social post or comment becomes one Feedback of the brand its text names (the brand
    lexicon), ``None`` when it names none (counted as ``no_brand``)."""
    post = decode_message(record, SocialPostIn, ctx.max_message_bytes)
    if ctx.brands is None:
        raise InvalidMessage("processing_error", "no brand lexicon configured for social posts")
    text = _clean(post.text)
    found = ctx.brands.find(text)
    if found is None:
        return None
    brand, sku = found
    reply = f":{post.comment_id}" if post.comment_id else ""
    return Feedback(
        feedback_id=f"social:{post.platform}:{post.post_id}{reply}",
        source="social",
        channel=post.platform,
        brand=brand,
        product_sku=sku,
        # A platform's author ids are its own: "12345" on weibo is not customer 12345.
        customer_ref=customer_ref(
            f"{post.platform}:{post.author_id}" if post.author_id else None, ctx.customer_ref_salt
        ),
        text=text,
        engagement=post.engagement.total,
        event_time=post.ts,
        origin=_origin(record),
    )


def ingest_survey(record: RawRecord, ctx: IngestContext) -> Feedback:
    """A survey response becomes one Feedback: open answers joined, CSAT as itself and as the rating."""
    response = decode_message(record, SurveyResponseIn, ctx.max_message_bytes)
    return Feedback(
        feedback_id=f"survey:{response.survey_id}:{response.response_id}",
        source="survey",
        channel=response.touchpoint,
        brand=_identifier("brand", response.brand),
        **_product_fields(response.product),
        customer_ref=customer_ref(response.customer_id, ctx.customer_ref_salt),
        text=_clean(_PART_SEPARATOR.join(a.answer for a in response.answers if a.answer)),
        rating=response.csat,
        nps=response.nps,
        csat=response.csat,
        event_time=response.ts,
        origin=_origin(record),
    )


Ingestor = Callable[[RawRecord, IngestContext], Feedback | None]
"""One of the ingest functions above, chosen by source topic."""
