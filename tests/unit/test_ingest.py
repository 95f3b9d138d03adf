from datetime import UTC, datetime

import orjson
import pytest

from pipeline.errors import InvalidMessage
from pipeline.ingest import IngestContext, conversation_end, ingest_chat, ingest_review, ingest_survey
from pipeline.stages import score_batch
from pipeline.text.analysis import Analyzer
from schemas.records import RawRecord
from tests.unit.conftest import record

NOW = datetime(2026, 11, 2, tzinfo=UTC)

REVIEW = {
    "review_id": "R1",
    "platform": "tmall",
    "brand": "云杉",
    "product": {"sku": "P1", "name": "脐橙", "variant": "5斤"},
    "rating": 2,
    "text": "包装没有封口，电话１３８１２３４５６７８",
    "follow_up_text": "追评：还是不行",
    "created_at": "2026-11-01T10:00:00",
    "customer_id": "C1",
}


def test_review_becomes_normalized_masked_feedback(ingest_ctx: IngestContext) -> None:
    fb = ingest_review(record(orjson.dumps(REVIEW)), ingest_ctx)
    assert fb.feedback_id == "review:tmall:R1"
    assert fb.text == "包装没有封口,电话<PHONE>。追评:还是不行"
    assert (fb.brand, fb.product_sku, fb.variant, fb.rating) == ("云杉", "P1", "5斤", 2)
    assert fb.event_time.isoformat() == "2026-11-01T10:00:00+00:00"  # naive read as UTC
    assert fb.origin.topic == "t.reviews.raw" and fb.origin.offset == 7
    assert fb.partition_key == "云杉|P1"


def test_customer_ref_is_a_salted_hash_not_the_id(ingest_ctx: IngestContext) -> None:
    fb = ingest_review(record(orjson.dumps(REVIEW)), ingest_ctx)
    assert fb.customer_ref and "C1" not in fb.customer_ref and len(fb.customer_ref) == 32
    other = IngestContext(max_message_bytes=4096, customer_ref_salt=b"other")
    assert ingest_review(record(orjson.dumps(REVIEW)), other).customer_ref != fb.customer_ref


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        (b"{not json", "not_json"),
        ('{"text": "乱码"}'.encode("gbk"), "not_utf8"),
        (b"[1, 2]", "schema_invalid"),
        (orjson.dumps({**REVIEW, "rating": 9}), "schema_invalid"),
        (orjson.dumps({k: v for k, v in REVIEW.items() if k != "brand"}), "schema_invalid"),
        (orjson.dumps({**REVIEW, "text": "长" * 5000}), "too_large"),
    ],
)
def test_bad_input_is_rejected_with_its_reason(ingest_ctx: IngestContext, value: bytes, reason: str) -> None:
    with pytest.raises(InvalidMessage) as err:
        ingest_review(record(value), ingest_ctx)
    assert err.value.reason == reason


def test_schema_error_names_the_field(ingest_ctx: IngestContext) -> None:
    with pytest.raises(InvalidMessage, match=r"rating: Input should be less than or equal to 5"):
        ingest_review(record(orjson.dumps({**REVIEW, "rating": 9})), ingest_ctx)


CHAT = {
    "conversation_id": "CV1",
    "turn_index": 0,
    "role": "customer",
    "text": "快递太慢了",
    "ts": "2026-11-01T10:00:00+08:00",
    "channel": "wechat",
    "brand": "云杉",
    "store_id": "S1",
    "agent_id": "A1",
}


def test_customer_chat_turn_becomes_feedback(ingest_ctx: IngestContext) -> None:
    fb = ingest_chat(record(orjson.dumps(CHAT)), ingest_ctx)
    assert fb is not None
    assert (fb.feedback_id, fb.source, fb.product_sku, fb.store_id) == ("chat:CV1:0", "chat", "", "S1")
    assert fb.event_time.isoformat() == "2026-11-01T02:00:00+00:00"


def test_agent_chat_turn_is_skipped(ingest_ctx: IngestContext) -> None:
    assert ingest_chat(record(orjson.dumps({**CHAT, "role": "agent"})), ingest_ctx) is None


def test_the_turn_closing_a_conversation_gives_its_outcome(ingest_ctx: IngestContext) -> None:
    # Usually the agent's closing turn: no feedback, but the outcome is kept (journeys).
    closing = record(orjson.dumps({**CHAT, "role": "agent", "turn_index": 5, "outcome": "unresolved"}))
    assert ingest_chat(closing, ingest_ctx) is None
    ended = conversation_end(closing, ingest_ctx, NOW)
    assert ended is not None
    assert (ended.conversation_id, ended.outcome, ended.closing_turn, ended.store_id) == (
        "CV1",
        "unresolved",
        5,
        "S1",
    )
    assert ended.customer_ref == "" and ended.ended_at.isoformat() == "2026-11-01T02:00:00+00:00"
    assert conversation_end(record(orjson.dumps(CHAT)), ingest_ctx, NOW) is None
    assert conversation_end(record(orjson.dumps({**CHAT, "outcome": None})), ingest_ctx, NOW) is None


