"""Every migration and every report query also runs on current ClickHouse (chdb, embedded).

The local server is 18.16 and production runs a current release: the same SQL must run on
both. Integration tests run it on 18.16; this runs it on the engine chdb embeds.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from pipeline.reporting import report
from tests.unit.chdb_engine import ChdbClient

T = datetime(2026, 11, 5, 12, 0)


@pytest.fixture(scope="module")
def current() -> ChdbClient:
    client = ChdbClient()
    client.migrate()
    mentions = [
        f"('{brand}-{aspect}-{i}', 'review', 'tmall', '{brand}', '{brand}-1', '', "
        f"'{(T + timedelta(hours=h)).strftime('%Y-%m-%d %H:%M:%S')}', '{aspect}', '{aspect}', '', "
        f"{-1 if i < neg else 1}, 0.5, [], '差', 't', 'scored', 0, {i}, 1)"
        for brand, aspect, h, neg in (
            ("云杉", "包装", -2, 6),
            ("云杉", "包装", 2, 1),
            ("北极星", "包装", 0, 2),
        )
        for i in range(10)
    ]
    client.execute("INSERT INTO aspect_mentions VALUES " + ", ".join(mentions))
    client.execute(
        "INSERT INTO feedback (feedback_id, source, channel, brand, event_time, polarity) VALUES "
        "('f1', 'review', 'tmall', '云杉', '2026-11-05 12:00:00', -1)"
    )
    client.execute(
        "INSERT INTO alerts (alert_id, kind, rule, severity, brand, window_start, window_end, created_at) "
        "VALUES ('a1', 'spike', 'r', 'warning', '云杉', '2026-11-05 12:00:00', '2026-11-05 13:00:00', "
        "'2026-11-05 12:30:00')"
    )
    client.execute(
        "INSERT INTO actions (action_id, brand, aspect, taken_at, description, target_negative_share) VALUES "
        "('A1', '云杉', '包装', '2026-11-05 12:00:00', '换供应商', 0.3)"
    )
    return client


def test_every_migration_applies_on_current_clickhouse(current: ChdbClient) -> None:
    tables = {row[0] for row in current.execute("SHOW TABLES")}
    assert {"feedback", "aspect_mentions", "alerts", "actions"} <= tables
    columns = {row[0] for row in current.execute("DESCRIBE TABLE alerts")}
    assert {"verbatims", "reason", "resolves", "channel"} <= columns


def test_report_queries_run_on_current_clickhouse(current: ChdbClient) -> None:
    assert current.execute(report.CHANNEL_MIX_SQL) == [("review", "tmall", 1, 1.0)]
    negative = current.execute(report.NEGATIVE_ASPECTS_SQL, {"min_mentions": 5, "limit": 5})
    assert negative[0][:5] == ("云杉", "云杉-1", "包装", 20, 7)
    assert current.execute(report.RECENT_ALERTS_SQL, {"limit": 5})[0][1] == "r"
    gaps = report.competitor_gaps(current, "云杉", ["北极星"], min_mentions=5)
    assert [(g[1], g[2]) for g in gaps] == [("包装", 15.0)]  # 35% vs 20%
    effects = report.action_effects(current, [24])
    assert effects[0][5:] == ("60.0% of 10", "10.0% of 10", -50.0, True)
    assert "换供应商" in report.render_report(current, brand_groups={"云杉": ("北极星",)})
