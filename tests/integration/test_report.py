"""Report queries on the real ClickHouse server: the competitor gap."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

import orjson
import pytest

from pipeline.reporting.report import action_effects, competitor_gaps, render_report
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


def test_an_action_on_the_topic_is_stored_and_its_effect_reported(make_stack: Callable[..., Stack]) -> None:
    stack = make_stack()
    client = stack.client()
    taken = datetime(2026, 11, 5, 12, 0)
    rows = []
    # 包装 of 云杉-1: 12 hours before, 8 of 10 mentions negative; after, 1 of 10; a mention of
    # 包装/破损 counts for 包装, another product and aspect do not.
    for i in range(10):
        for hours, negative, aspect, product in (
            (-12, i < 8, "包装", "云杉-1"),
            (12, i < 1, "包装/破损", "云杉-1"),
            (12, True, "包装", "云杉-2"),
            (12, True, "物流", "云杉-1"),
        ):
            row: dict[str, object] = dict.fromkeys(MENTION_COLUMNS, "")
            row.update(
                feedback_id=f"{product}-{aspect}-{hours}-{i}", brand="云杉", product_sku=product,
                event_time=taken + timedelta(hours=hours), aspect=aspect, aspect_l1=aspect.split("/")[0],
                polarity=-1 if negative else 1, score=0.5, opinion_words=[], kafka_partition=0,
                kafka_offset=i, stored_at_ms=1,
            )  # fmt: skip
            rows.append(row)
    client.execute(f"INSERT INTO aspect_mentions ({', '.join(MENTION_COLUMNS)}) VALUES", rows)
    action = {
        "action_id": "A1", "brand": "云杉", "product": "云杉-1", "aspect": "包装",
        "taken_at": taken.isoformat() + "Z", "description": "换了包装供应商", "actor": "QA",
        "target_negative_share": 0.3,
    }  # fmt: skip
    worker = stack.start_worker()
    stack.produce(stack.topics.actions, [orjson.dumps(action)], key_field="brand")
    stack.wait_until(
        "the action row", lambda: stack.query("SELECT count() FROM actions")[0][0], lambda n: n == 1
    )
    stack.stop_worker(worker)
    [day] = action_effects(client, [24])
    assert day[:2] == ("A1", "云杉/云杉-1/包装") and day[3:] == (
        "换了包装供应商", "24h", "80.0% of 10", "10.0% of 10", -70.0, True,
    )  # fmt: skip
    assert "换了包装供应商" in render_report(client, action_horizons_h=(24,))
    client.disconnect()
