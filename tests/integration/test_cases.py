"""Cases end to end (issue #17), on the real broker and ClickHouse: critical reviews open
cases, a front-line service acknowledges one and resolves it, the other breaches its SLA
(found by the stream: an ``sla_breached`` alert and case event), a repeat complaint reopens
the resolved case, and bad updates become dead letters with their reasons."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import pytest

from schemas.dead_letters import DeadLetterReason
from tests.integration.conftest import Stack, run_voc
from tests.integration.test_end_to_end import BRAND, review

pytestmark = pytest.mark.integration

# Short SLAs so that the test sees a breach: 20 s to acknowledge, checked every second.
RULES = """
default_sla_minutes: 0.34
repeat_window_days: 7
expiry_days: 30
sla_check_seconds: 1
"""


def case_update(case_id: str, kind: str, **more: str) -> bytes:
    body = {"case_id": case_id, "brand": BRAND, "kind": kind, "at": datetime.now(UTC).isoformat(), **more}
    return orjson.dumps(body)


def cases(stack: Stack) -> dict[str, dict[str, Any]]:
    """The latest state of each case, by customer_ref."""
    client = stack.client()
    try:
        rows, types = client.execute("SELECT * FROM cases FINAL ORDER BY opened_at", with_column_types=True)
    finally:
        client.disconnect()
    names = [name for name, _ in types]
    return {row[names.index("customer_ref")]: dict(zip(names, row, strict=True)) for row in rows}


def test_cases_open_move_breach_and_reopen_and_bad_updates_are_dead_lettered(
    make_stack: Callable[..., Stack], tmp_path: Path
) -> None:
    rules = tmp_path / "case_rules.yaml"
    rules.write_text(RULES)
    stack = make_stack(case_rules_path=str(rules))
    stack.start_worker()
    stack.produce(
        stack.topics.reviews_raw,
        [
            review("A1", "P1", 1, "吃完就拉肚子了，我要退货", 1),
            review("B1", "P1", 1, "吃了拉肚子，必须退款", 2),
        ],
    )
    opened = stack.wait_until(
        "two cases opened", lambda: cases(stack), lambda found: len(found) == 2, timeout_s=120
    )
    by_review = {case["feedback_ids"][0].split(":")[-1]: case for case in opened.values()}
    case_a, case_b = by_review["A1"], by_review["B1"]
    assert case_a["status"] == case_b["status"] == "open" and case_a["route"].startswith("customer:")

    # The front line acknowledges A at once (keyed by brand, as the contract says); B waits.
    stack.produce(stack.topics.case_updates, [case_update(case_a["case_id"], "acknowledged", by="care-1")],
                  key_field="brand")  # fmt: skip
    bad = [
        case_update("case-" + "0" * 24, "acknowledged"),  # no such case
        case_update(case_a["case_id"], "resolved"),  # no outcome
        case_update(case_a["case_id"], "reopened"),  # acknowledged, not resolved
    ]
    stack.produce(stack.topics.case_updates, bad, key_field="brand")
    stack.produce(
        stack.topics.case_updates, [case_update(case_a["case_id"], "contacted")], key_field="case_id"
    )
    stack.produce(stack.topics.case_updates, [b"{not json"])

    def states() -> tuple[str, int, str, int]:
        found = cases(stack)
        a, b = found[case_a["customer_ref"]], found[case_b["customer_ref"]]
        return a["status"], a["sla_breached"], b["status"], b["sla_breached"]

    stack.wait_until("A acknowledged, B breached", states, lambda s: s == ("acknowledged", 0, "open", 1), 120)
    breach = stack.wait_until(
        "the sla_breached alert stored",
        lambda: stack.query(
            "SELECT routing_key, severity, reason FROM alerts FINAL WHERE kind = 'sla_breached'"
        ),
        lambda rows: len(rows) == 1,
    )
    assert breach[0][0] == case_b["route"] and case_b["case_id"] in breach[0][2]

    dead = [DeadLetterReason.from_headers(r.headers) for r in stack.read(stack.topics.dlq)]
    reasons = sorted((d.stage, d.reason) for d in dead)
    assert reasons == [
        ("cases", "case_update_rejected"),  # unknown case
        ("cases", "case_update_rejected"),  # reopened while acknowledged
        ("cases", "case_update_rejected"),  # keyed by case id, not brand
        ("cases", "not_json"),
        ("cases", "schema_invalid"),  # resolved without an outcome
    ], [(d.reason, d.error_message) for d in dead]

    # Resolved, then the same customer complains again: the case reopens.
    stack.produce(stack.topics.case_updates, [case_update(case_a["case_id"], "resolved", outcome="refunded")],
                  key_field="brand")  # fmt: skip
    stack.wait_until("A resolved", states, lambda s: s[0] == "resolved")
    repeat = {**orjson.loads(review("A2", "P2", 1, "又拉肚子了，退货！", 9)), "customer_id": "cust-A1"}
    stack.produce(stack.topics.reviews_raw, [orjson.dumps(repeat)])
    again = stack.wait_until(
        "A reopened", lambda: cases(stack)[case_a["customer_ref"]], lambda c: c["status"] == "reopened"
    )
    assert again["case_id"] == case_a["case_id"] and again["reopen_count"] == 1 and again["complaints"] == 2
    history = stack.query(
        "SELECT version, change FROM case_events FINAL WHERE case_id = %(c)s ORDER BY version",
        {"c": case_a["case_id"]},
    )
    assert history == [(1, "opened"), (2, "acknowledged"), (3, "resolved"), (4, "reopened")]
    # The cases topic carries the same history, a contract for downstream services.
    published = [json.loads(r.value) for r in stack.read(stack.topics.cases)]
    assert [c["change"] for c in published if c["case_id"] == case_a["case_id"]] == [
        "opened", "acknowledged", "resolved", "reopened",
    ]  # fmt: skip

    # A deletion request erases the customer's cases with the rest (voc forget).
    env = {**stack.env, "VOC_LOG_LEVEL": "warning"}
    ref = case_a["customer_ref"]
    forgot = run_voc(env, "forget", "--customer-ref", ref, "--requested-by", "test", "--json", timeout_s=300)
    assert forgot.returncode == 0, forgot.stdout + forgot.stderr
    assert json.loads(forgot.stdout)["erased"]["cases"] == 4
    left = stack.query(
        "SELECT (SELECT count() FROM case_events WHERE customer_ref = %(r)s), "
        "(SELECT count() FROM cases WHERE customer_ref = %(r)s)",
        {"r": ref},
    )
    assert left == [(0, 0)]
    assert stack.query("SELECT case_rows FROM erasure_log WHERE customer_ref = %(r)s", {"r": ref}) == [(4,)]
