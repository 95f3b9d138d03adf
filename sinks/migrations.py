"""Versioned schema migrations: ``deploy/clickhouse/migrations/NNNN_name.sql``, applied in order.

Each applied version is recorded in ``schema_migrations``; applying twice changes nothing.
Statements are separated by a ``;`` at the end of a line.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from clickhouse_driver import Client

from sinks.cluster_layout import DISTRIBUTED_SYNC, ClusterLayout

__all__ = ["Migration", "apply_migrations", "read_migrations"]

log = logging.getLogger(__name__)

_FILE_NAME = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")
_STATEMENT_END = re.compile(r";\s*$", re.MULTILINE)
_COMMENT_LINE = re.compile(r"^\s*--.*$", re.MULTILINE)


@dataclass(frozen=True, slots=True)
class Migration:
    """One migration file: its version, name and SQL statements."""

    version: int
    name: str
    statements: tuple[str, ...]


def read_migrations(directory: Path) -> list[Migration]:
    """Every ``NNNN_name.sql`` in ``directory``, by version; other files are an error."""
    migrations: list[Migration] = []
    for path in sorted(directory.iterdir()):
        match = _FILE_NAME.match(path.name)
        if not match:
            raise ValueError(f"{path}: migration files are named NNNN_lower_snake.sql")
        sql = _COMMENT_LINE.sub("", path.read_text(encoding="utf-8"))
        statements = tuple(s.strip() for s in _STATEMENT_END.split(sql) if s.strip())
        migrations.append(Migration(int(match[1]), match[2], statements))
    versions = [m.version for m in migrations]
    if len(set(versions)) != len(versions):
        raise ValueError(f"{directory}: two migrations share a version")
    return migrations


_SCHEMA_MIGRATIONS = (
    "CREATE TABLE IF NOT EXISTS schema_migrations (version UInt32, name String, applied_at DateTime) "
    "ENGINE = MergeTree ORDER BY version"
)


def apply_migrations(client: Client, database: str, directory: Path, cluster: str = "") -> list[Migration]:
    """Create ``database`` if needed and apply the migrations not yet recorded there.

    Returns the migrations applied by this call (empty when the schema is current).
    ``client`` must not be bound to ``database`` (it may not exist yet). With ``cluster``,
    every statement is rewritten for that cluster and runs on all its hosts
    (sinks.cluster_layout); the migrations are recorded once, in a table of the same layout.
    """
    quoted = f"`{database.replace('`', '')}`"
    layout = ClusterLayout(cluster, database.replace("`", "")) if cluster else None

    settings = DISTRIBUTED_SYNC if layout is not None else None

    def run(statement: str) -> None:
        for rewritten in layout.rewrite(statement) if layout is not None else [statement]:
            client.execute(rewritten, settings=settings)

    if layout is None:
        client.execute(f"CREATE DATABASE IF NOT EXISTS {quoted}")
    else:
        client.execute(layout.database_statement())
    # Migration SQL names tables without a database, so the same files serve any database.
    client.execute(f"USE {quoted}")
    run(_SCHEMA_MIGRATIONS)
    applied = {row[0] for row in client.execute(f"SELECT version FROM {quoted}.schema_migrations")}
    migrations = read_migrations(directory)
    if layout is not None:
        # What earlier runs laid out (tables, their sharding keys), so that a later migration's
        # views read the _local tables and its ALTERs can rebuild the Distributed ones.
        for migration in migrations:
            if migration.version in applied:
                for statement in migration.statements:
                    layout.rewrite(statement)
    done: list[Migration] = []
    for migration in migrations:
        if migration.version in applied:
            continue
        log.info("applying migration %04d_%s", migration.version, migration.name)
        for statement in migration.statements:
            run(statement)
        client.execute(
            f"INSERT INTO {quoted}.schema_migrations (version, name, applied_at) VALUES",
            [(migration.version, migration.name, datetime.now(UTC))],
            settings=settings,
        )
        done.append(migration)
    return done
