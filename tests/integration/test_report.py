"""Report queries on the real ClickHouse server: the competitor gap."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

import pytest

from pipeline.report import competitor_gaps, render_report
from sinks.rows import MENTION_COLUMNS
from tests.integration.conftest import Stack

pytestmark = pytest.mark.integration

DAY = datetime(2026, 11, 5, 12, 0)


def mentions(brand: str, aspect: str, total: int, negative: int) -> list[dict[str, object]]:
    rows = []
    for i in range(total):
        row: dict[str, object] = dict.fromkeys(MENTION_COLUMNS, "")
        row.update(
            feedback_id=f"{brand}-{aspect}-{i}", brand=brand, product_sku=f"{brand}-1", event_time=DAY,
            aspect=aspect, aspect_l1=aspect.split("/")[0], aspect_l2="", polarity=-1 if i < negative else 1,
            score=0.5, opinion_words=[], kafka_partition=0, kafka_offset=i, stored_at_ms=1,
        )  # fmt: skip
        rows.append(row)
    return rows


def test_competitor_gap_in_percentage_points(make_stack: Callable[..., Stack]) -> None:
    stack = make_stack()
    rows = (
        mentions("云杉", "包装", 20, 10)  # 50% negative
        + mentions("北极星", "包装", 20, 4)  # 20%
        + mentions("青禾", "包装", 10, 1)  # 10%: competitors average 15%, not 5/30
        + mentions("云杉", "物流", 10, 1)
        + mentions("北极星", "物流", 3, 3)  # below min_mentions: no competitor, no row
        + mentions("其他", "包装", 10, 10)  # not in the group
    )
    client = stack.client()
    client.execute(f"INSERT INTO aspect_mentions ({', '.join(MENTION_COLUMNS)}) VALUES", rows)
    gaps = competitor_gaps(client, "云杉", ["北极星", "青禾"], min_mentions=5)
    assert [(str(r[0]), r[1], r[2], r[3], r[4], r[5], r[6]) for r in gaps] == [
        ("2026-11-05", "包装", 35.0, 50.0, 15.0, 20, 30)
    ]
    report = render_report(client, brand_groups={"云杉": ("北极星", "青禾")})
    client.disconnect()
    assert "Competitor gap: 云杉 vs 北极星, 青禾" in report and "35.0" in report
