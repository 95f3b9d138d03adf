"""voc bench's synthetic traffic: event times advance at the configured rate and end where the
run puts them, so windows close and fingerprints expire during a long run."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import orjson

from pipeline.tools.bench import synthetic_reviews


def test_event_times_advance_at_the_rate_from_the_first_event() -> None:
    first = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)
    reviews = [orjson.loads(line) for line in synthetic_reviews(5, "T", first_event=first, per_hour=3600)]
    times = [datetime.fromisoformat(r["created_at"]) for r in reviews]
    assert times == [first + timedelta(seconds=i) for i in range(5)]
    assert [r["review_id"] for r in reviews] == [f"T{i}" for i in range(5)]


def test_without_a_rate_every_review_is_stamped_now() -> None:
    before = datetime.now(UTC)
    reviews = [orjson.loads(line) for line in synthetic_reviews(3, "N")]
    times = {datetime.fromisoformat(r["created_at"]) for r in reviews}
    assert len(times) == 1 and before <= times.pop() <= datetime.now(UTC)
