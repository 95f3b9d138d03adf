"""The sinks' replay filter, on current ClickHouse (chdb): a batch stored, then read again,
is never stored twice; offsets reused by a recreated topic are not mistaken for a replay."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from prometheus_client import CollectorRegistry

from pipeline.runtime.metrics import PipelineMetrics
from schemas.feedback import Origin, ScoredFeedback
from schemas.records import Columns, Stored
from sinks.exactly_once import ExactlyOnceInserter, stored_feedback
from sinks.rows import feedback_columns
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

    async def query(self, sql: str, params: dict[str, Any], table: str = "") -> list[tuple[Any, ...]]:
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


def test_a_rebalance_while_a_batch_is_being_stored_does_not_crash_the_sink(engine: ChdbClient) -> None:
    # Regression: forget() ran (partitions assigned) while the sink awaited ClickHouse; the
    # inserter then looked up the offsets it had just learnt and raised KeyError, which
    # crashed the store agent for good.
    topic = f"scored-{uuid.uuid4().hex}"
    sink = Sink(engine)
    sink.store(batch(topic, 0, range(0, 10)))
    sink.inserter.forget()
    query, insert = sink.query, sink.insert

    async def query_then_rebalance(sql: str, params: dict[str, Any], table: str) -> list[tuple[Any, ...]]:
        rows = await query(sql, params, table)
        sink.inserter.forget()
        return rows

    async def insert_then_rebalance(table: str, columns: Columns) -> None:
        await insert(table, columns)
        sink.inserter.forget()

    sink.inserter = ExactlyOnceInserter(
        query_then_rebalance, insert_then_rebalance, PipelineMetrics.create(CollectorRegistry())
    )
    assert sink.store(batch(topic, 0, range(5, 20))) == 5
    assert stored(engine, topic) == (20, 20)


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


def scored(feedback_id: str, origin_offset: int, event_time: datetime = T) -> ScoredFeedback:
    return ScoredFeedback(
        feedback_id=feedback_id,
        source="review",
        channel="tmall",
        brand="云杉",
        product_sku="P1",
        text="包装破了",
        event_time=event_time.replace(tzinfo=UTC),
        origin=Origin(topic="raw", partition=0, offset=origin_offset, timestamp_ms=0),
        polarity=-1,
        score=0.1,
        taxonomy_version="t",
        model_version="m",
    )


def test_feedback_published_again_by_a_replayed_stage_is_left_out(engine: ChdbClient) -> None:
    stored_batch = [scored(f"u{i}-{uuid.uuid4().hex}", i, T + timedelta(seconds=i)) for i in range(5)]
    engine.insert(
        "feedback", feedback_columns([Stored(f, "scored", 0, i) for i, f in enumerate(stored_batch)], 1)
    )
    again = [
        *stored_batch[3:],  # the replayed stage's outputs: same raw records
        scored("new-" + uuid.uuid4().hex, 99),  # new
        stored_batch[0].model_copy(update={"text": "包装破了，已经补发"}),  # edited by its author
        stored_batch[1].model_copy(update={"model_version": "m2"}),  # scored again by a new model
        stored_batch[3],  # the same feedback twice in one batch
        stored_batch[2].model_copy(
            update={"origin": Origin(topic="raw", partition=0, offset=8, timestamp_ms=0)}
        ),
    ]

    async def query(sql: str, params: dict[str, Any], table: str) -> list[tuple[Any, ...]]:
        return list(engine.execute(sql, params))

    # Left out: the two replayed ones, the repeat and the one its source sent again unchanged;
    # kept: the new one, the edited one and the re-scored one (they replace on merge).
    assert asyncio.run(stored_feedback(query, again)) == {0, 1, 5, 6}


def test_every_table_a_sink_writes_has_a_row_id_among_its_columns() -> None:
    # Review of issue #17: the case and conversation sinks had none, so a batch read again
    # after a crash raised KeyError on every try and stopped its partition.
    from sinks.exactly_once import ROW_IDS
    from sinks.rows import (
        ACTION_COLUMNS,
        ALERT_COLUMNS,
        CASE_COLUMNS,
        CONVERSATION_COLUMNS,
        FEEDBACK_COLUMNS,
        MENTION_COLUMNS,
    )  # fmt: skip

    written = {
        "feedback": FEEDBACK_COLUMNS, "aspect_mentions": MENTION_COLUMNS, "alerts": ALERT_COLUMNS,
        "actions": ACTION_COLUMNS, "case_events": CASE_COLUMNS, "conversations": CONVERSATION_COLUMNS,
    }  # fmt: skip
    for table, columns in written.items():
        assert ROW_IDS[table] in columns, table
