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
