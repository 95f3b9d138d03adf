"""Baselines live in the window table: a restarted worker resumes with them (issue #4)."""

from __future__ import annotations

import signal
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson
import pytest

from schemas.alerts import Alert
from tests.integration.conftest import Stack

pytestmark = pytest.mark.integration

START = datetime(2026, 11, 3, tzinfo=UTC)
PER_HOUR = 40
RULES = """version: 1
rules:
  - {name: spike, kind: spike, window_seconds: 3600, min_mentions: 30, min_baseline_windows: 4}
"""
NEGATIVE = "包装破了，东西都压坏了"
POSITIVE = "包装很好，很满意"


def hour_of_reviews(hour: int, negative: int) -> list[bytes]:
    """PER_HOUR reviews of one product in one hour of event time, ``negative`` of them
    complaining about the packaging; one customer each, so none is a duplicate."""
    return [
        orjson.dumps(
            {
                "review_id": f"H{hour}-{i}",
                "platform": "jd",
                "brand": "云杉",
                "product": {"sku": "P1"},
                "text": NEGATIVE if i < negative else POSITIVE,
                "created_at": (START + timedelta(hours=hour, seconds=60 * i)).isoformat(),
                "customer_id": f"C{hour}-{i}",
            }
        )
        for i in range(PER_HOUR)
    ]


def detected(stack: Stack, worker: object) -> float:
    """How many scored feedback the worker's product detector has taken in."""
    body = stack.http_get(worker, "/metrics")[1]  # type: ignore[arg-type]
    for line in body.splitlines():
        if line.startswith("voc_feedback_detected_total "):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


def test_a_restarted_worker_resumes_with_its_baselines(
    make_stack: Callable[..., Stack], tmp_path: Path
) -> None:
    rules = tmp_path / "rules.yaml"
    rules.write_text(RULES)
    stack = make_stack(alert_rules_path=str(rules))
    first = stack.start_worker("first")
    # Eight stationary hours (10% negative): the windows of hours 0-5 close into the baseline.
    for hour in range(8):
        stack.produce(stack.topics.reviews_raw, hour_of_reviews(hour, negative=4))
    stack.wait_until("8 hours detected", lambda: detected(stack, first), lambda n: n >= 8 * PER_HOUR)
    stack.stop_worker(first, signal.SIGTERM)

    second = stack.start_worker("second")
    stack.produce(stack.topics.reviews_raw, hour_of_reviews(8, negative=4))
    stack.produce(stack.topics.reviews_raw, hour_of_reviews(9, negative=20))  # 50%: a spike
    stack.wait_until("2 more hours detected", lambda: detected(stack, second), lambda n: n >= 2 * PER_HOUR)

    def spikes() -> list[Alert]:
        alerts = [Alert.model_validate_json(r.value) for r in stack.read(stack.topics.alerts)]
        return [a for a in alerts if a.kind == "spike" and a.scope.aspect == "包装"]

    [spike] = stack.wait_until("a spike alert", spikes, lambda found: len(found) >= 1, timeout_s=60)
    # Only a baseline recovered from the changelog explains this alert: the second worker saw
    # two hours, and a baseline needs four closed windows before the rule trusts it.
    assert spike.window_start == START + timedelta(hours=9)
    assert spike.expected is not None and 0.05 <= spike.expected <= 0.2
    assert spike.observed >= 0.4


BRAND_RULES = """version: 1
rules:
  - {name: brand_mentions, kind: threshold, level: brand, metric: mentions, window_seconds: 3600,
     min_mentions: 4, high: 3}
  - {name: channel_mentions, kind: threshold, level: channel, metric: mentions, window_seconds: 3600,
     min_mentions: 4, high: 3}
"""


def test_brand_and_channel_windows_run_in_the_worker(
    make_stack: Callable[..., Stack], tmp_path: Path
) -> None:
    rules = tmp_path / "rules.yaml"
    rules.write_text(BRAND_RULES)
    stack = make_stack(alert_rules_path=str(rules))
    stack.start_worker()
    # Two products with two 包装/破损 mentions each: only the brand's windows (包装 and
    # 包装/破损) and the jd channel's reach four.
    reviews = [
        orjson.dumps({
            "review_id": f"B{i}", "platform": "jd", "brand": "云杉", "product": {"sku": f"P{i % 2}"},
            "text": NEGATIVE, "created_at": START.isoformat(), "customer_id": f"C{i}",
        })
        for i in range(4)
    ]  # fmt: skip
    stack.produce(stack.topics.reviews_raw, reviews)

    def window_alerts() -> list[Alert]:
        return [Alert.model_validate_json(r.value) for r in stack.read(stack.topics.alerts)]

    found = stack.wait_until("brand and channel alerts", window_alerts, lambda a: len(a) >= 3, timeout_s=60)
    scopes = sorted((a.rule, a.scope.product, a.scope.aspect, a.scope.channel, a.mentions) for a in found)
    assert scopes == [
        ("brand_mentions", "", "包装", "", 4),
        ("brand_mentions", "", "包装/破损", "", 4),
        ("channel_mentions", "", "", "jd", 4),
    ]
    sql = "SELECT rule, product, aspect, channel FROM alerts ORDER BY aspect"
    stored = stack.wait_until("3 alert rows", lambda: stack.query(sql), lambda rows: len(rows) >= 3)
    assert ("channel_mentions", "", "", "jd") in stored
