"""Exactly-once effect of the ClickHouse sinks: a replayed batch never inserts a row twice.

A sink inserts a batch, then Faust commits the batch's offsets. A worker that dies in between
leaves rows stored whose offsets are not committed, and the next owner of the partition reads
them again. Every row carries the Kafka coordinates it was consumed from (``kafka_topic``,
``kafka_partition``, ``kafka_offset``), so:

1. per table and partition the sink knows the highest offset stored, learnt from ClickHouse the
   first time it sees the partition after start or after a rebalance (another worker may have
   stored more in between), and raised after each of its own inserts;
2. rows above that offset are new and inserted without a question;
3. for rows at or below it, ClickHouse is asked which (offset, id) pairs it holds; those rows are
   dropped from the batch. Checking the id as well as the offset means a recreated topic (offsets
   from 0 again, as after a restart of a broker on memory storage) is not mistaken for a replay.

Stages before the sink that are replayed after a crash publish their outputs again, under new
offsets, and sources send the same feedback again. :func:`stored_feedback` finds both: a
scored feedback whose row (same sort key, same masked text, same model version) is already
stored is left out of the batch, so neither the facts nor the rollups count it twice. A
feedback sent again with another text, or scored again by another model, is stored and
replaces the earlier row on merge (ReplacingMergeTree).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from pipeline.runtime.metrics import PipelineMetrics
from schemas.feedback import ScoredFeedback
from schemas.records import Columns

__all__ = ["ExactlyOnceInserter", "InsertFn", "QueryFn", "stored_feedback"]

log = logging.getLogger(__name__)

QueryFn = Callable[[str, dict[str, Any], str], Awaitable[list[tuple[Any, ...]]]]
"""Runs a read query with parameters on a table (``ClickHouseWriter.query``; the table names
the failures in the metrics)."""
InsertFn = Callable[[str, Columns], Awaitable[None]]
"""Inserts a columnar batch and returns once it is acknowledged (``ClickHouseWriter.insert``)."""

#: The column that identifies what a row stands for, per table the sinks write.
ROW_IDS = {
    "feedback": "feedback_id",
    "aspect_mentions": "feedback_id",
    "alerts": "alert_id",
    "actions": "action_id",
    "case_events": "case_id",
    "conversations": "conversation_id",
}

_NOTHING_STORED = -1


class ExactlyOnceInserter:
    """Inserts columnar batches, leaving out the rows an earlier attempt already stored."""

    def __init__(self, query: QueryFn, insert: InsertFn, metrics: PipelineMetrics):
        self._query = query
        self._insert = insert
        self._metrics = metrics
        # (table, topic, partition) → highest stored kafka_offset; missing = not learnt yet.
        self._highest: dict[tuple[str, str, int], int] = {}

    def forget(self) -> None:
        """Drop what is known about stored offsets: call on every rebalance, since another
        worker may store a partition's records while this one does not own it."""
        self._highest.clear()

    async def insert(self, table: str, columns: Columns) -> int:
        """Insert the rows of ``columns`` that ``table`` does not hold yet; returns how many
        rows were left out as already stored. ``table`` is one of :data:`ROW_IDS`."""
        topics: list[str] = columns["kafka_topic"]
        if not topics:
            return 0
        partitions: list[int] = columns["kafka_partition"]
        offsets: list[int] = columns["kafka_offset"]
        # A local view: a rebalance may forget() the shared one while this batch awaits.
        highest: dict[tuple[str, int], int] = {}
        for topic in set(topics):
            wanted = {p for t, p in zip(topics, partitions, strict=True) if t == topic}
            known = {p: self._highest.get((table, topic, p)) for p in wanted}
            if any(offset is None for offset in known.values()):
                known = dict(await self._learn(table, topic, wanted))
            highest.update({(topic, p): offset for p, offset in known.items() if offset is not None})
        replayed = [i for i in range(len(topics)) if offsets[i] <= highest[(topics[i], partitions[i])]]
        already = await self._already_stored(table, columns, replayed) if replayed else set()
        if already:
            kept = [i for i in range(len(topics)) if i not in already]
            columns = {name: [values[i] for i in kept] for name, values in columns.items()}
            self._metrics.rows_already_stored.labels(table).inc(len(already))
            log.info("%d rows of a replayed batch are already in %s; not inserted again", len(already), table)
        await self._insert(table, columns)
        for topic, partition, offset in zip(
            columns["kafka_topic"], columns["kafka_partition"], columns["kafka_offset"], strict=True
        ):
            key = (table, topic, partition)
            # Only raise what is still known: after a forget() the next batch learns afresh.
            if key in self._highest and offset > self._highest[key]:
                self._highest[key] = offset
        return len(already)

    async def _learn(self, table: str, topic: str, partitions: set[int]) -> dict[int, int]:
        """The highest stored offset of each of ``partitions`` (and of any other partition
        stored), remembered until the next forget()."""
        rows = await self._query(
            f"SELECT kafka_partition, max(kafka_offset) FROM {table} "
            "WHERE kafka_topic = %(topic)s GROUP BY kafka_partition",
            {"topic": topic},
            table,
        )
        stored = {int(p): int(o) for p, o in rows}
        learned = {
            partition: stored.get(partition, _NOTHING_STORED) for partition in partitions | set(stored)
        }
        for partition, offset in learned.items():
            self._highest[(table, topic, partition)] = offset
        return learned

    async def _already_stored(self, table: str, columns: Columns, rows: list[int]) -> set[int]:
        """Indices among ``rows`` whose (topic, partition, offset, id) ClickHouse holds."""
        id_column = ROW_IDS[table]
        wanted: dict[tuple[str, int], list[int]] = {}
        for i in rows:
            wanted.setdefault((columns["kafka_topic"][i], columns["kafka_partition"][i]), []).append(i)
        already: set[int] = set()
        for (topic, partition), indices in wanted.items():
            stored = await self._query(
                f"SELECT DISTINCT kafka_offset, {id_column} FROM {table} "
                "WHERE kafka_topic = %(topic)s AND kafka_partition = %(partition)s "
                "AND kafka_offset IN %(offsets)s",
                {
                    "topic": topic,
                    "partition": partition,
                    "offsets": tuple(sorted({columns["kafka_offset"][i] for i in indices})),
                },
                table,
            )
            pairs = {(int(offset), str(row_id)) for offset, row_id in stored}
            already.update(i for i in indices if (columns["kafka_offset"][i], columns[id_column][i]) in pairs)
        return already


# The IN on the table's whole sort key reads only the granules of these rows.
_STORED_FEEDBACK_SQL = """
SELECT DISTINCT feedback_id, text, model_version
FROM feedback
WHERE (brand, product_sku, event_time, feedback_id) IN %(keys)s
"""


async def stored_feedback(query: QueryFn, batch: Sequence[ScoredFeedback]) -> set[int]:
    """Indices of ``batch`` to leave out: feedback whose row with the same text and model
    version ClickHouse holds already, and repeats within the batch after the first (a stage
    replayed after a crash, or a source that sent the same feedback again)."""
    if not batch:
        return set()
    keys = tuple({(f.brand, f.product_sku, f.event_time, f.feedback_id) for f in batch})
    rows = await query(_STORED_FEEDBACK_SQL, {"keys": keys}, "feedback")
    seen = {(str(i), str(t), str(m)) for i, t, m in rows}
    leave_out: set[int] = set()
    for index, f in enumerate(batch):
        record = (f.feedback_id, f.text, f.model_version)
        if record in seen:
            leave_out.add(index)
        seen.add(record)
    return leave_out
