"""``voc forget`` on ClickHouse 18.16 (issue #13): a real worker stores three customers'
feedback, the CLI erases one of them by their source id, and nothing of theirs is left in the
facts, the profile or the alerts while the others' rows and the rollups stay as they were."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import orjson
import pytest

from config import REPO_ROOT
from pipeline.ingest import customer_ref
from pipeline.ops.erasure import ERASED
from tests.integration.conftest import Stack

pytestmark = pytest.mark.integration

# Customer C0's complaint is critical (食物中毒 always counts): each of theirs raises an alert
# routed to them. Texts differ by their order number: the same text twice from one customer
# would be a duplicate.
TEXTS = ("吃完食物中毒了,包装也破了", "送得太慢了,味道一般", "味道很好,包装精美")


def _voc(stack: Stack, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pipeline.cli", *args],
        env=stack.env, cwd=REPO_ROOT, capture_output=True, text=True, timeout=120,
    )  # fmt: skip


def review(i: int, now: datetime) -> bytes:
    """Review F<i> by customer C<i % 3>."""
    return orjson.dumps({
        "review_id": f"F{i}", "platform": "tmall", "brand": "云杉", "product": {"sku": "S1"},
        "rating": 1, "text": f"第{i}单{TEXTS[i % 3]}", "customer_id": f"C{i % 3}",
        "created_at": (now - timedelta(minutes=30 - i)).isoformat(),
    })  # fmt: skip


def test_forget_erases_one_customer_and_only_them(make_stack: Callable[..., Stack]) -> None:
    stack = make_stack()
    now = datetime.now(UTC).replace(microsecond=0)
    reviews = [review(i, now) for i in range(30)]
    worker = stack.start_worker()
    stack.produce(stack.topics.reviews_raw, reviews)
    stack.wait_until(
        "every feedback stored",
        lambda: stack.settled_row("SELECT count() FROM feedback")[0],
        lambda n: n == 30,
    )
    stack.wait_until(
        "the critical alerts", lambda: stack.settled_row("SELECT count() FROM alerts")[0], lambda n: n >= 10
    )
    stack.stop_worker(worker)
    ref = customer_ref("C0", stack.settings.customer_ref_salt.get_secret_value().encode())
    rollup_sql = "SELECT sum(feedback) FROM feedback_rollup_hour"
    rollup_before = stack.query(rollup_sql)
    others_before = stack.query("SELECT customer_ref, count() FROM feedback GROUP BY customer_ref ORDER BY 1")
    quoted = stack.query(
        "SELECT count() FROM alerts WHERE routing_key = %(route)s", {"route": f"customer:{ref}"}
    )[0][0]
    assert quoted == 10

    dry = _voc(stack, "forget", "--customer-id", "C0", "--dry-run", "--json")
    assert dry.returncode == 0, dry.stderr
    assert orjson.loads(dry.stdout)["stored"]["feedback"] == 10
    assert stack.query("SELECT count() FROM feedback WHERE customer_ref = %(r)s", {"r": ref}) == [(10,)]

    done = _voc(stack, "forget", "--customer-id", "C0", "--requested-by", "ticket-42", "--json")
    assert done.returncode == 0, done.stderr
    result = orjson.loads(done.stdout)
    assert result["customer_ref"] == ref
    assert result["erased"]["feedback"] == 10 and result["erased"]["customer_profile"] == 1
    assert result["erased"]["aspect_mentions"] >= 10 and result["erased"]["alerts"] == 10

    params = {"r": ref, "ids": [f"F{i}" for i in range(0, 30, 3)]}
    assert stack.query("SELECT count() FROM feedback WHERE customer_ref = %(r)s", params) == [(0,)]
    assert stack.query("SELECT count() FROM aspect_mentions WHERE has(%(ids)s, feedback_id)", params) == [
        (0,)
    ]
    assert stack.query("SELECT count() FROM customer_experience WHERE customer_ref = %(r)s", params) == [(0,)]
    texts = [t for (v,) in stack.query("SELECT verbatims FROM alerts") for t in v]
    assert ERASED in texts and not any("食物中毒" in t for t in texts)
    assert stack.query("SELECT count() FROM alerts WHERE routing_key LIKE %(r)s", {"r": f"%{ref}%"}) == [(0,)]
    # Everyone else, and the anonymous counts, as they were.
    assert [row for row in others_before if row[0] != ref] == stack.query(
        "SELECT customer_ref, count() FROM feedback GROUP BY customer_ref ORDER BY 1"
    )
    assert stack.query(rollup_sql) == rollup_before
    assert stack.query(
        "SELECT requested_by, feedback_rows, alert_rows FROM erasure_log WHERE customer_ref = %(r)s", params
    ) == [("ticket-42", 10, 10)]


def test_forget_needs_one_customer(make_stack: Callable[..., Stack]) -> None:
    stack = make_stack()
    neither = _voc(stack, "forget")
    both = _voc(stack, "forget", "--customer-id", "C0", "--customer-ref", "x")
    empty = _voc(stack, "forget", "--customer-ref", " ")
    for result in (neither, both, empty):
        assert result.returncode == 2 and "customer" in result.stderr


def test_after_a_salt_rotation_forget_under_the_old_salt_erases_the_old_rows(
    make_stack: Callable[..., Stack],
) -> None:
    # docs/operations.md, "Rotate the customer-hash salt": rows written before the rotation
    # carry the old hash, so a deletion request is run a second time with the old salt.
    old, new = "salt-before-rotation", "salt-after-rotation"
    stack = make_stack(customer_ref_salt=old)
    now = datetime.now(UTC).replace(microsecond=0)
    worker = stack.start_worker()
    stack.produce(stack.topics.reviews_raw, [review(i, now) for i in range(6)])  # C0: F0, F3
    stack.wait_until(
        "six stored", lambda: stack.query("SELECT count() FROM feedback")[0][0], lambda n: n == 6
    )
    stack.stop_worker(worker)
    rotated = Stack({**stack.env, "VOC_CUSTOMER_REF_SALT": new}, stack.settings, stack.topics, stack.log_dir)
    worker = rotated.start_worker()
    stack.workers.append(worker)  # stopped by the fixture if the test fails
    rotated.produce(stack.topics.reviews_raw, [review(i, now) for i in range(6, 12)])  # C0: F6, F9
    stack.wait_until(
        "twelve stored", lambda: stack.query("SELECT count() FROM feedback")[0][0], lambda n: n == 12
    )
    rotated.stop_worker(worker)
    ids = ", ".join(f"'review:tmall:F{i}'" for i in (0, 3, 6, 9))  # customer C0's
    c0 = f"SELECT count() FROM feedback WHERE has([{ids}], feedback_id)"
    assert stack.query(c0) == [(4,)]

    under_new = _voc(rotated, "forget", "--customer-id", "C0", "--json")
    assert under_new.returncode == 0, under_new.stderr
    assert orjson.loads(under_new.stdout)["erased"]["feedback"] == 2  # only what the new salt hashed
    assert stack.query(c0) == [(2,)]
    under_old = _voc(stack, "forget", "--customer-id", "C0", "--json")
    assert under_old.returncode == 0, under_old.stderr
    assert orjson.loads(under_old.stdout)["erased"]["feedback"] == 2
    assert stack.query(c0) == [(0,)]
    assert stack.query("SELECT count() FROM feedback")[0][0] == 8  # the other customers' rows stay


def test_a_profile_counts_once_however_many_inserts_built_it(make_stack: Callable[..., Stack]) -> None:
    # The profile table is an AggregatingMergeTree: one state row per insert until a merge.
    # The erasure report counted rows, so the same profile was 1 or 2 as the worker batched.
    from pipeline.ops.erasure import find_customer

    stack = make_stack()
    client = stack.client()
    try:
        for n in (1, 2):  # two inserts, two parts, one customer and brand
            client.execute(
                "INSERT INTO feedback (feedback_id, brand, customer_ref, event_time, polarity) VALUES",
                [(f"review:tmall:P{n}", "云杉", "ref-1", datetime(2026, 11, 1, 10, n), -1)],
            )
        assert client.execute("SELECT count() FROM customer_experience_state")[0][0] == 2
        assert find_customer(client, "ref-1").customer_profile == 1
    finally:
        client.disconnect()
