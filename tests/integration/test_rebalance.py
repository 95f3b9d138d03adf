"""Real rebalances on Apache Kafka: a worker restarted mid-stream, a second worker joining.

Each ends with every feedback stored exactly once within a bounded time. At-least-once
between topics: raw row counts may exceed the input after a SIGKILL (a batch stored but not
yet committed is read again); the sinks leave such rows out, so counts are exact. Opt-in
(``make test-rebalance``, several rounds) because each test streams 12,000 reviews.
"""

from __future__ import annotations

import signal
import subprocess
from collections.abc import Callable

import orjson
import pytest

from tests.integration.conftest import Stack

pytestmark = [pytest.mark.integration, pytest.mark.rebalance]

COUNT = 12_000
BATCH = 250
TEXTS = ["包装破了，东西压坏了", "味道很好，送餐很快", "快递太慢了", "质量不错，价格便宜", "客服态度很差"]


def reviews(count: int) -> list[bytes]:
    return [
        orjson.dumps(
            {
                "review_id": f"R{i}",
                "platform": "jd",
                "brand": f"B{i % 3}",
                "product": {"sku": f"P{i % 17}"},
                "rating": 1 + i % 5,
                "text": TEXTS[i % len(TEXTS)],
                "created_at": "2026-11-01T10:00:00Z",
            }
        )
        for i in range(count)
    ]


def consumed_by(stack: Stack, worker: subprocess.Popen[bytes]) -> list[str]:
    """The worker's non-zero ``voc_messages_in_total`` lines."""
    body = stack.http_get(worker, "/metrics")[1]
    return [
        line
        for line in body.splitlines()
        if line.startswith("voc_messages_in_total") and not line.endswith(" 0.0")
    ]


def distinct_stored(stack: Stack) -> int:
    return int(stack.query("SELECT uniqExact(feedback_id) FROM feedback")[0][0])


def wait_until_stored(stack: Stack, timeout_s: float = 300) -> None:
    """Wait until every feedback is stored. No supervisor restarts a worker: one whose
    ``/livez`` fails (a stall, or a range of offsets its stream skipped) fails the test, since
    a restart would hide what went wrong (issue #12: Faust's recovery lost records after
    every assignment until pipeline/runtime/faust_recovery.py)."""

    def probe() -> int:
        for proc in stack.workers:
            if proc.poll() is None:
                status, body = stack.http_get(proc, "/livez")
                # 0: not answering yet (starting).
                assert status in (0, 200), (
                    f"a worker reports itself unhealthy: {body}; logs in {stack.log_dir}"
                )
        return distinct_stored(stack)

    stack.wait_until("every feedback stored", probe, lambda n: n >= COUNT, timeout_s=timeout_s)


def assert_each_feedback_once(stack: Stack) -> None:
    rows, distinct, final, rollup = stack.settled_row(
        "SELECT count(), uniqExact(feedback_id), (SELECT count() FROM feedback FINAL), "
        "(SELECT sum(feedback) FROM feedback_rollup_hour) FROM feedback"
    )
    assert (rows, distinct, final, rollup) == (COUNT, COUNT, COUNT, COUNT), f"logs in {stack.log_dir}"


def already_stored(stack: Stack, worker: subprocess.Popen[bytes]) -> int:
    """Feedback the worker's sink read and found already stored (replayed offsets, or
    records an upstream stage published again)."""
    body = stack.http_get(worker, "/metrics")[1]
    names = (
        "voc_feedback_already_stored_total ",
        'voc_clickhouse_rows_already_stored_total{table="feedback"} ',
    )
    return int(sum(float(line.rsplit(" ", 1)[1]) for line in body.splitlines() if line.startswith(names)))


@pytest.mark.parametrize("stop_signal", [signal.SIGTERM, signal.SIGKILL], ids=["sigterm", "sigkill"])
def test_worker_restarted_mid_stream_loses_nothing(
    make_stack: Callable[..., Stack], stop_signal: int
) -> None:
    stack = make_stack(log_level="info", batch_max_messages=str(BATCH), stall_timeout_s="20")
    first = stack.start_worker("first")
    stack.produce(stack.topics.reviews_raw, reviews(COUNT), key_field="review_id")
    stack.wait_until("a part of the stream stored", lambda: distinct_stored(stack), lambda n: n >= 1_000)
    stack.stop_worker(first, stop_signal)
    assert distinct_stored(stack) < COUNT, "the stream was not interrupted; raise COUNT"
    second = stack.start_worker("second")
    wait_until_stored(stack)
    assert_each_feedback_once(stack)
    if stop_signal == signal.SIGTERM:
        # A clean stop commits everything it finished: what the next worker's sink finds
        # already stored is at most the batches the four agents had in hand (issue #12: a
        # SIGTERM restart used to re-read 26,539 of 30,000 scored records).
        reread = already_stored(stack, second)
        assert reread <= 4 * BATCH, f"the restarted worker read {reread} stored feedback again"


def test_second_worker_joins_and_first_leaves_mid_stream(make_stack: Callable[..., Stack]) -> None:
    stack = make_stack(log_level="info", batch_max_messages=str(BATCH), stall_timeout_s="20")
    first = stack.start_worker("first")
    stack.produce(stack.topics.reviews_raw, reviews(COUNT), key_field="review_id")
    stack.wait_until("a part of the stream stored", lambda: distinct_stored(stack), lambda n: n >= 1_000)
    second = stack.start_worker("second")
    # Both workers share the partitions after the rebalance: the second one consumes too.
    stack.wait_until(
        "the second worker to consume",
        lambda: consumed_by(stack, second),
        lambda counters: bool(counters),
        timeout_s=90,
    )
    stack.stop_worker(first)
    wait_until_stored(stack)
    assert_each_feedback_once(stack)
