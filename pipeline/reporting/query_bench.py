"""``make bench-queries``: the documented BI queries (docs/bi.md) on millions of rows.

The rows follow the demo distribution: the demo data is run through the real ingest and
analysis code in process (no broker), the resulting feedback and mention rows are loaded as a
seed, and ClickHouse copies the seed server-side until ``aspect_mentions`` holds the wanted
number of rows. Copy ``c`` of a feedback gets the id ``<id>#c``, a product out of 50 per seed
product, a customer out of 100 per seed customer and an event time spread over 90 days, so
rollups and the customer profile have realistic cardinalities. The inserts go through the
materialized views like the sinks' inserts do. Each query then runs ``repeats`` times with
a 30-day range; the report is the median and the slowest run per query.
"""

from __future__ import annotations

import statistics
import tempfile
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from clickhouse_driver import Client

from pipeline.ingest import IngestContext
from pipeline.reporting.bi_queries import BiQuery, bi_params, read_bi_queries
from pipeline.text.analysis import Analyzer
from pipeline.tools.demo import demo_feedback
from pipeline.tools.demo_data import COMPETITORS, OWN_BRAND, write_demo_files
from schemas.feedback import ScoredFeedback
from schemas.records import Stored
from sinks.migrations import apply_migrations
from sinks.rows import FEEDBACK_COLUMNS, MENTION_COLUMNS, feedback_columns, mention_columns

__all__ = ["QueryTiming", "demo_seed", "load_rows", "run_query_bench", "time_queries"]

#: Event times of the copies end here and go back SPREAD_DAYS.
END = datetime(2026, 11, 1)
SPREAD_DAYS = 90
PRODUCTS_PER_SEED_PRODUCT = 50
CUSTOMERS_PER_SEED_CUSTOMER = 100


@dataclass(frozen=True, slots=True)
class QueryTiming:
    """Timings of one query, in milliseconds, and how many rows it returned."""

    number: int
    title: str
    median_ms: float
    max_ms: float
    rows: int


def demo_seed(analyzer: Analyzer, ingest: IngestContext) -> list[ScoredFeedback]:
    """The demo data as scored feedback, through the pipeline's own ingest and analysis."""
    with tempfile.TemporaryDirectory() as tmp:
        manifest = write_demo_files(Path(tmp))
        return [analyzer.score(f) for f in demo_feedback(manifest, ingest)]


def _copy_sql(table: str, seed: str, columns: tuple[str, ...], copies: int, start: int) -> str:
    """INSERT … SELECT that writes copies ``start`` … ``start+copies-1`` of every seed row."""
    shift = f"cityHash64(seed_id, copy) % {SPREAD_DAYS * 86400}"
    changed = {
        "feedback_id": "concat(seed_id, '#', toString(copy))",
        "product_sku": f"concat(product_sku, '-', toString(copy % {PRODUCTS_PER_SEED_PRODUCT}))",
        "customer_ref": (
            "if(customer_ref = '', '', "
            f"concat(customer_ref, '-', toString(copy % {CUSTOMERS_PER_SEED_CUSTOMER})))"
        ),
        "event_time": f"toDateTime('{END:%Y-%m-%d %H:%M:%S}') - {shift}",
        "kafka_offset": "copy",
    }
    select = ", ".join(changed.get(c, c) for c in columns)
    return (
        f"INSERT INTO {table} ({', '.join(columns)}) "
        f"SELECT {select} FROM (SELECT number + {start} AS copy FROM system.numbers LIMIT {copies}) "
        f"CROSS JOIN (SELECT *, feedback_id AS seed_id FROM {seed})"
    )


def load_rows(client: Client, seed: list[ScoredFeedback], mention_rows: int, chunk_copies: int = 200) -> int:
    """Fill the current database's (empty) tables with copies of ``seed`` until about
    ``mention_rows`` aspect mentions are stored; returns the mention rows stored."""
    stored = [Stored(f, "seed", 0, i) for i, f in enumerate(seed)]
    for table, columns, build in (
        ("seed_feedback", FEEDBACK_COLUMNS, feedback_columns),
        ("seed_mentions", MENTION_COLUMNS, mention_columns),
    ):
        source = "feedback" if table == "seed_feedback" else "aspect_mentions"
        client.execute(f"DROP TABLE IF EXISTS {table}")
        client.execute(f"CREATE TABLE {table} ENGINE = Memory AS SELECT * FROM {source} LIMIT 0")
        data = build(stored, 0)
        client.execute(
            f"INSERT INTO {table} ({', '.join(columns)}) VALUES", list(data.values()), columnar=True
        )
    per_copy = sum(len(f.aspects) for f in seed)
    copies = max(1, round(mention_rows / per_copy))
    for start in range(0, copies, chunk_copies):
        n = min(chunk_copies, copies - start)
        client.execute(_copy_sql("feedback", "seed_feedback", FEEDBACK_COLUMNS, n, start))
        client.execute(_copy_sql("aspect_mentions", "seed_mentions", MENTION_COLUMNS, n, start))
    for table in ("seed_feedback", "seed_mentions"):
        client.execute(f"DROP TABLE {table}")
    return int(client.execute("SELECT count() FROM aspect_mentions")[0][0])


