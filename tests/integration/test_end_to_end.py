"""A known set of valid and invalid messages through a real worker, asserted exactly."""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import orjson
import pytest

from schemas.alerts import Alert
from schemas.dead_letters import DeadLetterReason
from tests.integration.conftest import Stack

pytestmark = pytest.mark.integration

BRAND = "测试"
HOUR = datetime(2026, 11, 1, 10, 0, tzinfo=UTC)


def review(rid: str, sku: str, rating: int, text: str, minute: int) -> bytes:
    return orjson.dumps(
        {
            "review_id": rid, "platform": "tmall", "brand": BRAND, "product": {"sku": sku},
            "rating": rating, "text": text, "created_at": f"2026-11-01T10:{minute:02d}:00Z",
            "customer_id": f"cust-{rid}",
        }
    )  # fmt: skip


VALID_REVIEWS = [
    review("R1", "P1", 1, "包装没有封口，汤都洒了", 1),
    review("R2", "P1", 5, "味道很好，送餐很快", 2),
    review("R3", "P2", 2, "包装破了，里面的东西压坏了。电话13812345678", 3),
    review("R4", "P2", 1, "外包装破损严重", 4),
    review("R5", "P2", 1, "盒子压扁了，东西都碎了", 5),
]
TOO_LARGE = review("R6", "P1", 3, "长" * 1200, 6)  # > VOC_MAX_MESSAGE_BYTES below
INVALID_REVIEWS = [
    (b"{not json", "not_json"),
    ('{"review_id": "乱码"}'.encode("gbk"), "not_utf8"),
    (b"[1, 2]", "schema_invalid"),
    (orjson.dumps({"review_id": "R7", "platform": "tmall", "text": "缺品牌"}), "schema_invalid"),
    (TOO_LARGE, "too_large"),
]
CHATS = [
    orjson.dumps(
        {
            "conversation_id": "CV1",
            "turn_index": turn,
            "role": role,
            "text": text,
            "ts": "2026-11-01T10:07:00Z",
            "channel": "wechat",
            "brand": BRAND,
            "product": {"sku": "P1"},
            "customer_id": "cust-c",
            "store_id": "S1",
            "agent_id": "A1",
        }
    )
    for turn, role, text in ((0, "customer", "快递太慢了，等了五天还没到"), (1, "agent", "亲，马上为您处理"))
]
SURVEYS = [
    orjson.dumps(
        {
            "survey_id": "S",
            "response_id": "1",
            "brand": BRAND,
            "product": {"sku": "P1"},
            "nps": 9,
            "csat": 5,
            # Unambiguous wording: this test is about where messages end, not the model
            # (tests/unit/test_analysis.py holds the model to 价格也便宜 and the like).
            "answers": [{"question": "建议?", "answer": "质量很好，价格很便宜"}],
            "ts": "2026-11-01T10:08:00Z",
            "touchpoint": "post_purchase",
        }
    )
]

EXPECTED_FEEDBACK = [
    # feedback_id, source, channel, product, polarity, text (normalized, masked), rating, nps
    ("chat:CV1:0", "chat", "wechat", "P1", -1, "快递太慢了,等了五天还没到", None, None),
    ("review:tmall:R1", "review", "tmall", "P1", -1, "包装没有封口,汤都洒了", 1, None),
    ("review:tmall:R2", "review", "tmall", "P1", 1, "味道很好,送餐很快", 5, None),
    ("review:tmall:R3", "review", "tmall", "P2", -1, "包装破了,里面的东西压坏了。电话<PHONE>", 2, None),
    ("review:tmall:R4", "review", "tmall", "P2", -1, "外包装破损严重", 1, None),
    ("review:tmall:R5", "review", "tmall", "P2", -1, "盒子压扁了,东西都碎了", 1, None),
    ("survey:S:1", "survey", "post_purchase", "P1", 1, "质量很好,价格很便宜", 5, 9),
]
EXPECTED_MENTIONS = [
    ("chat:CV1:0", "物流/时效", "物流", "时效", -1),
    ("review:tmall:R1", "包装/封口", "包装", "封口", -1),
    ("review:tmall:R2", "口味", "口味", "", 1),
    ("review:tmall:R2", "物流", "物流", "", 1),
    ("review:tmall:R3", "包装/破损", "包装", "破损", -1),
    ("review:tmall:R4", "包装/破损", "包装", "破损", -1),
    ("review:tmall:R5", "包装/破损", "包装", "破损", -1),
    ("survey:S:1", "价格", "价格", "", 1),
    ("survey:S:1", "质量", "质量", "", 1),
]
RULES = """version: 1
rules:
  - {name: test_negative_share, metric: negative_share, window_seconds: 3600, min_mentions: 3, high: 0.5}
"""


