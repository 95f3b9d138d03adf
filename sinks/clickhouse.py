"""Columnar batch inserts into ClickHouse, off the event loop, retried until they succeed.

clickhouse-driver is synchronous: every call runs in one dedicated thread that owns the
Client. A failed insert is retried with exponential backoff and never dropped: the caller
(a Faust batch body) waits, which is backpressure, and its offsets are not committed.
"""

from __future__ import annotations

import asyncio
import logging
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from clickhouse_driver import Client
from clickhouse_driver.errors import Error as ClickHouseError

from pipeline.metrics import PipelineMetrics
from sinks.rows import Columns

__all__ = ["ClickHouseConfig", "ClickHouseWriter", "connect"]

log = logging.getLogger(__name__)

_FIRST_BACKOFF_S = 0.5


@dataclass(frozen=True, slots=True)
class ClickHouseConfig:
    """Where and as whom to connect."""

    host: str
    port: int
    user: str
    password: str
    database: str | None


def connect(config: ClickHouseConfig) -> Client:
    """A native-protocol client; it connects on first use."""
    return Client(
        host=config.host,
        port=config.port,
        user=config.user,
        password=config.password,
        database=config.database or "default",
        settings={"use_client_time_zone": False},
        connect_timeout=5,
        send_receive_timeout=60,
    )


class ClickHouseWriter:
    """Inserts columnar batches; :meth:`insert` returns only once ClickHouse has the rows."""

    def __init__(self, config: ClickHouseConfig, metrics: PipelineMetrics, max_backoff_s: float):
        self._config = config
        self._metrics = metrics
        self._max_backoff_s = max_backoff_s
        # The thread starts, and the client connects, on the first insert.
        self._executor: ThreadPoolExecutor | None = ThreadPoolExecutor(
            max_workers=1, thread_name_prefix="clickhouse"
        )
        self._client: Client | None = None

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
        self, what: str, sql: str, params: Any, columnar: bool, on_failure: Any = None
    ) -> tuple[Any, float]:
        """Run on the writer thread; retry ClickHouse and network errors forever with backoff
        (``on_failure`` is called after each failed attempt); cancellation stops it. Returns
        the result and the seconds its successful attempt took."""
        if self._executor is None:
            raise RuntimeError(f"ClickHouseWriter used after close(): {what}")
        loop = asyncio.get_running_loop()
        backoff = _FIRST_BACKOFF_S
        while True:
            started = time.perf_counter()
            try:
                result = await loop.run_in_executor(
                    self._executor, self._execute_blocking, sql, params, columnar
                )
                return result, time.perf_counter() - started
            except (ClickHouseError, OSError, EOFError) as exc:
                if on_failure is not None:
                    on_failure()
                log.warning("%s failed (%s: %s); retrying in %.1fs", what, type(exc).__name__, exc, backoff)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, self._max_backoff_s)

    async def query(self, sql: str, params: dict[str, Any]) -> list[tuple[Any, ...]]:
        """Run one read query on the insert thread (so it sees every acknowledged insert).

        Retried like :meth:`insert`: the sink cannot go on without the answer.
        """
        rows, _ = await self._execute("query", sql, params, columnar=False)
        return list(rows)

    async def insert(self, table: str, columns: Columns) -> None:
        """Insert one batch into ``table`` (a name from sinks.rows, never user input).

        Retries ClickHouse and network errors forever with backoff; cancellation stops it.
        """
        rows = len(next(iter(columns.values()), []))
        if rows == 0:
            return
        _, seconds = await self._execute(
            f"insert of {rows} rows into {table}",
            f"INSERT INTO {table} ({', '.join(columns)}) VALUES",
            list(columns.values()),
            columnar=True,
            on_failure=self._metrics.insert_failures.labels(table).inc,
        )
        self._metrics.insert_seconds.labels(table).observe(seconds)
        self._metrics.insert_rows.labels(table).inc(rows)
