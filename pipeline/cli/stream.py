"""Running the stream and its contracts: ``voc worker``, ``topics``, ``lag``, ``db``,
``produce`` and ``schema``."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import click

from config import REPO_ROOT, ConfigError
from pipeline.cli._common import (
    clickhouse_client,
    current_settings,
)  # fmt: skip
from pipeline.runtime.kafka_connection import KafkaConnection
from pipeline.runtime.topics import TopicNames

__all__ = ["COMMANDS"]


@click.command()
@click.option("--web-port", type=int, default=None, help="Override VOC_WEB_PORT.")
@click.option(
    "--create-topics/--no-create-topics",
    default=True,
    show_default=True,
    help="Create missing topics before starting.",
)
def worker(web_port: int | None, create_topics: bool) -> None:
    """Run a Faust worker with every stage; more workers join the same consumer group."""
    from pipeline.runtime.app import create_app, create_worker
    from pipeline.runtime.context import WorkerContext, ensure_pipeline_topics

    settings = current_settings()
    if web_port is not None:
        settings = settings.model_copy(update={"web_port": web_port})
    try:
        ctx = WorkerContext.build(settings)
        if create_topics:
            ensure_pipeline_topics(settings)
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from exc
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    app = create_app(ctx)
    create_worker(app, loop, settings.log_level).execute_from_commandline()


@click.group()
def topics() -> None:
    """Manage the pipeline's Kafka topics."""


@topics.command("create")
def topics_create() -> None:
    """Create every topic that does not exist yet with VOC_TOPIC_PARTITIONS partitions and
    its configs, check the partition counts of those that exist, and set their configs where
    they differ (the dead-letter topic's retention.ms from VOC_DLQ_RETENTION_DAYS); idempotent."""
    from pipeline.runtime.context import ensure_pipeline_topics

    try:
        report = ensure_pipeline_topics(current_settings())
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from exc
    created = f": {', '.join(report.created)}" if report.created else ""
    click.echo(f"created {len(report.created)} topics{created}; {len(report.existing)} already existed")
    if report.reconfigured:
        click.echo(f"set the configs of existing topics: {', '.join(report.reconfigured)}")
    for warning in report.warnings:
        click.echo(f"warning: {warning}", err=True)


@click.command()
@click.option("--group", default=None, help="Consumer group [VOC_APP_ID].")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per partition, one per line.")
def lag(group: str | None, as_json: bool) -> None:
    """Committed offset, end offset and lag of the pipeline's consumer group per topic and
    partition: every topic the workers read, and any other the group has committed on."""
    import orjson

    from pipeline.reporting.report import format_table
    from pipeline.runtime.kafka_admin import consumer_lag

    settings = current_settings()
    group_id = group or settings.app_id
    names = TopicNames.in_namespace(settings.topic_namespace)
    consumed = [names.reviews_raw, names.chats_raw, names.surveys_raw, names.scored]
    consumed += [names.alerts, names.actions, names.brand_windows]
    try:
        lags = consumer_lag(KafkaConnection.from_settings(settings), group_id, consumed)
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from exc
    if as_json:
        for row in lags:
            click.echo(orjson.dumps(row).decode())
        return
    rows = [(r.topic, r.partition, "-" if r.committed is None else r.committed, r.end, r.lag) for r in lags]
    click.echo(f"group {group_id}: total lag {sum(r.lag for r in lags)}")
    click.echo(format_table(["topic", "partition", "committed", "end", "lag"], rows, 60))


@click.group()
def db() -> None:
    """Manage the ClickHouse schema."""


@db.command("migrate")
def db_migrate() -> None:
    """Create the database and apply pending migrations (idempotent)."""
    from sinks.migrations import apply_migrations

    settings = current_settings()
    client = clickhouse_client(settings, with_database=False)
    applied = apply_migrations(
        client, settings.clickhouse_database, settings.migrations_dir, settings.clickhouse_cluster
    )
    click.echo(
        f"database {settings.clickhouse_database}: "
        + (
            f"applied {', '.join(f'{m.version:04d}_{m.name}' for m in applied)}"
            if applied
            else "schema is current"
        )
    )


@click.command()
@click.option("--topic", required=True, help="Topic to produce to (full name).")
@click.option(
    "--key-field",
    default=None,
    help="JSON field(s) to use as the record key: a name, a dotted path, or several joined by | "
    "(reviews: 'brand|product.sku', so each is counted where it is scored).",
)
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
def produce(topic: str, key_field: str | None, file: Path) -> None:
    """Replay FILE (JSON lines) into TOPIC, one record per line, bytes unchanged."""
    from tqdm import tqdm

    from pipeline.ops.kafka_io import iter_jsonl_lines, produce_lines

    settings = current_settings()
    total = sum(1 for _ in iter_jsonl_lines(file))
    with tqdm(total=total, unit="msg", desc=topic, file=sys.stderr) as bar:
        sent = asyncio.run(
            produce_lines(
                KafkaConnection.from_settings(settings), topic, iter_jsonl_lines(file), key_field, bar.update
            )
        )
    click.echo(f"produced {sent} records to {topic}")


@click.group()
def schema() -> None:
    """Message contracts: JSON Schema for every topic."""


@schema.command("export")
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    default=REPO_ROOT / "schemas" / "json",
    show_default=True,
    help="Directory for <topic>.schema.json files.",
)
def schema_export(out: Path) -> None:
    """Write one JSON Schema per topic (inputs, feedback, scored feedback, alerts, dead
    letters) so that consumers can validate what they read."""
    import orjson

    from schemas.registry import topic_json_schemas

    out.mkdir(parents=True, exist_ok=True)
    schemas = topic_json_schemas()
    for topic, document in schemas.items():
        payload = orjson.dumps(document, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS) + b"\n"
        (out / f"{topic}.schema.json").write_bytes(payload)
    click.echo(f"wrote {len(schemas)} schemas to {out}")


COMMANDS: list[click.Command] = [worker, topics, lag, db, produce, schema]
