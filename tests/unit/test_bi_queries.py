"""docs/bi.md: every documented query parses out of the document and runs on current
ClickHouse (chdb) against the shipped migrations; the integration test runs them on the
local 18.16 server on demo data."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from pipeline.reporting.bi_queries import bi_params, read_bi_queries
from pipeline.reporting.grafana import DASHBOARD_PATH, dashboard, dashboard_json
from tests.unit.chdb_engine import ChdbClient

T = datetime(2026, 11, 5, 12, 0)


@pytest.fixture(scope="module")
def current() -> ChdbClient:
    client = ChdbClient()
    client.migrate()
    feedback: dict[str, list[Any]] = {
        "feedback_id": [f"f{i}" for i in range(12)],
        "source": ["review"] * 12,
        "channel": ["tmall"] * 6 + ["jd"] * 6,
        "brand": ["云杉"] * 7 + ["北极星"] * 5,
        "product_sku": ["P1"] * 12,
        "variant": ["红色"] * 6 + ["蓝色"] * 6,
        "customer_ref": ["c1", "c1", "c1"] + [f"c{i}" for i in range(3, 12)],
        "event_time": [T + timedelta(minutes=10 * i) for i in range(12)],
        "text": ["包装破了"] * 12,
        "polarity": [-1, -1, -1, 1, 1, 0, -1, 1, -1, 1, 1, 1],
        "score": [0.1] * 12,
        "rating": [1, 2, 3, 4, 5, 5, 1, 4, 2, 5, 5, 5],
        "nps": [0, 3, 9, 10, 8, 7, 2, 9, 1, 10, 9, 9],
    }
    client.insert("feedback", feedback)
    # Two social posts (query 20): a complaint with more engagement than the praise.
    client.insert(
        "feedback",
        {
            "feedback_id": ["social:weibo:p1", "social:weibo:p2"],
            "source": ["social", "social"],
            "channel": ["weibo", "weibo"],
            "brand": ["云杉", "云杉"],
            "event_time": [T, T + timedelta(minutes=5)],
            "text": ["云杉手机坏了", "云杉不错"],
            "polarity": [-1, 1],
            "engagement": [120, 30],
        },
    )
    # Survey answers with CSAT at two touchpoints (queries 13 and 14).
    client.insert(
        "feedback",
        {
            "feedback_id": [f"s{i}" for i in range(4)],
            "source": ["survey"] * 4,
            "channel": ["post_purchase", "post_purchase", "after_chat", "after_chat"],
            "brand": ["云杉"] * 4,
            "product_sku": ["P1"] * 4,
            "event_time": [T + timedelta(minutes=15 * i) for i in range(4)],
            "text": ["还行"] * 4,
            "csat": [5, 4, 2, 1],
            "rating": [5, 4, 2, 1],
        },
    )
    mentions: dict[str, list[Any]] = {
        "feedback_id": feedback["feedback_id"],
        "brand": feedback["brand"],
        "product_sku": feedback["product_sku"],
        "channel": feedback["channel"],
        "event_time": feedback["event_time"],
        "aspect": ["包装/破损"] * 6 + ["包装"] * 6,
        "aspect_l1": ["包装"] * 12,
        "aspect_l2": ["破损"] * 6 + [""] * 6,
        "polarity": feedback["polarity"],
        "score": feedback["score"],
        "evidence": ["包装破了"] * 12,
    }
    client.insert("aspect_mentions", mentions)
    # Two cases (queries 15-17): c1's resolved after an hour, c3's open past its SLA.
    client.insert(
        "case_events",
        {
            "case_id": ["case-1", "case-1", "case-3"],
            "version": [1, 2, 1],
            "change": ["opened", "resolved", "opened"],
            "brand": ["云杉"] * 3,
            "customer_ref": ["c1", "c1", "c3"],
            "route": ["customer:c1", "customer:c1", "store:S1"],
            "severity": ["critical"] * 3,
            "status": ["open", "resolved", "open"],
            "first_complaint_at": [T, T, T + timedelta(minutes=30)],
            "last_complaint_at": [T, T, T + timedelta(minutes=30)],
            "opened_at": [T, T, T + timedelta(minutes=30)],
            "sla_due_at": [T + timedelta(hours=1)] * 2 + [T + timedelta(minutes=90)],
            "first_response_at": [None, T + timedelta(minutes=20), None],
            "resolved_at": [None, T + timedelta(minutes=60), None],
            "sla_breached": [0, 0, 1],
            "updated_at": [T, T + timedelta(minutes=60), T + timedelta(minutes=90)],
        },
    )
    # c1's chat ended unresolved just before the negative reviews (queries 18-19).
    client.insert(
        "conversations",
        {
            "conversation_id": ["CV1", "CV2"],
            "brand": ["云杉", "云杉"],
            "channel": ["app", "app"],
            "customer_ref": ["c1", "c4"],
            "outcome": ["unresolved", "resolved"],
            "ended_at": [T - timedelta(minutes=5), T - timedelta(minutes=5)],
        },
    )
    client.execute(
        "INSERT INTO actions (action_id, brand, aspect, taken_at, description, target_negative_share) VALUES "
        "('A1', '云杉', '包装', '2026-11-05 13:00:00', '换供应商', 0.3)"
    )
    client.execute(
        "INSERT INTO alerts (alert_id, kind, rule, severity, brand, window_start, window_end, created_at) "
        "VALUES ('a1', 'spike', 'r', 'warning', '云杉', '2026-11-05 12:00:00', '2026-11-05 13:00:00', "
        "'2026-11-05 12:30:00')"
    )
    return client


def test_the_document_holds_at_least_ten_queries_each_with_a_panel() -> None:
    queries = read_bi_queries()
    assert len(queries) >= 10
    assert [q.number for q in queries] == list(range(1, len(queries) + 1))
    assert {q.panel for q in queries} <= {"stat", "table", "timeseries", "barchart"}
    for query in queries:
        assert query.parameters <= {"brand", "brands", "aspect", "from", "to"}, query.title


def test_a_section_without_a_query_is_an_error(tmp_path: Path) -> None:
    doc = tmp_path / "bi.md"
    doc.write_text("## 1. Nothing\n<!-- panel: table -->\nno sql here\n", encoding="utf-8")
    with pytest.raises(ValueError, match="Nothing"):
        read_bi_queries(doc)


def test_a_section_ends_at_the_next_heading_numbered_or_not(tmp_path: Path) -> None:
    # The "## Superset" notes after the last query once became that query's description.
    doc = tmp_path / "bi.md"
    query = "<!-- panel: table -->\nAbout it.\n\n```sql\nSELECT 1\n```\n"
    doc.write_text(f"## 1. One\n{query}\n## Notes\nnot part of it\n", encoding="utf-8")
    [only] = read_bi_queries(doc)
    assert only.description == "About it." and only.sql == "SELECT 1"


def test_every_documented_query_runs_on_current_clickhouse(current: ChdbClient) -> None:
    params = bi_params("云杉", ["北极星"], "包装", T - timedelta(hours=1), T + timedelta(hours=3))
    results = {q.number: q.run(current, params) for q in read_bi_queries()}
    # Headline: 7 reviews, 4 surveys and 2 social posts of 云杉, 5 negative; ratings sum 21 + 12
    # over 11; NPS 0,3,9,10,8,7,2 (the others have none): 2 promoters, 3 detractors.
    assert results[1] == [(13, 0.385, 3.0, -14.3)]
    assert results[20] == [("weibo", 2, 0.5, 150, 120, "云杉手机坏了")]
    # CSAT: 5, 4 after purchase (both satisfied), 2, 1 after a chat (both dissatisfied).
    assert results[14] == [("after_chat", 2, 0.0, 100.0, 1.5), ("post_purchase", 2, 100.0, 0.0, 4.5)]
    assert sum(row[1] for row in results[13]) == 4
    # Cases: c3's waits past its SLA at a store; c1's was answered in 20 min, resolved in 60.
    assert results[15] == [("store:S1", "critical", 1, 1, 1, results[15][0][5])]
    assert [row[:4] for row in results[16]] == [
        ("customer care", 1, 1, 20.0),
        ("store:S1", 1, 0, results[16][1][3]),
    ]
    assert results[17][0][:3] == ("customer care", 1, 0)  # c1 wrote nothing after the resolution
    # f0, f1 and f2 (all negative) within 7 days after CV1.
    assert [(row[0], row[6]) for row in results[18]] == [("c1", "f0"), ("c1", "f1"), ("c1", "f2")]
    assert results[19] == [
        ("1. chatted", 2), ("2. a chat ended unresolved", 1), ("3. then a negative review within 7 days", 1),
        ("4. and a case", 1), ("5. and the case resolved", 1),
    ]  # fmt: skip
    # The one customer with repeated complaints: three feedback, all negative.
    assert [(r[0], r[1], r[2]) for r in results[11]] == [("c1", 3, 3)]
    # The action at 13:00: the 12:00 hour has 3 of 6 mentions negative, the 13:00 hour 1 of 1.
    assert [r[:2] + r[3:] for r in results[12]] == [("A1", "换供应商", 0.3, 6, 0.5, 1, 1.0, 0)]
    # Competitor gap: 云杉 4 of 7 negative (57.1%), 北极星 1 of 5 (20%).
    assert [r[:4] for r in results[6]] == [("包装", 57.1, 20.0, 37.1)]
    assert all(results[n] for n in results), [n for n in results if not results[n]]


def test_the_committed_grafana_dashboard_is_generated_from_the_document() -> None:
    assert DASHBOARD_PATH.read_text(encoding="utf-8") == dashboard_json(read_bi_queries()), (
        "deploy/grafana/dashboards/voc.json is stale: run `voc grafana dashboard`"
    )


def test_grafana_panels_run_once_grafana_fills_in_its_variables(current: ChdbClient) -> None:
    model = dashboard(read_bi_queries())
    assert {v["name"] for v in model["templating"]["list"]} == {"brand", "competitors", "aspect"}
    filled = {
        "${brand}": "云杉",
        "${competitors:singlequote}": "'北极星'",
        "${aspect}": "包装",
        "$__fromTime": "toDateTime('2026-11-05 11:00:00')",
        "$__toTime": "toDateTime('2026-11-05 15:00:00')",
    }
    for panel in model["panels"]:
        sql = panel["targets"][0]["rawSql"]
        for variable, value in filled.items():
            sql = sql.replace(variable, value)
        assert current.execute(sql), panel["title"]


def test_the_customer_profile_view_keeps_the_latest_state(current: ChdbClient) -> None:
    rows = current.execute(
        "SELECT feedback_count, complaints, last_feedback_id, last_nps, nps_category, first_seen, last_seen "
        "FROM customer_experience WHERE customer_ref = 'c1'"
    )
    # c1 wrote f0 (NPS 0), f1 (3), f2 (9, latest): three complaints, last answer a promoter's.
    assert rows == [(3, 3, "f2", 9, "promoter", T, T + timedelta(minutes=20))]
    c5 = current.execute("SELECT nps_category, last_nps FROM customer_experience WHERE customer_ref = 'c5'")
    assert c5 == [("passive", 7)]
