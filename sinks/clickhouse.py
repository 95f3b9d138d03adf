"""Columnar batch inserts into ClickHouse, off the event loop.

clickhouse-driver is synchronous: every call runs in one dedicated thread that owns the
Client. A failure is either *retryable* (network, server down, too many parts, a table not
migrated yet, anything unknown) and retried with exponential backoff, never dropped: the
caller (a Faust batch body) waits, which is backpressure, and its offsets are not committed;
or *permanent* (the data itself: a type or range error, a value the server cannot parse),
which raises :class:`BatchRejected` at once so that the caller can find the bad rows.
"""

from __future__ import annotations

import asyncio
import logging
import struct
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from clickhouse_driver import Client
from clickhouse_driver.errors import Error as ClickHouseError
from clickhouse_driver.errors import ServerException, TypeMismatchError

from pipeline.errors import VocError
from pipeline.runtime.metrics import PipelineMetrics
from schemas.records import Columns
from sinks.cluster_layout import DISTRIBUTED_SYNC
from sinks.retry import RetryPolicy

__all__ = ["BatchRejected", "ClickHouseConfig", "ClickHouseWriter", "connect", "is_permanent"]

log = logging.getLogger(__name__)

# Server error codes that blame the data of the insert, so retrying the same rows can never
# succeed: CANNOT_PARSE_TEXT, CANNOT_PARSE_INPUT_ASSERTION_FAILED, CANNOT_PARSE_DATE,
# CANNOT_PARSE_DATETIME, TYPE_MISMATCH, ARGUMENT_OUT_OF_BOUND, CANNOT_CONVERT_TYPE,
# CANNOT_PARSE_NUMBER, INCORRECT_DATA, TOO_LARGE_STRING_SIZE, VALUE_IS_OUT_OF_RANGE_OF_DATA_TYPE,
# CANNOT_INSERT_NULL_IN_ORDINARY_COLUMN. Every other code (TOO_MANY_PARTS, MEMORY_LIMIT_EXCEEDED,
# UNKNOWN_TABLE before a migration, READONLY...) is about the server and is retried.
_DATA_ERROR_CODES = frozenset({6, 27, 38, 41, 53, 69, 70, 72, 117, 131, 321, 349})
# What clickhouse-driver raises while serializing a value it cannot encode, before it sends.
_CLIENT_DATA_ERRORS = (
    TypeMismatchError,
    struct.error,
    OverflowError,
    UnicodeEncodeError,
    TypeError,
    ValueError,
)


class BatchRejected(VocError):
    """Permanent: ClickHouse will never take this batch as it is (some of its rows)."""

    def __init__(self, table: str, cause: BaseException):
        super().__init__(f"ClickHouse rejected rows of {table}: {type(cause).__name__}: {cause}")
        self.table = table
        self.code = getattr(cause, "code", None)


def is_permanent(exc: BaseException) -> bool:
    """Whether ``exc`` of an insert blames its data rather than the server or the network."""
    if isinstance(exc, ServerException):
        return exc.code in _DATA_ERROR_CODES
    return isinstance(exc, _CLIENT_DATA_ERRORS)


@dataclass(frozen=True, slots=True)
class ClickHouseConfig:
    """Where and as whom to connect."""

    host: str
    port: int
    user: str
    password: str
    database: str | None
    secure: bool = False
    """TLS on the native protocol."""
    ca_certs: str | None = None
    verify: bool = True
    cluster: str = ""
    """Set when the tables are a cluster's distributed ones (sinks.cluster_layout)."""


def connect(config: ClickHouseConfig) -> Client:
    """A native-protocol client; it connects on first use."""
    tls: dict[str, Any] = {}
    if config.secure:
        tls = {"secure": True, "verify": config.verify}
        if config.ca_certs:
            tls["ca_certs"] = config.ca_certs
    return Client(
        host=config.host,
        port=config.port,
        user=config.user,
        password=config.password,
        database=config.database or "default",
        settings={
            "use_client_time_zone": False,
            # The offsets are committed after an insert: it must be on the shards by then.
            **(DISTRIBUTED_SYNC if config.cluster else {}),
        },
        connect_timeout=5,
        send_receive_timeout=60,
        **tls,
    )


