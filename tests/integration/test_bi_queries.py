"""Every query of docs/bi.md on the demo data, through the running pipeline into the local
ClickHouse 18.16, with checks that each answer is non-empty and makes sense (issue #5)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from pipeline.bi_queries import bi_params, read_bi_queries
from pipeline.demo_data import COMPETITORS, INCIDENT_SKU, INCIDENT_START, OWN_BRAND, START, write_demo_files
from schemas.actions import Action
from tests.integration.conftest import Stack

pytestmark = pytest.mark.integration

KEYS = {"reviews": "review_id", "chats": "conversation_id", "surveys": "response_id"}


def demo_stack(make_stack: Callable[..., Stack], tmp_path: Path) -> Stack:
    """A worker that has stored the demo data and one action on the incident product."""
    stack = make_stack()
    manifest = write_demo_files(tmp_path / "demo")
    stack.start_worker()
    topics = {
        "reviews": stack.topics.reviews_raw,
        "chats": stack.topics.chats_raw,
        "surveys": stack.topics.surveys_raw,
    }
    for name, path in manifest.files.items():
        stack.produce(topics[name], path.read_bytes().splitlines(), key_field=KEYS[name])
    action = Action(
        action_id="demo-packaging-fix",
        brand=OWN_BRAND,
        product=INCIDENT_SKU,
        aspect="包装",
        taken_at=INCIDENT_START + timedelta(hours=1),
        description="换用加厚纸箱",
        target_negative_share=0.3,
    )
    stack.produce(stack.topics.actions, [action.model_dump_json().encode()])
    stack.wait_until(
        "the demo feedback and the action stored",
        lambda: stack.query("SELECT uniqExact(feedback_id), (SELECT count() FROM actions) FROM feedback")[0],
        lambda counts: counts[0] >= manifest.expected_feedback and counts[1] >= 1,
    )
    return stack


def columns(stack: Stack, sql: str, params: dict[str, Any]) -> list[str]:
    """Names of the columns a query returns."""
    client = stack.client()
    try:
        _, types = client.execute(sql, params, with_column_types=True)
    finally:
        client.disconnect()
    return [name for name, _ in types]


def test_every_documented_query_answers_sensibly_on_the_demo_data(
    make_stack: Callable[..., Stack], tmp_path: Path
) -> None:
    stack = demo_stack(make_stack, tmp_path)
    params = bi_params(OWN_BRAND, COMPETITORS, "包装", START, START + timedelta(days=1))
    queries = {q.number: q for q in read_bi_queries()}
    answers: dict[int, list[dict[str, Any]]] = {}
    for number, query in queries.items():
        sql_params = {k: params[k] for k in query.parameters}
        names = columns(stack, query.sql, sql_params)
        answers[number] = [dict(zip(names, row, strict=True)) for row in stack.query(query.sql, sql_params)]
        assert answers[number], f"query {number} ({query.title}) is empty on the demo data"
        for row in answers[number]:
            for name, value in row.items():
                if value is not None and (name.endswith("_share") or name == "approval_rate"):
                    assert 0 <= value <= 1, (number, name, row)

    headline = answers[1][0]
    assert headline["feedback_count"] > 100 and -100 <= headline["nps"] <= 100
    assert 1 <= headline["average_rating"] <= 5
    severity = [row["severity"] for row in answers[2]]
    assert severity == sorted(severity, reverse=True)
    # The demo's incident: broken boxes of the own brand's oranges are among the top problems.
    assert any(
        row["product_sku"] == INCIDENT_SKU and row["aspect"].startswith("包装") for row in answers[2][:5]
    ), answers[2][:5]
    assert {row["aspect_l1"] for row in answers[3]} == {"包装"} and any(
        row["aspect_l2"] for row in answers[3]
    )
    assert all(row["aspect"].startswith("包装") and row["text"] for row in answers[4])
    for row in answers[6]:
        assert abs(row["gap_pp"] - (row["own_share_pct"] - row["competitor_share_pct"])) < 0.11
    assert all(-100 <= row["nps"] <= 100 for row in answers[7])
    assert abs(sum(row["share_of_feedback"] for row in answers[9]) - 1) < 0.01
    assert {"critical_feedback"} <= {row["kind"] for row in answers[10]}
    assert all(row["complaints"] >= 2 and row["feedback_count"] >= row["complaints"] for row in answers[11])
    effect = answers[12][0]
    assert effect["action_id"] == "demo-packaging-fix" and effect["mentions_before"] > 0