def expected_alert_id(aspect: str) -> str:
    basis = f"test_negative_share|{BRAND}|P2|{aspect}|{int(HOUR.timestamp())}"
    return hashlib.sha256(basis.encode()).hexdigest()[:32]


def test_known_messages_end_exactly_where_they_should(
    make_stack: Callable[..., Stack], tmp_path: Path
) -> None:
    rules = tmp_path / "rules.yaml"
    rules.write_text(RULES)
    stack = make_stack(alert_rules_path=str(rules), max_message_bytes="2048")
    worker = stack.start_worker()
    reviews = VALID_REVIEWS[:3] + [bad for bad, _ in INVALID_REVIEWS] + VALID_REVIEWS[3:]
    stack.produce(stack.topics.reviews_raw, reviews)
    stack.produce(stack.topics.chats_raw, CHATS, key_field="conversation_id")
    stack.produce(stack.topics.surveys_raw, SURVEYS)

    stack.wait_until(
        "7 feedback rows", lambda: stack.query("SELECT count() FROM feedback")[0][0], lambda n: n >= 7
    )
    stack.wait_until(
        "2 alert rows", lambda: stack.query("SELECT count() FROM alerts")[0][0], lambda n: n >= 2
    )

    feedback = stack.query(
        "SELECT feedback_id, source, channel, product_sku, polarity, text, rating, nps "
        "FROM feedback FINAL ORDER BY feedback_id"
    )
    assert feedback == EXPECTED_FEEDBACK
    assert stack.query("SELECT count() FROM feedback")[0][0] == 7  # no duplicates either
    mentions = stack.query(
        "SELECT feedback_id, aspect, aspect_l1, aspect_l2, polarity FROM aspect_mentions FINAL "
        "ORDER BY feedback_id, aspect"
    )
    assert mentions == EXPECTED_MENTIONS
    # Lineage: every row knows the raw record it was scored and stored from.
    lineage = stack.query(
        "SELECT DISTINCT origin_topic, kafka_topic, origin_offset = kafka_offset FROM feedback "
        "ORDER BY origin_topic"
    )
    assert lineage == [
        (stack.topics.chats_raw, stack.topics.chats_raw, 1),
        (stack.topics.reviews_raw, stack.topics.reviews_raw, 1),
        (stack.topics.surveys_raw, stack.topics.surveys_raw, 1),
    ]
    refs = stack.query("SELECT customer_ref FROM feedback WHERE feedback_id = 'review:tmall:R1'")[0][0]
    assert len(refs) == 32 and "cust" not in refs

    alerts = sorted(
        (Alert.model_validate_json(r.value) for r in stack.read(stack.topics.alerts)),
        key=lambda a: a.scope.aspect,
    )
    assert [
        (a.alert_id, a.rule, a.scope.product, a.scope.aspect, a.observed, a.mentions) for a in alerts
    ] == [
        (expected_alert_id("包装"), "test_negative_share", "P2", "包装", 1.0, 3),
        (expected_alert_id("包装/破损"), "test_negative_share", "P2", "包装/破损", 1.0, 3),
    ]
    # Samples come in processing order, which depends on the partitions the unkeyed reviews hit.
    for alert in alerts:
        assert (alert.window_start, set(alert.sample_feedback_ids)) == (
            HOUR,
            {"review:tmall:R3", "review:tmall:R4", "review:tmall:R5"},
        )
    stored_alerts = stack.query("SELECT alert_id, aspect, mentions FROM alerts FINAL ORDER BY aspect")
    assert stored_alerts == [(a.alert_id, a.scope.aspect, a.mentions) for a in alerts]

    dead = stack.read(stack.topics.dlq)
    reasons = [(r.value, DeadLetterReason.from_headers(r.headers)) for r in dead]
    assert sorted((value, reason.reason) for value, reason in reasons) == sorted(INVALID_REVIEWS)
    for value, reason in reasons:
        assert (reason.stage, reason.source_topic) == ("ingest", stack.topics.reviews_raw)
        # The coordinates point at the original record.
        source = [
            r
            for r in stack.read(stack.topics.reviews_raw, 1)
            if r.partition == reason.source_partition and r.offset == reason.source_offset
        ]
        assert [r.value for r in source] == [value]

    # Operability: metrics and liveness answer, and SIGTERM stops the worker promptly and cleanly.
    status, body = stack.http_get(worker, "/metrics")
    assert status == 200
    assert 'voc_dead_letters_total{reason="not_json",stage="ingest_reviews"} 1.0' in body
    assert 'voc_messages_skipped_total{reason="not_customer_voice",stage="ingest_chats"} 1.0' in body
    assert stack.http_get(worker, "/livez")[0] == 200
    started = time.monotonic()
    stack.stop_worker(worker)
    assert worker.returncode == 0 and time.monotonic() - started < 15