class ClickHouseWriter:
    """Inserts columnar batches; :meth:`insert` returns only once ClickHouse has the rows."""

    def __init__(self, config: ClickHouseConfig, metrics: PipelineMetrics, retry: RetryPolicy):
        self._config = config
        self._metrics = metrics
        self._retry = retry
        # The thread starts, and the client connects, on the first insert.
        self._executor: ThreadPoolExecutor | None = ThreadPoolExecutor(
            max_workers=1, thread_name_prefix="clickhouse"
        )
        self._client: Client | None = None
        self._column_types: dict[str, dict[str, str]] = {}

    def close(self) -> None:
        """Disconnect and stop the insert thread."""
        if self._executor is not None:
            self._executor.submit(self._disconnect).result()
            self._executor.shutdown(wait=True)
            self._executor = None

    def _disconnect(self) -> None:
        if self._client is not None:
            self._client.disconnect()
            self._client = None

    def _execute_blocking(self, sql: str, params: Any, columnar: bool) -> Any:
        if self._client is None:
            self._client = connect(self._config)
        try:
            return self._client.execute(sql, params, columnar=columnar)
        except BaseException:
            # The connection may be half-way through a packet: never reuse it.
            self._disconnect()
            raise

    async def _execute(
        self, what: str, table: str, sql: str, params: Any, columnar: bool, is_insert: bool
    ) -> tuple[Any, float]:
        """Run on the writer thread; count every failed attempt, raise BatchRejected for a
        permanent failure of an insert, retry everything else forever with backoff;
        cancellation stops it. Returns the result and the seconds its successful attempt
        took."""
        if self._executor is None:
            raise RuntimeError(f"ClickHouseWriter used after close(): {what}")
        failures = (self._metrics.insert_failures if is_insert else self._metrics.query_failures).labels(
            table
        )
        loop = asyncio.get_running_loop()
        backoff = self._retry.start()
        while True:
            started = time.perf_counter()
            try:
                result = await loop.run_in_executor(
                    self._executor, self._execute_blocking, sql, params, columnar
                )
                return result, time.perf_counter() - started
            except Exception as exc:
                failures.inc()
                if is_insert and is_permanent(exc):
                    raise BatchRejected(table, exc) from exc
                if not isinstance(exc, ClickHouseError | OSError | EOFError) and is_permanent(exc):
                    raise  # a query the driver cannot even send: a bug, not an outage
                await backoff.wait(what, exc)

    async def query(self, sql: str, params: dict[str, Any], table: str = "") -> list[tuple[Any, ...]]:
        """Run one read query on the insert thread (so it sees every acknowledged insert).

        Retried like a retryable insert failure: the sink cannot go on without the answer.
        Each failed attempt counts in ``voc_clickhouse_query_failures_total{table}``.
        """
        rows, _ = await self._execute(f"query on {table or 'the database'}", table, sql, params, False, False)
        return list(rows)

    async def column_types(self, table: str) -> dict[str, str]:
        """Column name → ClickHouse type of ``table`` (asked once, then remembered)."""
        if table not in self._column_types:
            rows = await self.query(f"DESCRIBE TABLE {table}", {}, table)
            self._column_types[table] = {str(row[0]): str(row[1]) for row in rows}
        return self._column_types[table]

    async def insert(self, table: str, columns: Columns) -> None:
        """Insert one batch into ``table`` (a name from sinks.rows, never user input).

        Retries retryable failures forever with backoff; cancellation stops it. Raises
        BatchRejected when the data itself fails (nothing of the batch is stored then: the
        driver fails before the block is complete, the server before it writes a part).
        """
        rows = len(next(iter(columns.values()), []))
        if rows == 0:
            return
        _, seconds = await self._execute(
            f"insert of {rows} rows into {table}",
            table,
            f"INSERT INTO {table} ({', '.join(columns)}) VALUES",
            list(columns.values()),
            columnar=True,
            is_insert=True,
        )
        self._metrics.insert_seconds.labels(table).observe(seconds)
        self._metrics.insert_rows.labels(table).inc(rows)
