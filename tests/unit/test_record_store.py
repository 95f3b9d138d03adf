"""Storing whole records: rows ClickHouse can never take are found before anything is sent,
and a batch the server refuses is split until the culprit is found (issue #12)."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import pytest
from prometheus_client import CollectorRegistry

from pipeline.runtime.metrics import PipelineMetrics
from pipeline.text.analysis import Analyzer
from schemas.feedback import ScoredFeedback
from schemas.records import Columns, Stored
from sinks.clickhouse import BatchRejected
from sinks.column_check import invalid_rows
from sinks.exactly_once import ExactlyOnceInserter
from sinks.record_store import RecordStore
from sinks.rows import feedback_columns, mention_columns
from tests.unit.chdb_engine import ChdbClient
from tests.unit.conftest import feedback


@pytest.fixture(scope="module")
def engine() -> ChdbClient:
    client = ChdbClient()
    client.migrate()
    return client


def types_of(engine: ChdbClient, table: str) -> dict[str, str]:
    return {str(r[0]): str(r[1]) for r in engine.execute(f"DESCRIBE TABLE {table}")}


def test_invalid_rows_names_the_row_column_and_reason(engine: ChdbClient) -> None:
    types = types_of(engine, "feedback")
    ok = datetime(2026, 11, 1, tzinfo=UTC)
    columns: Columns = {
        "event_time": [ok, datetime(1, 1, 1, tzinfo=UTC), datetime(2200, 1, 1, tzinfo=UTC), ok, ok, ok],
        "rating": [None, 5, 5, 300, 5, 5],
        "text": ["好", "好", "好", "好", "bad \udc80 surrogate", "好"],
        "polarity": [1, 1, 1, 1, 1, -1],
        "score": [0.5, 0.5, 0.5, 0.5, 0.5, 1e300],  # Float32 overflow is stored as inf: fine
    }
    problems = invalid_rows(types, columns)
    assert sorted(problems) == [1, 2, 3, 4]
    assert problems[1].startswith(
        "column event_time (DateTime): 0001-01-01T00:00:00+00:00 is out of the range"
    )
    assert "2200-01-01" in problems[2]
    assert problems[3] == "column rating (Nullable(UInt8)): 300 is out of the range of UInt8 (0 .. 255)"
    assert problems[4].startswith("column text (String): not valid UTF-8")
    assert invalid_rows(types, {"unknown_column": [object()], "text": []}) == {}


def test_array_and_wrong_python_types_are_caught(engine: ChdbClient) -> None:
    types = types_of(engine, "aspect_mentions")
    problems = invalid_rows(types, {"opinion_words": [["破"], ["破", 3]], "polarity": [True, "1"]})
    assert sorted(problems) == [0, 1]
    assert "True is not a Int8" in problems[0]
    assert "3 is not a String" in problems[1] or "'1' is not a Int8" in problems[1]


class Recorder:
    """Inserts into chdb; refuses (like the server would) any batch holding ``poison`` ids."""

    def __init__(self, engine: ChdbClient, poison: set[str] = frozenset()):  # type: ignore[assignment]
        self.engine, self.poison, self.calls = engine, poison, 0

    async def query(self, sql: str, params: dict[str, Any], table: str = "") -> list[tuple[Any, ...]]:
        return list(self.engine.execute(sql, params))

    async def insert(self, table: str, columns: Columns) -> None:
        self.calls += 1
        if self.poison & set(columns["feedback_id"]):
            raise BatchRejected(table, ValueError("Code: 53. type mismatch"))
        self.engine.insert(table, columns)

    async def column_types(self, table: str) -> dict[str, str]:
        return types_of(self.engine, table)


def store(engine: ChdbClient, recorder: Recorder, items: Sequence[Stored[ScoredFeedback]]) -> dict[int, Any]:
    metrics = PipelineMetrics.create(CollectorRegistry())
    inserter = ExactlyOnceInserter(recorder.query, recorder.insert, metrics)
    records = RecordStore(
        [("aspect_mentions", mention_columns), ("feedback", feedback_columns)],
        inserter,
        recorder.column_types,
        metrics,
    )
    return asyncio.run(records.store(items, 1))


def scored(analyzer: Analyzer, topic: str, count: int, **overrides: Any) -> list[Stored[ScoredFeedback]]:
    texts = ["包装破了", "味道很好", "物流太慢"]
    return [
        Stored(analyzer.score(feedback(texts[i % 3], feedback_id=f"{topic}-{i}", **overrides)), topic, 0, i)
        for i in range(count)
    ]


def counts(engine: ChdbClient, topic: str) -> tuple[int, int]:
    [(fb,)] = engine.execute("SELECT count() FROM feedback WHERE kafka_topic = %(t)s", {"t": topic})
    [(mentions,)] = engine.execute(
        "SELECT count() FROM aspect_mentions WHERE kafka_topic = %(t)s", {"t": topic}
    )
    return int(fb), int(mentions)


def test_a_record_with_one_bad_row_is_left_out_of_every_table(engine: ChdbClient, analyzer: Analyzer) -> None:
    items = scored(analyzer, "scored-a", 10)
    # One record whose event time no DateTime holds (it got past ingest somehow).
    bad = items[4].message.model_copy(update={"event_time": datetime(2200, 1, 1, tzinfo=UTC)})
    items[4] = Stored(bad, items[4].topic, 0, 4)
    rejected = store(engine, Recorder(engine), items)
    assert list(rejected) == [4]
    assert rejected[4].reason == "sink_rejected" and "event_time" in rejected[4].message
    # Its mention is not stored without it; the nine others are stored whole.
    good_mentions = sum(len(i.message.aspects) for n, i in enumerate(items) if n != 4)
    assert counts(engine, "scored-a") == (9, good_mentions)


def test_a_batch_the_server_refuses_is_split_until_the_culprit_is_found(
    engine: ChdbClient, analyzer: Analyzer
) -> None:
    items = scored(analyzer, "scored-b", 16)
    recorder = Recorder(engine, poison={"scored-b-11"})
    rejected = store(engine, recorder, items)
    assert list(rejected) == [11] and "type mismatch" in rejected[11].message
    assert counts(engine, "scored-b")[0] == 15
    assert recorder.calls < 16 * 2  # halves, not one insert per record


def test_a_record_a_row_builder_fails_on_is_a_processing_error(
    engine: ChdbClient, analyzer: Analyzer
) -> None:
    items = scored(analyzer, "scored-c", 3)
    metrics = PipelineMetrics.create(CollectorRegistry())
    recorder = Recorder(engine)

    def picky(batch: Sequence[Stored[ScoredFeedback]], stored_at_ms: int) -> Columns:
        if any(item.message.feedback_id == "scored-c-1" for item in batch):
            raise ValueError("cannot store scored-c-1")
        return feedback_columns(batch, stored_at_ms)

    records = RecordStore(
        [("aspect_mentions", mention_columns), ("feedback", picky)],
        ExactlyOnceInserter(recorder.query, recorder.insert, metrics),
        recorder.column_types,
        metrics,
    )
    rejected = asyncio.run(records.store(items, 1))
    assert {i: r.reason for i, r in rejected.items()} == {1: "processing_error"}
    assert counts(engine, "scored-c")[0] == 2
