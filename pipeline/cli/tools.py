"""Tools beside the runtime: ``voc demo``, ``bench``, ``chaos``, ``bench-queries``, ``scenario``
and ``bench-nlp``."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from config import REPO_ROOT, ConfigError, resources
from pipeline.cli._common import (
    clickhouse_client,
    current_settings,
)  # fmt: skip

__all__ = ["COMMANDS"]


@click.command()
@click.option(
    "--work-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=resources.work_dir("demo"),
    show_default=True,
)
@click.option("--timeout", default=300.0, show_default=True, help="Seconds to wait for the pipeline.")
def demo(work_dir: Path, timeout: float) -> None:
    """Create topics and tables, run a worker, replay the demo data, print the results."""
    from pipeline.runtime.context import ensure_pipeline_topics
    from pipeline.tools.demo import run_demo
    from sinks.migrations import apply_migrations

    settings = current_settings()
    try:
        ensure_pipeline_topics(settings)
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from exc
    apply_migrations(
        clickhouse_client(settings, with_database=False),
        settings.clickhouse_database,
        settings.migrations_dir,
        settings.clickhouse_cluster,
    )
    sys.exit(run_demo(settings, clickhouse_client(settings), work_dir, timeout))


@click.command()
@click.option("--count", default=50_000, show_default=True, help="Feedback to push through.")
@click.option(
    "--rate", type=float, default=None, help="Messages/s to produce at (default: as fast as possible)."
)
@click.option("--timeout", default=600.0, show_default=True, help="Seconds to wait for the pipeline.")
@click.option("--workers", default=1, show_default=True, type=click.IntRange(1, 16), help="Worker processes.")
@click.option(
    "--baseline/--no-baseline", default=True, show_default=True, help="Also run the Faust-free baseline loop."
)
@click.option(
    "--floor/--no-floor",
    default=True,
    show_default=True,
    help="Also run the floor: raw topic → JSON → ClickHouse, no text stage or detection.",
)
@click.option(
    "--feedback-per-hour",
    "per_hour",
    default=100_000.0,
    show_default=True,
    type=click.FloatRange(min=1, min_open=False),
    help="Event-time rate of the synthetic reviews (their times end now): windows close and "
    "fingerprints expire as in production.",
)
def bench(
    count: int, rate: float | None, timeout: float, workers: int, baseline: bool, floor: bool, per_hour: float
) -> None:
    """Measure end-to-end feedback/s, produce→ClickHouse latency and CPU µs per feedback (of
    each process: worker, broker, ClickHouse, producer) of the worker, the Faust-free baseline
    loop and the floor loop on the same data (JSON). Partitions: VOC_TOPIC_PARTITIONS."""
    import orjson

    from pipeline.tools.bench import run_bench

    result = run_bench(
        current_settings(),
        count,
        rate,
        resources.work_dir("bench"),
        timeout,
        workers=workers,
        baseline=baseline,
        per_hour=per_hour,
        floor=floor,
    )
    click.echo(orjson.dumps(result).decode())


@click.command()
@click.option(
    "--drill",
    "drills",
    type=click.Choice(["kills", "clickhouse", "malformed"]),
    multiple=True,
    help="Drills to run (repeatable) [all three].",
)
@click.option("--count", default=100_000, show_default=True, help="Valid reviews per drill.")
@click.option("--kills", default=5, show_default=True, help="SIGKILLs in the kills drill.")
@click.option("--outage", "outage_s", default=300.0, show_default=True, help="Seconds ClickHouse is down.")
@click.option(
    "--malformed", default=10_000, show_default=True, help="Malformed messages in the malformed drill."
)
@click.option("--seed", default=12, show_default=True)
@click.option(
    "--timeout", default=1_200.0, show_default=True, help="Seconds to wait for each stage of a drill."
)
def chaos(
    drills: tuple[str, ...],
    count: int,
    kills: int,
    outage_s: float,
    malformed: int,
    seed: int,
    timeout: float,
) -> None:
    """Failure drills on the local services: SIGKILLs under load, ClickHouse stopped under
    load, malformed input; prints the figures as JSON (see README, "Failure drills")."""
    import orjson

    from pipeline.tools.chaos import DRILLS, run_chaos

    result = run_chaos(
        current_settings(), drills or DRILLS, count, kills, outage_s, malformed, seed,
        resources.work_dir("chaos"), timeout,
    )  # fmt: skip
    click.echo(orjson.dumps(result).decode())


@click.command("bench-queries")
@click.option("--rows", default=10_000_000, show_default=True, help="Aspect-mention rows to load.")
@click.option("--repeats", default=11, show_default=True, help="Timed runs per query.")
@click.option("--database", default="voc_bench_queries", show_default=True, help="Recreated for the run.")
@click.option("--reuse", is_flag=True, help="Time the database as it is if it already holds ROWS mentions.")
def bench_queries(rows: int, repeats: int, database: str, reuse: bool) -> None:
    """Time every query of docs/bi.md on ROWS aspect mentions (demo distribution)."""
    import orjson

    from pipeline.reporting.query_bench import run_query_bench
    from pipeline.reporting.report import format_table
    from pipeline.runtime.context import build_analyzer, ingest_context

    settings = current_settings()
    client = clickhouse_client(settings, with_database=False)
    result = run_query_bench(
        client,
        database,
        settings.migrations_dir,
        build_analyzer(settings),
        ingest_context(settings),
        rows,
        repeats,
        reuse,
    )
    click.echo(
        format_table(
            ["query", "median ms", "max ms", "rows"],
            [(q["query"], q["median_ms"], q["max_ms"], q["rows"]) for q in result["queries"]],
            60,
        )
    )
    click.echo(orjson.dumps(result).decode())


@click.group()
def scenario() -> None:
    """Seeded alert scenarios with their ground truth."""


@scenario.command("generate")
@click.argument("out_dir", type=click.Path(file_okay=False, path_type=Path))
@click.option("--seed", default=7, show_default=True)
@click.option("--products", default=120, show_default=True, help="Products (two aspects each).")
@click.option("--windows", default=48, show_default=True, help="Windows of the stream (at least 24).")
@click.option("--window-seconds", default=3600, show_default=True)
def scenario_generate(out_dir: Path, seed: int, products: int, windows: int, window_seconds: int) -> None:
    """Write scenario.json (parameters) and truth.jsonl (injected anomalies) to OUT_DIR."""
    from pipeline.tools.scenarios import generate_scenario, write_scenario

    if windows < 24 or products < 1 or window_seconds < 1:
        raise click.ClickException("need --windows ≥ 24, --products ≥ 1 and --window-seconds ≥ 1")
    generated = generate_scenario(seed, products, windows, window_seconds)
    write_scenario(generated, out_dir)
    click.echo(
        f"wrote {out_dir}: {products} products, {windows} windows, {len(generated.injections)} anomalies"
    )


@click.command("bench-nlp")
@click.option(
    "--file",
    "texts_csv",
    type=click.Path(dir_okay=False, path_type=Path),
    default=REPO_ROOT.parent / "shared" / "data" / "sentiment" / "waimai_10k" / "dev.csv",
    show_default=True,
)
@click.option("--text-column", default="review", show_default=True)
def bench_nlp(texts_csv: Path, text_column: str) -> None:
    """Text stage alone, ours compiled and in pure Python and snownlp's model: docs/s per
    core, import + load time, peak RSS, time by stage (a table, then one JSON line)."""
    import orjson

    from pipeline.tools.nlp_bench import render_table, run_nlp_bench

    settings = current_settings()
    try:
        result = run_nlp_bench(texts_csv, settings, text_column)
    except (FileNotFoundError, ValueError) as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(render_table(result))
    click.echo(orjson.dumps(result).decode())


COMMANDS: list[click.Command] = [demo, bench, chaos, bench_queries, scenario, bench_nlp]
