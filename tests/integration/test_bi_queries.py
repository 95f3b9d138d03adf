"""Every query of docs/bi.md on the demo data, through the running pipeline into the local
ClickHouse 18.16, with checks that each answer is non-empty and makes sense (issue #5)."""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from pipeline.reporting.bi_queries import bi_params, read_bi_queries
from pipeline.reporting.html_report import default_scope, render_html_report
from pipeline.tools.case_service import respond_to_cases
from pipeline.tools.demo_data import (
    COMPETITORS,
    INCIDENT_SKU,
    INCIDENT_START,
    OWN_BRAND,
    START,
    write_demo_files,
)
from schemas.actions import Action
from schemas.cases import Case
from tests.integration.conftest import Stack

pytestmark = pytest.mark.integration

KEYS = {"reviews": "review_id", "chats": "conversation_id", "surveys": "response_id", "social": "post_id"}


def demo_stack(make_stack: Callable[..., Stack], tmp_path: Path) -> Stack:
    """A worker that has stored the demo data and one action on the incident product."""
    stack = make_stack()
    manifest = write_demo_files(tmp_path / "demo")
    stack.start_worker()
    topics = {
        "reviews": stack.topics.reviews_raw,
        "chats": stack.topics.chats_raw,
        "surveys": stack.topics.surveys_raw,
        "social": stack.topics.social_raw,
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
    # A store service answers the cases the critical alerts opened (queries 15-17 read them).
    stack.wait_until(
        "cases opened", lambda: stack.query("SELECT count() FROM cases FINAL")[0][0], lambda n: n > 0
    )
    time.sleep(2)  # the last critical alerts' cases
    published = [Case.model_validate_json(r.value) for r in stack.read(stack.topics.cases)]
    latest = {case.case_id: case for case in sorted(published, key=lambda c: c.version)}
    updates = respond_to_cases(list(latest.values()), datetime.now(UTC))
    stack.produce(
        stack.topics.case_updates, [u.model_dump_json().encode() for u in updates], key_field="brand"
    )
    resolved = sum(u.kind == "resolved" for u in updates)
    stack.wait_until(
        "the store service's updates stored",
        lambda: stack.query("SELECT countIf(status = 'resolved') FROM cases FINAL")[0][0],
        lambda n: n == resolved,
    )
    # Rollups trail the facts by the insert being written, and alerts arrive on their own
    # stage: read once nothing moves any more. (One full run drew 3 of the 4 charts; alone
    # the test passed, so the cause is not isolated: reading a settled database rules out both.)
    stack.settled_row(
        "SELECT count(), (SELECT sum(feedback) FROM feedback_rollup_hour), "
        "(SELECT sum(mentions) FROM aspect_rollup_hour), (SELECT count() FROM alerts) FROM feedback",
        quiet_s=2.0,
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
    assert all(row["aspect"].startswith("包装") and row["evidence"] for row in answers[4])
    for row in answers[6]:
        assert abs(row["gap_pp"] - (row["own_share_pct"] - row["competitor_share_pct"])) < 0.11
    assert all(-100 <= row["nps"] <= 100 for row in answers[7])
    assert abs(sum(row["share_of_feedback"] for row in answers[9]) - 1) < 0.01
    assert {"critical_feedback"} <= {row["kind"] for row in answers[10]}
    assert all(row["complaint_count"] >= 2 <= row["feedback_count"] for row in answers[11])
    assert all(row["feedback_count"] >= row["complaint_count"] for row in answers[11])
    effect = answers[12][0]
    assert effect["action_id"] == "demo-packaging-fix" and effect["mentions_before"] > 0
    # The customer profile view agrees with the state table the dashboard query reads.
    for row in answers[11][:5]:
        profile = stack.query(
            "SELECT feedback_count, complaints FROM customer_experience "
            "WHERE brand = %(b)s AND customer_ref = %(c)s",
            {"b": OWN_BRAND, "c": row["customer_ref"]},
        )
        assert profile == [(row["feedback_count"], row["complaint_count"])]


def test_the_html_report_renders_in_headless_chromium(
    make_stack: Callable[..., Stack], tmp_path: Path
) -> None:
    browser = shutil.which("chromium")
    if browser is None:
        pytest.fail("Debian's chromium is missing: `make browser` installs it")
    stack = demo_stack(make_stack, tmp_path)
    client = stack.client()
    try:
        scope = default_scope(client, {OWN_BRAND: COMPETITORS})
        assert scope is not None and scope.brand == OWN_BRAND
        page = render_html_report(client, scope)
    finally:
        client.disconnect()
    assert "http://" not in page and "https://" not in page, "the page must not fetch anything"
    path = tmp_path / "report.html"
    path.write_text(page, encoding="utf-8")
    screenshot = tmp_path / "report.png"
    common = [browser, "--headless", "--no-sandbox", "--disable-gpu", "--enable-logging=stderr", "--v=0"]
    dom = subprocess.run(
        [*common, "--dump-dom", path.as_uri()], capture_output=True, text=True, timeout=120, check=True
    )
    shot = subprocess.run(
        [*common, "--window-size=1400,3200", f"--screenshot={screenshot}", path.as_uri()],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    console_errors = [
        line for line in (dom.stderr + shot.stderr).splitlines() if "CONSOLE" in line or "Uncaught" in line
    ]
    assert not console_errors, console_errors
    # Rendered: the headline, every chart and the tables are in the DOM the browser built.
    assert dom.stdout.count("<svg") >= 4 and dom.stdout.count("<polyline") >= 2, dom.stdout[:500]
    for title in ("Negative share per aspect", "NPS trend", "Competitor gap", "Problems ranked by severity"):
        assert title in dom.stdout
    assert INCIDENT_SKU in dom.stdout
    assert screenshot.stat().st_size > 30_000
    # Kept for a person to look at when asked for (VOC_REPORT_SCREENSHOT_DIR).
    if keep := os.environ.get("VOC_REPORT_SCREENSHOT_DIR"):
        Path(keep).mkdir(parents=True, exist_ok=True)
        shutil.copy(screenshot, Path(keep) / "report.png")
