"""Storing whole records: every row of a record in every table, or none, and never a batch
blocked by one record ClickHouse cannot take.

A record (one scored feedback, one alert) becomes rows in one or more tables: a feedback row
and its aspect-mention rows. :meth:`RecordStore.store` builds the rows of a batch, checks
them against the tables' column types (sinks.column_check) and leaves out every record with
a row that ClickHouse could never store, before it inserts anything; the rest is inserted
table by table, in the given order, through the exactly-once inserter. If an insert still
fails for a reason that blames the data (the server refused it), the batch is split in halves
until the records at fault are found. Each left-out record is returned with the reason, for
the dead-letter topic.

One gap is known: when the server (not this check) refuses a single record's rows in a later
table, its rows in the earlier tables are already stored. The check covers every type the
tables use, so this needs a server-side rule the check does not know.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

from pipeline.runtime.metrics import PipelineMetrics
from schemas.records import Columns, Stored
from sinks.clickhouse import BatchRejected
from sinks.column_check import invalid_rows
from sinks.exactly_once import ExactlyOnceInserter

__all__ = ["RecordStore", "Rejection", "RowBuilder"]

log = logging.getLogger(__name__)

T = TypeVar("T")

RowBuilder = Callable[[Sequence[Stored[T]], int], Columns]
"""Messages (with their coordinates) and the store time → a columnar batch of one table."""
ColumnTypesFn = Callable[[str], Awaitable[Mapping[str, str]]]
"""Table → column name → ClickHouse type (``ClickHouseWriter.column_types``)."""


@dataclass(frozen=True, slots=True)
class Rejection:
    """Why one record was not stored."""

    reason: str
    """``sink_rejected`` (ClickHouse cannot hold a value) or ``processing_error`` (a row
    builder failed on it: a bug, or a message the builders did not expect)."""
    message: str


class RecordStore(Generic[T]):
    """Stores records of one message type into its tables (``builders``, in insert order)."""

    def __init__(
        self,
        builders: Sequence[tuple[str, RowBuilder[T]]],
        inserter: ExactlyOnceInserter,
        column_types: ColumnTypesFn,
        metrics: PipelineMetrics,
    ):
        self._builders = list(builders)
        self._inserter = inserter
        self._column_types = column_types
        self._metrics = metrics

    async def store(self, items: Sequence[Stored[T]], stored_at_ms: int) -> dict[int, Rejection]:
        """Store every record of ``items`` that ClickHouse can take; returns index → why, for
        the others. Retryable failures are retried inside (the call waits)."""
        rejected: dict[int, Rejection] = {}
        tables = self._build(items, range(len(items)), stored_at_ms, rejected)
        index_of = {(item.topic, item.partition, item.offset): i for i, item in enumerate(items)}
        for table, columns in tables.items():
            types = await self._column_types(table)
            for row, problem in invalid_rows(types, columns).items():
                key = (
                    columns["kafka_topic"][row],
                    columns["kafka_partition"][row],
                    columns["kafka_offset"][row],
                )
                if index_of[key] not in rejected:
                    rejected[index_of[key]] = Rejection("sink_rejected", f"{table}: {problem}")
                    self._metrics.rows_rejected.labels(table).inc()
        good = [i for i in range(len(items)) if i not in rejected]
        if len(good) < len(items):
            tables = self._build(items, good, stored_at_ms, rejected)
        await self._insert(items, good, tables, stored_at_ms, rejected)
        for index, rejection in rejected.items():
            item = items[index]
            log.warning(
                "not stored: %s partition %d offset %d (%s: %s)",
                item.topic, item.partition, item.offset, rejection.reason, rejection.message,
            )  # fmt: skip
        return rejected

    def _build(
        self,
        items: Sequence[Stored[T]],
        indices: Sequence[int],
        stored_at_ms: int,
        rejected: dict[int, Rejection],
    ) -> dict[str, Columns]:
        """Rows of ``items[indices]`` per table; a record a builder fails on is rejected (the
        batch is built again without it)."""
        chosen = [items[i] for i in indices]
        try:
            return {table: build(chosen, stored_at_ms) for table, build in self._builders}
        except Exception:  # noqa: BLE001 - find the culprit below
            pass
        buildable: list[int] = []
        for i in indices:
            try:
                for _, build in self._builders:
                    build([items[i]], stored_at_ms)
            except Exception as exc:  # noqa: BLE001 - whatever fails, the record goes to the DLQ
                rejected[i] = Rejection("processing_error", f"{type(exc).__name__}: {exc}")
                continue
            buildable.append(i)
        chosen = [items[i] for i in buildable]
        return {table: build(chosen, stored_at_ms) for table, build in self._builders}

    async def _insert(
        self,
        items: Sequence[Stored[T]],
        indices: Sequence[int],
        tables: dict[str, Columns],
        stored_at_ms: int,
        rejected: dict[int, Rejection],
    ) -> None:
        if not indices:
            return
        try:
            for table, _ in self._builders:
                await self._inserter.insert(table, tables[table])
        except BatchRejected as exc:
            if len(indices) == 1:
                rejected[indices[0]] = Rejection("sink_rejected", str(exc))
                self._metrics.rows_rejected.labels(exc.table).inc()
                return
            # Halves: the inserter leaves out what an earlier half already stored.
            middle = len(indices) // 2
            for half in (indices[:middle], indices[middle:]):
                await self._insert(
                    items, half, self._build(items, half, stored_at_ms, rejected), stored_at_ms, rejected
                )
