"""The sinks' replay filter, on current ClickHouse (chdb): a batch stored, then read again,
is never stored twice; offsets reused by a recreated topic are not mistaken for a replay."""

from __future__ import annotations

import asyncio
import uuid
from datetime import datetime
from typing import Any

import pytest
from prometheus_client import CollectorRegistry

from pipeline.metrics import PipelineMetrics
from sinks.exactly_once import ExactlyOnceInserter
from sinks.rows import Columns
from tests.unit.chdb_engine import ChdbClient

T = datetime(2026, 11, 5, 12, 0)


@pytest.fixture(scope="module")
def engine() -> ChdbClient:
    client = ChdbClient()
    client.migrate()
    return client


class Sink:
    """An inserter on the embedded engine that counts the rows it was asked to insert."""

    def __init__(self, engine: ChdbClient):
        self.engine = engine
        self.inserted = 0
        self.inserter = ExactlyOnceInserter(
            self.query, self.insert, PipelineMetrics.create(CollectorRegistry())
        )

    async def query(self, sql: str, params: dict[str, Any]) -> list[tuple[Any, ...]]:
        return list(self.engine.execute(sql, params))

    async def insert(self, table: str, columns: Columns) -> None:
        self.inserted += len(columns["kafka_offset"])
        self.engine.insert(table, columns)

    def store(self, columns: Columns) -> int:
        return asyncio.run(self.inserter.insert("feedback", columns))


def batch(topic: str, partition: int, offsets: range, id_prefix: str = "") -> Columns:
    id_prefix = id_prefix or f"p{partition}-"
    return {
        "feedback_id": [f"{id_prefix}{o}" for o in offsets],
        "brand": ["云杉"] * len(offsets),
        "event_time": [T] * len(offsets),
        "kafka_topic": [topic] * len(offsets),
        "kafka_partition": [partition] * len(offsets),
        "kafka_offset": list(offsets),
    }


def stored(engine: ChdbClient, topic: str) -> tuple[int, int]:
    rows = engine.execute(
        "SELECT count(), uniqExact(feedback_id) FROM feedback WHERE kafka_topic = %(t)s", {"t": topic}
    )
    return int(rows[0][0]), int(rows[0][1])


def test_a_batch_read_again_after_a_crash_is_not_stored_twice(engine: ChdbClient) -> None:
    topic = f"scored-{uuid.uuid4().hex}"
    first = Sink(engine)
    assert first.store(batch(topic, 0, range(0, 100))) == 0
    assert first.store(batch(topic, 1, range(0, 50))) == 0
    # The worker died before committing; the next one reads from the last commit (offset 60
    # of partition 0, 0 of partition 1) and goes further.
    restarted = Sink(engine)
    assert restarted.store(batch(topic, 0, range(60, 150))) == 40
    assert restarted.store(batch(topic, 1, range(0, 80))) == 50
    assert restarted.inserted == 50 + 30
    assert stored(engine, topic) == (230, 230)


def test_rows_at_reused_offsets_are_new_when_their_ids_differ(engine: ChdbClient) -> None:
    # A broker on memory storage restarted: the topic starts at offset 0 again.
    topic = f"scored-{uuid.uuid4().hex}"
    sink = Sink(engine)
    sink.store(batch(topic, 0, range(0, 20), id_prefix="before-"))
    assert Sink(engine).store(batch(topic, 0, range(0, 20), id_prefix="after-")) == 0
    assert stored(engine, topic) == (40, 40)


def test_offsets_are_learnt_again_after_a_rebalance(engine: ChdbClient) -> None:
    topic = f"scored-{uuid.uuid4().hex}"
    ours, other = Sink(engine), Sink(engine)
    ours.store(batch(topic, 0, range(0, 10)))
    # Partition 0 moved to another worker, which stored more, then came back.
    other.store(batch(topic, 0, range(10, 30)))
    ours.inserter.forget()
    assert ours.store(batch(topic, 0, range(10, 40))) == 20
    assert stored(engine, topic) == (40, 40)


def test_a_batch_spanning_stored_and_new_partitions(engine: ChdbClient) -> None:
    topic = f"scored-{uuid.uuid4().hex}"
    Sink(engine).store(batch(topic, 2, range(0, 5)))
    mixed = {
        name: a + b
        for (name, a), b in zip(
            batch(topic, 2, range(3, 8)).items(), batch(topic, 3, range(0, 4)).values(), strict=True
        )
    }
    assert Sink(engine).store(mixed) == 2
    assert stored(engine, topic) == (12, 12)
