"""Exactly-once into ClickHouse: a worker killed (SIGKILL) after it stored a batch but before
the batch's offsets were committed stores nothing twice when it is restarted (issue #5).

Feedback is stored where it is scored, from the raw topic: every raw record the second
worker reads again is one whose feedback the first already stored. Reviews keyed by product
are counted where they are scored; reviews keyed otherwise move to the repartition topic
first, so both paths are replayed.
"""

from __future__ import annotations

import asyncio
import re
import signal
import subprocess
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import orjson
import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition

from pipeline.ops.kafka_io import PRODUCT_KEY
from pipeline.runtime.kafka_connection import KafkaConnection
from tests.integration.conftest import Stack

pytestmark = pytest.mark.integration

COUNT = 3_000
TEXTS = ["包装破了，东西压坏了", "味道很好，送餐很快", "快递太慢了", "质量不错，价格很便宜", "客服态度很差"]
START = datetime(2026, 11, 1, 10, tzinfo=UTC)


def reviews(prefix: str) -> list[bytes]:
    """COUNT raw reviews over 3 brands and 17 products."""
    return [
        orjson.dumps(
            {
                "review_id": f"{prefix}{i}",
                "platform": "jd",
                "brand": f"B{i % 3}",
                "product": {"sku": f"P{i % 17}"},
                "rating": 1 + i % 5,
                "text": TEXTS[i % len(TEXTS)],
                "created_at": (START + timedelta(seconds=i)).isoformat(),
                "customer_id": f"C{i}",
            }
        )
        for i in range(COUNT)
    ]


async def _offsets(
    kafka: KafkaConnection, group: str, topic: str, partitions: int
) -> tuple[list[int], list[int]]:
    """The group's committed offset (0 where none) and the end offset, per partition."""
    consumer = AIOKafkaConsumer(**kafka.client_options(), group_id=group, enable_auto_commit=False)
    await consumer.start()
    try:
        tps = [TopicPartition(topic, p) for p in range(partitions)]
        ends = await consumer.end_offsets(tps)
        return [await consumer.committed(tp) or 0 for tp in tps], [ends[tp] for tp in tps]
    finally:
        await consumer.stop()


def offsets(stack: Stack, topic: str) -> tuple[list[int], list[int]]:
    settings = stack.settings
    return asyncio.run(
        _offsets(KafkaConnection.from_settings(settings), settings.app_id, topic, settings.topic_partitions)
    )


def committed(stack: Stack) -> list[int]:
    return offsets(stack, stack.topics.reviews_raw)[0]


def uncommitted(stack: Stack, topic: str) -> int:
    """Records of ``topic`` the group has not committed: what a new worker reads again."""
    done, ends = offsets(stack, topic)
    return sum(ends) - sum(done)


def metric(body: str, name: str) -> float:
    match = re.search(rf"^{re.escape(name)} (\S+)$", body, re.MULTILINE)
    return float(match.group(1)) if match else 0.0


def wait_for_reads(
    stack: Stack, worker: subprocess.Popen[bytes], count: int, timeout_s: float
) -> tuple[int, int]:
    """Poll the worker's metrics until its review ingest read ``count`` messages or the time
    is up; returns messages read and feedback left out as already stored."""

    def sample() -> tuple[int, int]:
        body = stack.http_get(worker, "/metrics")[1]
        reads = int(metric(body, 'voc_messages_in_total{stage="ingest_reviews"}'))
        return reads, int(metric(body, "voc_feedback_already_stored_total"))

    deadline = time.monotonic() + timeout_s
    reads, left_out = sample()
    while reads < count and time.monotonic() < deadline:
        time.sleep(0.5)
        reads, left_out = sample()
    # A batch is counted as read before the sink has looked it up: let the last ones finish.
    settle = time.monotonic() + 30
    while left_out != reads and time.monotonic() < settle:
        time.sleep(0.5)
        reads, left_out = sample()
    return reads, left_out


