"""What a dead letter carries under each ``VOC_DLQ_PAYLOAD`` policy (issue #13)."""

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from pipeline.dead_letters import PAYLOAD_HEADER, mask_personal_data, with_payload_policy
from pipeline.runtime.kafka_admin import TopicSpec
from pipeline.runtime.topics import TopicNames, topic_specs
from schemas.dead_letters import DeadLetterReason
from schemas.records import OutgoingRecord

REASON = DeadLetterReason(
    stage="ingest", reason="schema_invalid", error_class="InvalidMessage", error_message="rating: too big",
    source_topic="voc.reviews.raw", source_partition=0, source_offset=7,
)  # fmt: skip


def letter(value: bytes) -> OutgoingRecord:
    return OutgoingRecord("voc.dlq", b"R1", value, REASON.to_headers())


def test_masked_dead_letter_masks_every_string_and_keeps_the_structure() -> None:
    message = {
        "review_id": "R1",
        "text": "电话１３８１２３４５６７８，退款",
        "product": {"sku": "P1", "name": "杯子", "variant": "li@example.com"},
        "answers": [{"question": "联系方式", "answer": "139.1234.0010"}],
        "rating": 9,
    }
    masked = with_payload_policy(letter(orjson.dumps(message)), "masked")
    data = orjson.loads(masked.value)
    assert data["text"] == "电话<PHONE>,退款"
    assert data["product"] == {"sku": "P1", "name": "杯子", "variant": "<EMAIL>"}
    assert data["answers"] == [{"question": "联系方式", "answer": "<PHONE>"}]
    assert data["rating"] == 9
    assert (PAYLOAD_HEADER, b"masked") in (masked.headers or [])
    assert DeadLetterReason.from_headers(masked.headers or []) == REASON


def test_a_message_with_nothing_to_mask_keeps_its_bytes() -> None:
    original = b'{"review_id": "R1",  "text": "\\u5f88\\u597d"}'
    assert mask_personal_data(original) == original
    assert mask_personal_data(b"\xff\xfe not utf-8") == b"\xff\xfe not utf-8"


def test_text_that_is_not_json_is_masked_as_a_whole() -> None:
    assert mask_personal_data(b'{"text": "call 13812345678"') == b'{"text": "call <PHONE>"'
    assert b"13812345678" not in mask_personal_data(b"\xff call 13812345678")


@pytest.mark.parametrize(("policy", "expected"), [("original", b"13812345678"), ("none", b"")])
def test_original_and_none_policies(policy: str, expected: bytes) -> None:
    out = with_payload_policy(letter(b"13812345678"), policy)  # type: ignore[arg-type]
    assert out.value == expected
    assert (PAYLOAD_HEADER, policy.encode()) in (out.headers or [])
    assert out.key == b"R1"


@given(st.binary(max_size=300))
def test_masking_never_raises_on_any_bytes(value: bytes) -> None:
    assert isinstance(mask_personal_data(value), bytes)


def test_only_the_dead_letter_topic_gets_a_retention() -> None:
    topics = TopicNames.in_namespace("voc")
    specs: dict[str, TopicSpec] = {s.name: s for s in topic_specs(topics, "voc-pipeline", 4, 1, 604_800_000)}
    assert specs[topics.dlq].configs == {"retention.ms": "604800000"}
    assert specs[topics.scored].configs == {}
    assert specs["voc-pipeline-product-windows-changelog"].configs == {"cleanup.policy": "compact"}


def test_the_dead_letter_listing_says_what_the_values_are() -> None:
    from pipeline.tools.demo import format_dead_letters
    from schemas.records import RawRecord

    out = with_payload_policy(letter(b'{"text": "13812345678"}'), "masked")
    listed = format_dead_letters(
        [RawRecord("voc.dlq", 0, 0, 0, out.key, out.value, tuple(out.headers or ()))]
    )
    assert "value (masked)" in listed and "13812345678" not in listed


def test_replicated_topics_need_all_but_one_replica_in_sync() -> None:
    topics = TopicNames.in_namespace("voc")
    replicated = {s.name: s for s in topic_specs(topics, "voc-pipeline", 12, 3, 604_800_000)}
    assert all(s.configs["min.insync.replicas"] == "2" for s in replicated.values())
    assert replicated[topics.dlq].configs["retention.ms"] == "604800000"
    single = topic_specs(topics, "voc-pipeline", 4, 1)
    assert all("min.insync.replicas" not in s.configs for s in single)
