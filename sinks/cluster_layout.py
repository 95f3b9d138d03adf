"""The migrations' single-server SQL, rewritten for a ClickHouse cluster (``VOC_CLICKHOUSE_CLUSTER``).

The migration files are written for one server. On a cluster every table ``t`` becomes two,
created on every host (``ON CLUSTER``):

- ``t_local``: the same columns and keys, with the replicated form of the engine
  (``ReplacingMergeTree(v)`` → ``ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/<db>/t_local',
  '{replica}', v)``), so each shard's replicas hold the same rows;
- ``t``: a ``Distributed`` table over ``t_local`` with the same columns, sharded by a hash
  of the table's sorting key, so that the rows a ReplacingMergeTree or SummingMergeTree
  must collapse always meet on one shard.

Everything that writes or reads (the sinks, the reports, BI, ``voc forget``) keeps using
``t`` and needs no change. Materialized views fire on the inserts each shard receives, so
they read from and write to the ``_local`` tables; plain views read the distributed ones.
``ALTER TABLE`` is applied to ``t_local`` (on one replica per shard, which replicates it); the
Distributed ``t``, which holds no rows (inserts are synchronous), is dropped and created
again over the altered ``t_local``: 18.16 refuses ``ALTER ... ON CLUSTER`` on a table that is
not replicated in a replicated shard. Backfill ``INSERT ... SELECT`` statements run
once, through the distributed tables. A statement of any other kind is refused: a
migration the rewrite does not understand must not run half-applied on a cluster.

``{shard}`` and ``{replica}`` are the servers' macros (``<macros>`` in their config).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

__all__ = ["DISTRIBUTED_SYNC", "ClusterLayout"]

#: Client settings for writes through Distributed tables: an insert returns once the shards
#: have the rows, not when they are queued on the server that took it.
DISTRIBUTED_SYNC = {"insert_distributed_sync": 1}

_CREATE_TABLE = re.compile(
    r"^CREATE TABLE IF NOT EXISTS (\w+)\s*\((.*)\)\s*ENGINE\s*=\s*(\w*MergeTree)\b(.*)$", re.S
)
_CREATE_MV = re.compile(r"^CREATE MATERIALIZED VIEW IF NOT EXISTS (\w+) TO (\w+) AS\b(.*)$", re.S)
_CREATE_VIEW = re.compile(r"^CREATE VIEW IF NOT EXISTS (\w+) AS\b(.*)$", re.S)
_ALTER = re.compile(r"^ALTER TABLE (\w+)\b(.*)$", re.S)
_INSERT = re.compile(r"^INSERT INTO \w+", re.S)
_ORDER_BY = re.compile(r"\bORDER BY\s*(\(.*?\)|[\w.]+)", re.S)


def _split_arguments(rest: str) -> tuple[str, str]:
    """``(args) tail`` → (``args``, ``tail``); no parenthesis → (``""``, ``rest``)."""
    stripped = rest.lstrip()
    if not stripped.startswith("("):
        return "", rest
    depth = 0
    for i, char in enumerate(stripped):
        depth += char == "("
        depth -= char == ")"
        if depth == 0:
            return stripped[1:i].strip(), stripped[i + 1 :]
    raise ValueError(f"unbalanced engine arguments: {rest[:80]!r}")


@dataclass
class ClusterLayout:
    """Rewrites migration statements for ``cluster``; remembers the tables it has made
    distributed (across migrations: create one layout per run)."""

    cluster: str
    database: str
    tables: set[str] = field(default_factory=set)
    shard_keys: dict[str, str] = field(default_factory=dict)
    """Table → the sharding expression of its Distributed table."""

    @property
    def _on(self) -> str:
        return f"ON CLUSTER `{self.cluster}`"

    def _q(self, name: str) -> str:
        # Qualified: each host runs distributed DDL in its own default database (18.16).
        return f"`{self.database}`.{name}"

    def database_statement(self) -> str:
        """Create the database on every host."""
        return f"CREATE DATABASE IF NOT EXISTS `{self.database}` {self._on}"

    def rewrite(self, statement: str) -> list[str]:
        """The cluster statements for one single-server statement, in order."""
        text = statement.strip().rstrip(";").strip()
        if match := _CREATE_TABLE.match(text):
            return self._create_table(*match.groups())
        if match := _CREATE_MV.match(text):
            view, target, body = match.groups()
            if target not in self.tables:
                raise ValueError(f"materialized view {view} writes to {target}, which no migration created")
            head = f"CREATE MATERIALIZED VIEW IF NOT EXISTS {self._q(view)} {self._on}"
            return [f"{head} TO {self._q(target)}_local AS{self._qualified(body, '_local')}"]
        if match := _CREATE_VIEW.match(text):
            view, body = match.groups()
            return [f"CREATE VIEW IF NOT EXISTS {self._q(view)} {self._on} AS{self._qualified(body, '')}"]
        if match := _ALTER.match(text):
            table, rest = match.groups()
            if table not in self.shard_keys:
                raise ValueError(f"ALTER TABLE {table}: no migration created it")
            return [
                f"ALTER TABLE {self._q(table)}_local {self._on}{rest}",
                f"DROP TABLE IF EXISTS {self._q(table)} {self._on}",
                self._distributed(table),
            ]
        if _INSERT.match(text):
            return [text]
        raise ValueError(f"no cluster form for this migration statement: {text[:120]!r}")

    def mutation(self, statement: str) -> str:
        """An ``ALTER TABLE t DELETE/UPDATE ...`` of the sinks, run on every host's ``t_local``."""
        match = _ALTER.match(statement.strip())
        if match is None:
            raise ValueError(f"not an ALTER TABLE: {statement[:80]!r}")
        table, rest = match.groups()
        return f"ALTER TABLE {self._q(table)}_local {self._on}{rest}"

    def _create_table(self, table: str, columns: str, engine: str, rest: str) -> list[str]:
        arguments, tail = _split_arguments(rest)
        order = _ORDER_BY.search(tail)
        if order is None:
            raise ValueError(f"table {table} has no ORDER BY to shard by")
        key = order.group(1)
        key = key if key.startswith("(") else f"({key})"
        path = f"'/clickhouse/tables/{{shard}}/{self.database}/{table}_local'"
        replicated = f"Replicated{engine}({path}, '{{replica}}'{', ' + arguments if arguments else ''})"
        self.tables.add(table)
        self.shard_keys[table] = f"cityHash64{key}"
        return [
            f"CREATE TABLE IF NOT EXISTS {self._q(table)}_local {self._on} ({columns}) "
            f"ENGINE = {replicated}{tail}",
            self._distributed(table),
        ]

    def _distributed(self, table: str) -> str:
        return (
            f"CREATE TABLE IF NOT EXISTS {self._q(table)} {self._on} AS {self._q(table)}_local "
            f"ENGINE = Distributed(`{self.cluster}`, `{self.database}`, {table}_local, "
            f"{self.shard_keys[table]})"
        )

    def _qualified(self, body: str, suffix: str) -> str:
        """A view body with the known tables qualified, and ``suffix`` (``_local``) added."""
        for table in sorted(self.tables, key=len, reverse=True):
            body = re.sub(rf"\b(FROM|JOIN)\s+{table}\b", rf"\1 {self._q(table)}{suffix}", body)
        return body