def restart_and_replay(stack: Stack, topics: list[str]) -> None:
    """Start one worker and wait until it has read again everything the group had not
    committed on ``topics`` (each record there becomes one feedback); every feedback
    it reads was stored before, so each must be left out."""
    expected = sum(uncommitted(stack, topic) for topic in topics)
    worker = stack.start_worker("restarted")
    reads, left_out = wait_for_reads(stack, worker, expected, timeout_s=90)
    assert reads >= expected, f"the restarted worker read {reads} of {expected}; logs in {stack.log_dir}"
    assert left_out == reads, f"the restarted worker read {reads} stored feedback, left out {left_out}"
    stack.stop_worker(worker, signal.SIGTERM)


def test_worker_killed_between_insert_and_commit_stores_each_message_once(
    make_stack: Callable[..., Stack],
) -> None:
    # Commits every 10 minutes: whatever the first worker stores is not committed.
    stack = make_stack(commit_interval_s="600", log_level="info")
    first = stack.start_worker("first")
    stack.produce(stack.topics.reviews_raw, reviews("E"), key_field=PRODUCT_KEY)
    stack.wait_until(
        "every message stored",
        lambda: stack.query("SELECT count() FROM feedback")[0][0],
        lambda n: n >= COUNT,
    )
    time.sleep(1)
    mention_count = stack.query("SELECT count() FROM aspect_mentions")[0][0]
    stack.stop_worker(first, signal.SIGKILL)
    assert sum(committed(stack)) < COUNT, "offsets were committed before the kill; the test proves nothing"

    restart_and_replay(stack, [stack.topics.reviews_raw])

    rows, distinct = stack.query("SELECT count(), uniqExact(feedback_id) FROM feedback")[0]
    assert (rows, distinct) == (COUNT, COUNT)
    assert stack.query("SELECT count() FROM aspect_mentions")[0][0] == mention_count


def test_a_whole_worker_killed_mid_stream_counts_each_feedback_once(make_stack: Callable[..., Stack]) -> None:
    # Every stage replays what it had not committed: the ingest agent publishes its outputs
    # again under new offsets (scored, repartitioned: these reviews are not keyed by product),
    # and the sink must still store each feedback once, so that the rollups do not count it
    # twice.
    stack = make_stack(commit_interval_s="600", log_level="info")
    first = stack.start_worker("first")
    stack.produce(stack.topics.reviews_raw, reviews("W"), key_field="review_id")
    stack.wait_until(
        "every feedback stored",
        lambda: stack.query("SELECT count() FROM feedback")[0][0],
        lambda n: n >= COUNT,
    )
    time.sleep(1)
    mentions_before = stack.query("SELECT count() FROM aspect_mentions")[0][0]
    stack.stop_worker(first, signal.SIGKILL)
    assert uncommitted(stack, stack.topics.reviews_raw) > 0, "raw offsets were committed: nothing to replay"

    restart_and_replay(stack, [stack.topics.reviews_raw])

    assert stack.query("SELECT count(), uniqExact(feedback_id) FROM feedback")[0] == (COUNT, COUNT)
    assert stack.query("SELECT count() FROM aspect_mentions")[0][0] == mentions_before
    assert stack.query("SELECT sum(feedback) FROM feedback_rollup_hour")[0][0] == COUNT
    assert stack.query("SELECT sum(mentions) FROM aspect_rollup_day")[0][0] == mentions_before


def test_rollups_hold_an_insert_once_it_returns(make_stack: Callable[..., Stack]) -> None:
    # The sink commits offsets once an insert returns, so the rollups must hold the batch by
    # then. A reader *during* an insert can see its facts before its rollup rows (ClickHouse
    # writes the views after the table), which is why tests read figures with settled_row.
    stack = make_stack()
    client = stack.client()
    try:
        for batch in range(1, 11):
            client.execute(
                "INSERT INTO feedback "
                "(feedback_id, brand, product_sku, customer_ref, event_time, polarity, score) "
                "SELECT toString(number + %(first)s), 'b', toString(number %% 7), toString(number %% 11), "
                "toDateTime('2026-11-01 00:00:00') + number * 60, 1, 0.9 FROM numbers(300)",
                {"first": batch * 1000},
            )
            figures = client.execute(
                "SELECT count(), (SELECT sum(feedback) FROM feedback_rollup_hour), "
                "(SELECT sum(feedback) FROM feedback_rollup_day), "
                "(SELECT countMerge(feedback) FROM customer_experience_state) FROM feedback"
            )[0]
            assert figures == (300 * batch,) * 4
    finally:
        client.disconnect()