def test_a_closing_agent_turn_with_personal_data_in_an_id_is_a_dead_letter(
    ingest_ctx: IngestContext, analyzer: Analyzer
) -> None:
    # Agent turns store no feedback, so their identifiers are first checked here: a bad one
    # must become a dead letter, not stop the batch (review of issue #17).
    closing = {**CHAT, "role": "agent", "agent_id": "li.wei@brand.com", "outcome": "resolved"}
    late = {**CHAT, "role": "agent", "outcome": "resolved", "ts": "2099-01-01T00:00:00Z"}
    turns = [record(orjson.dumps(closing), "t.chats.raw"), record(orjson.dumps(late), "t.chats.raw", 8)]
    outcome = score_batch(
        turns, ingest_chat, ingest_ctx, analyzer, "t.scored", "t.dlq", NOW, conversations_topic="t.conv"
    )
    assert outcome.outputs == [] and outcome.dead_reasons == ["schema_invalid", "out_of_range"]


def test_score_batch_publishes_conversation_ends_of_chats_only(
    ingest_ctx: IngestContext, analyzer: Analyzer
) -> None:
    closing = record(
        orjson.dumps({**CHAT, "role": "agent", "turn_index": 1, "outcome": "resolved"}), "t.chats.raw"
    )
    turns = [record(orjson.dumps(CHAT), "t.chats.raw"), closing, record(b"{broken", "t.chats.raw")]
    outcome = score_batch(
        turns, ingest_chat, ingest_ctx, analyzer, "t.scored", "t.dlq", conversations_topic="t.conv"
    )
    assert [o.topic for o in outcome.outputs] == ["t.scored", "t.conv"]
    assert outcome.outputs[1].key == "云杉".encode() and len(outcome.dead_letters) == 1
    without = score_batch(turns, ingest_chat, ingest_ctx, analyzer, "t.scored", "t.dlq")
    assert [o.topic for o in without.outputs] == ["t.scored"]


SURVEY = {
    "survey_id": "S",
    "response_id": "1",
    "brand": "云杉",
    "nps": 3,
    "csat": 2,
    "answers": [{"question": "建议?", "answer": "发货太慢"}, {"question": "其他?", "answer": "包装破损"}],
    "ts": "2026-11-01T10:00:00Z",
    "touchpoint": "post_purchase",
}


def test_survey_answers_are_joined_and_csat_is_the_rating(ingest_ctx: IngestContext) -> None:
    fb = ingest_survey(record(orjson.dumps(SURVEY)), ingest_ctx)
    assert (fb.feedback_id, fb.text, fb.nps, fb.rating) == ("survey:S:1", "发货太慢。包装破损", 3, 2)


def test_survey_without_any_signal_is_invalid(ingest_ctx: IngestContext) -> None:
    empty = {k: v for k, v in SURVEY.items() if k not in ("nps", "csat", "answers")}
    with pytest.raises(InvalidMessage, match="needs nps, csat or at least one answer"):
        ingest_survey(record(orjson.dumps(empty)), ingest_ctx)


def _chat_record(**fields: object) -> RawRecord:
    return record(orjson.dumps({**CHAT, **fields}), topic="t.chat.raw")


def test_free_text_fields_are_masked_like_the_text(ingest_ctx: IngestContext) -> None:
    # Issue #13: an e-mail in the variant and a phone in the product name reached the rollups.
    feedback = ingest_chat(
        _chat_record(product={"sku": "SKU-1", "name": "保温杯 客服13812345678", "variant": "a@b.com 红色"}),
        ingest_ctx,
    )
    assert feedback is not None
    assert (feedback.product_name, feedback.variant) == ("保温杯 客服<PHONE>", "<EMAIL> 红色")


@pytest.mark.parametrize(
    ("field", "value"),
    [("store_id", "13812345678"), ("agent_id", "li@example.com"), ("brand", "139.1234.0010")],
)
def test_an_identifier_holding_personal_data_is_refused(
    ingest_ctx: IngestContext, field: str, value: str
) -> None:
    with pytest.raises(InvalidMessage) as caught:
        ingest_chat(_chat_record(**{field: value}), ingest_ctx)
    assert caught.value.reason == "schema_invalid"
    assert field in str(caught.value) and value not in str(caught.value)


def test_identifiers_without_personal_data_are_kept(ingest_ctx: IngestContext) -> None:
    feedback = ingest_chat(_chat_record(store_id="建国路88号店", agent_id="A-1024"), ingest_ctx)
    assert feedback is not None
    assert (feedback.store_id, feedback.agent_id) == ("建国路88号店", "A-1024")