def time_queries(
    client: Client, queries: list[BiQuery], params: dict[str, Any], repeats: int
) -> list[QueryTiming]:
    """Run each query ``repeats`` times (after one warm-up run)."""
    timings = []
    for query in queries:
        rows = query.run(client, params)
        runs = []
        for _ in range(repeats):
            started = time.perf_counter()
            query.run(client, params)
            runs.append((time.perf_counter() - started) * 1000)
        timings.append(QueryTiming(query.number, query.title, statistics.median(runs), max(runs), len(rows)))
    return timings


def _add_actions(client: Client, count: int = 20) -> None:
    """Actions of the own brand on packaging, one every 36 hours before END, on the products
    with most packaging mentions, so the action query has work to do."""
    products = [
        p
        for (p,) in client.execute(
            "SELECT product_sku FROM aspect_rollup_day WHERE brand = %(b)s AND aspect_l1 = '包装' "
            "GROUP BY product_sku ORDER BY sum(mentions) DESC LIMIT %(n)s",
            {"b": OWN_BRAND, "n": count},
        )
    ]
    rows = [
        (f"bench-{i}", OWN_BRAND, product, "包装", END - timedelta(hours=36 * (i + 1)), "换用加厚纸箱", 0.3)
        for i, product in enumerate(products)
    ]
    client.execute(
        "INSERT INTO actions "
        "(action_id, brand, product, aspect, taken_at, description, target_negative_share) VALUES",
        rows,
    )


def _add_alerts(client: Client, count: int = 50_000) -> None:
    """``count`` alert events of the three demo brands spread over the 90 days (a busy
    deployment: hundreds a day), for the alert history query."""
    client.execute(
        "INSERT INTO alerts (alert_id, kind, rule, severity, brand, product, aspect, metric, observed, "
        "mentions, window_start, window_end, created_at, routing_key, reason) "
        "SELECT concat('bench-', toString(number)), "
        "['spike', 'threshold', 'critical_feedback'][number % 3 + 1], 'bench', "
        "['warning', 'critical'][number % 2 + 1], ['云杉', '北极星', '青禾'][intDiv(number, 3) % 3 + 1], "
        "'P1', '包装', 'negative_share', 0.5, 40, "
        f"toDateTime('{END:%Y-%m-%d %H:%M:%S}') - (number * {SPREAD_DAYS * 86400 // count}) AS start, "
        "start + 3600, start + 3600, 'brand', 'bench' "
        f"FROM system.numbers LIMIT {count}"
    )


def run_query_bench(
    client: Client, database: str, migrations_dir: Path, analyzer: Analyzer, ingest: IngestContext,
    mention_rows: int, repeats: int, reuse: bool = False,
) -> dict[str, Any]:  # fmt: skip
    """Recreate ``database``, load it, merge it, time every documented query. With ``reuse``,
    a database that already holds ``mention_rows`` mentions is timed as it is."""
    exists = client.execute("SELECT count() FROM system.databases WHERE name = %(db)s", {"db": database})[0][
        0
    ]
    stored = 0
    if reuse and exists:
        stored = int(client.execute(f"SELECT count() FROM {database}.aspect_mentions")[0][0])
    client.execute(f"CREATE DATABASE IF NOT EXISTS {database}")
    client.execute(f"USE {database}")
    seed_count, loaded_s, merged_s = 0, 0.0, 0.0
    if stored < mention_rows:
        client.execute(f"DROP DATABASE {database}")
        client.execute(f"CREATE DATABASE {database}")
        client.execute(f"USE {database}")
        apply_migrations(client, database, migrations_dir)
        started = time.perf_counter()
        seed = demo_seed(analyzer, ingest)
        seed_count = len(seed)
        stored = load_rows(client, seed, mention_rows)
        _add_actions(client)
        _add_alerts(client)
        loaded_s = time.perf_counter() - started
        # Background merges would otherwise run during the timings; dashboards see merged parts.
        started = time.perf_counter()
        for (table,) in client.execute(
            "SELECT name FROM system.tables WHERE database = %(db)s AND engine LIKE '%%MergeTree'",
            {"db": database},
        ):
            client.execute(f"OPTIMIZE TABLE {table} FINAL")
        merged_s = time.perf_counter() - started
    params = bi_params(OWN_BRAND, COMPETITORS, "包装", END - timedelta(days=30), END)
    timings = time_queries(client, read_bi_queries(), params, repeats)
    counts = {
        table: int(client.execute(f"SELECT count() FROM {table}")[0][0])
        for table in ("feedback", "aspect_mentions", "aspect_rollup_hour", "feedback_rollup_hour",
                      "customer_experience_state")
    }  # fmt: skip
    return {
        "seed_feedback": seed_count,
        "aspect_mentions": stored,
        "rows": counts,
        "load_s": round(loaded_s, 1),
        "optimize_s": round(merged_s, 1),
        "repeats": repeats,
        "queries": [_asdict(t) for t in timings],
    }


def _asdict(timing: QueryTiming) -> dict[str, Any]:
    return {
        "query": f"{timing.number}. {timing.title}",
        "median_ms": round(timing.median_ms, 1),
        "max_ms": round(timing.max_ms, 1),
        "rows": timing.rows,
    }
