"""Poison input never blocks the pipeline (issue #12), on the real broker and ClickHouse.

Tried as a new user would: one schema-valid review with ``created_at`` 0001-01-01 used to
block the feedback sink forever (0 of 601 stored, nothing in the DLQ); with 2200-01-01 the
mentions were stored but never the feedback. A sink that cannot reach ClickHouse must say
so on ``/livez`` and count its failed queries.
"""

from __future__ import annotations

import re
import socket
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import orjson
import pytest

from pipeline.ops.kafka_io import PRODUCT_KEY
from schemas.dead_letters import DeadLetterReason
from tests.integration.conftest import Stack

pytestmark = pytest.mark.integration

START = datetime(2026, 11, 1, 10, tzinfo=UTC)
TEXTS = ["包装破了，东西压坏了", "味道很好，送餐很快", "快递太慢了", "质量不错，价格很便宜"]


def review(i: int, created_at: str | None = None) -> bytes:
    return orjson.dumps({
        "review_id": f"P{i}", "platform": "jd", "brand": "云杉", "product": {"sku": f"S{i % 5}"},
        "text": TEXTS[i % len(TEXTS)], "customer_id": f"C{i}",
        "created_at": created_at or (START + timedelta(seconds=i)).isoformat(),
    })  # fmt: skip


def dead_letters(stack: Stack, count: int) -> list[tuple[bytes, DeadLetterReason]]:
    records = stack.wait_until(
        "dead letters", lambda: stack.read(stack.topics.dlq), lambda r: len(r) >= count
    )
    return [(r.value, DeadLetterReason.from_headers(r.headers)) for r in records]


def metric(body: str, name: str) -> float:
    match = re.search(rf"^{re.escape(name)} (\S+)$", body, re.MULTILINE)
    return float(match.group(1)) if match else 0.0


def test_event_times_no_table_can_hold_are_dead_letters_and_the_rest_is_stored(
    make_stack: Callable[..., Stack],
) -> None:
    stack = make_stack()
    stack.start_worker()
    poison = [review(9_001, "0001-01-01T00:00:00Z"), review(9_002, "2200-01-01T00:00:00Z")]
    stack.produce(
        stack.topics.reviews_raw,
        [*(review(i) for i in range(300)), *poison, *(review(i) for i in range(300, 600))],
    )
    stack.wait_until(
        "600 feedback", lambda: stack.query("SELECT count() FROM feedback")[0][0], lambda n: n >= 600
    )
    dead = dead_letters(stack, 2)
    assert sorted(value for value, _ in dead) == sorted(poison)
    assert {(r.stage, r.reason) for _, r in dead} == {("ingest", "out_of_range")}
    # Facts and rollups agree: nothing of the poison reached either.
    feedback, mentions, mention_rows, rollup_feedback, rollup_mentions = stack.settled_row(
        "SELECT count(), sum(aspect_count), (SELECT count() FROM aspect_mentions), "
        "(SELECT sum(feedback) FROM feedback_rollup_day), (SELECT sum(mentions) FROM aspect_rollup_day) "
        "FROM feedback"
    )
    assert feedback == 600
    assert mention_rows == mentions
    assert rollup_feedback == 600
    assert rollup_mentions == mentions


def test_a_record_clickhouse_cannot_hold_is_a_sink_rejected_dead_letter(
    make_stack: Callable[..., Stack],
) -> None:
    # A table was changed under the worker (an operator narrowed a column): a negative aspect
    # mention (polarity -1) no longer fits, and only its feedback may be held back.
    stack = make_stack()
    stack.query("ALTER TABLE aspect_mentions MODIFY COLUMN polarity UInt8")
    worker = stack.start_worker()
    values = [
        orjson.dumps(
            {
                **orjson.loads(review(i)),
                "review_id": f"K{i}",
                "product": {"sku": f"S{i % 3}"},
                "text": "包装破了，东西压坏了" if i == 25 else "味道很好，送餐很快",
            }
        )
        for i in range(50)
    ]
    stack.produce(stack.topics.reviews_raw, values, key_field=PRODUCT_KEY)
    stack.wait_until(
        "49 feedback", lambda: stack.query("SELECT count() FROM feedback")[0][0], lambda n: n >= 49
    )
    [(value, reason)] = dead_letters(stack, 1)
    assert value == values[25]
    assert (reason.stage, reason.reason) == ("sink", "sink_rejected")
    assert "polarity" in reason.error_message and "UInt8" in reason.error_message
    # Neither its feedback nor its other mentions were stored; every other feedback's were.
    rejected_mentions, mentions, expected = stack.settled_row(
        "SELECT countIf(feedback_id = 'review:jd:K25'), count(), "
        "(SELECT sum(aspect_count) FROM feedback) FROM aspect_mentions"
    )
    assert (rejected_mentions, mentions) == (0, expected) and mentions > 0
    body = stack.http_get(worker, "/metrics")[1]
    assert metric(body, 'voc_dead_letters_total{reason="sink_rejected",stage="ingest_reviews"}') == 1
    assert metric(body, 'voc_clickhouse_rows_rejected_total{table="aspect_mentions"}') == 1


def test_a_sink_without_clickhouse_fails_livez_and_counts_its_failed_queries(
    make_stack: Callable[..., Stack],
) -> None:
    with socket.socket() as sock:  # a port nothing listens on: ClickHouse is "down"
        sock.bind(("127.0.0.1", 0))
        closed_port = sock.getsockname()[1]
    stack = make_stack(stall_timeout_s="5")
    stack.env["VOC_CLICKHOUSE_PORT"] = str(closed_port)
    worker = stack.start_worker()
    stack.produce(stack.topics.reviews_raw, [review(i) for i in range(20)])
    _, body = stack.wait_until(
        "/livez to report the stalled sink",
        lambda: stack.http_get(worker, "/livez"),
        lambda answer: answer[0] == 503,
        timeout_s=90,
    )
    stalls = orjson.loads(body)["stalls"]
    assert {s["stage"] for s in stalls} >= {"ingest_reviews"}
    assert all(s["lag"] > 0 and s["idle_s"] >= 5 for s in stalls)
    metrics = stack.http_get(worker, "/metrics")[1]
    assert metric(metrics, 'voc_clickhouse_query_failures_total{table="feedback"}') >= 1
    assert 'voc_partition_stalled{partition="' in metrics
    # Still up and in its group: restarting it is the supervisor's call, not a crash.
    assert worker.poll() is None
    assert stack.http_get(worker, "/readyz")[0] == 200
