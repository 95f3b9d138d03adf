"""Current ClickHouse, embedded (chdb), behind the slice of clickhouse-driver's API we use.

The local server is 18.16 and production runs a current release; unit tests use this to run
the project's SQL on the current engine without a server.
"""

from __future__ import annotations

import uuid
from types import SimpleNamespace
from typing import Any

import pytest
from clickhouse_driver import Client

from config import Settings
from schemas.records import Columns
from sinks.migrations import read_migrations

chdb_session = pytest.importorskip("chdb.session")


def substitute(sql: str, params: dict[str, Any] | None) -> str:
    """Render %(name)s parameters exactly as clickhouse-driver does for the real server."""
    if not params:
        return sql
    client = Client("localhost")  # never connects: only its parameter escaping is used
    client.connection.context.server_info = SimpleNamespace(get_timezone=lambda: "UTC")
    return str(client.substitute_params(sql, params, client.connection.context))


def _python(value: Any) -> Any:
    """pandas and numpy scalars as the plain Python values clickhouse-driver returns."""
    if hasattr(value, "to_pydatetime"):
        return value.to_pydatetime()
    if hasattr(value, "item"):
        return value.item()
    return value


class ChdbClient:
    """``execute`` (with parameters) and columnar ``insert`` on an embedded engine."""

    def __init__(self) -> None:
        self.session = chdb_session.Session()

    def execute(self, sql: str, params: dict[str, Any] | None = None, with_column_types: bool = False) -> Any:
        frame = self.session.query(substitute(sql, params), "DataFrame")
        if frame is None or not len(frame.columns):
            return ([], []) if with_column_types else []
        rows = [tuple(_python(v) for v in row) for row in frame.itertuples(index=False)]
        if with_column_types:
            return rows, [(str(name), str(dtype)) for name, dtype in frame.dtypes.items()]
        return rows

    def insert(self, table: str, columns: Columns) -> None:
        """What ``ClickHouseWriter.insert`` does, as a VALUES statement."""
        rows = list(zip(*columns.values(), strict=True))
        if not rows:
            return
        values = ", ".join(substitute("%(row)s", {"row": row}) for row in rows)
        self.execute(f"INSERT INTO {table} ({', '.join(columns)}) VALUES {values}")

    def migrate(self) -> None:
        """Create a database of its own with every migration applied, and use it (the
        engine is one per process: each client needs its own database)."""
        database = f"voc_{uuid.uuid4().hex}"
        self.execute(f"CREATE DATABASE {database}")
        self.execute(f"USE {database}")
        for migration in read_migrations(Settings().migrations_dir):
            for statement in migration.statements:
                self.execute(statement)
