"""The ``voc`` command line: the entry point that reads the settings, once."""

from __future__ import annotations

import asyncio
import logging
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import click
from pydantic import ValidationError

from config import REPO_ROOT, ConfigError, Settings
from pipeline.records import RawRecord
from pipeline.topics import TopicNames

if TYPE_CHECKING:
    from clickhouse_driver import Client

    from pipeline.analysis import Analyzer
    from pipeline.sentiment import SentimentScorer

__all__ = ["main"]


def _settings() -> Settings:
    try:
        return Settings()
    except ValidationError as exc:
        raise click.ClickException(f"invalid VOC_* setting: {exc}") from exc


def _clickhouse(settings: Settings, with_database: bool = True) -> Client:
    from pipeline.context import clickhouse_config
    from sinks.clickhouse import connect

    return connect(clickhouse_config(settings, with_database))


@click.group()
def main() -> None:
    """voc-pipeline: streaming voice-of-customer analytics on Kafka and ClickHouse.

    Settings come from VOC_* environment variables (see config/settings.py).
    """
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    # kafka-python logs every connection at INFO.
    logging.getLogger("kafka").setLevel(logging.WARNING)


@main.command()
@click.option("--web-port", type=int, default=None, help="Override VOC_WEB_PORT.")
@click.option(
    "--create-topics/--no-create-topics",
    default=True,
    show_default=True,
    help="Create missing topics before starting.",
)
def worker(web_port: int | None, create_topics: bool) -> None:
    """Run a Faust worker with every stage; more workers join the same consumer group."""
    import faust

    from pipeline.app import create_app
    from pipeline.context import WorkerContext, ensure_pipeline_topics

    settings = _settings()
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
    faust.Worker(app, loop=loop, loglevel=settings.log_level).execute_from_commandline()


@main.group()
def topics() -> None:
    """Manage the pipeline's Kafka topics."""


@topics.command("create")
def topics_create() -> None:
    """Create every topic that does not exist yet with VOC_TOPIC_PARTITIONS partitions and
    its configs, check the partition counts of those that exist, and set their configs where
    they differ (the dead-letter topic's retention.ms from VOC_DLQ_RETENTION_DAYS); idempotent."""
    from pipeline.context import ensure_pipeline_topics

    try:
        report = ensure_pipeline_topics(_settings())
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from exc
    created = f": {', '.join(report.created)}" if report.created else ""
    click.echo(f"created {len(report.created)} topics{created}; {len(report.existing)} already existed")
    if report.reconfigured:
        click.echo(f"set the configs of existing topics: {', '.join(report.reconfigured)}")
    for warning in report.warnings:
        click.echo(f"warning: {warning}", err=True)


@main.command()
@click.option("--group", default=None, help="Consumer group [VOC_APP_ID].")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per partition, one per line.")
def lag(group: str | None, as_json: bool) -> None:
    """Committed offset, end offset and lag of the pipeline's consumer group per topic and
    partition: every topic the workers read, and any other the group has committed on."""
    import orjson

    from pipeline.kafka_admin import consumer_lag
    from pipeline.report import format_table

    settings = _settings()
    group_id = group or settings.app_id
    names = TopicNames.in_namespace(settings.topic_namespace)
    consumed = [names.reviews_raw, names.chats_raw, names.surveys_raw, names.scored]
    consumed += [names.alerts, names.actions, names.brand_windows]
    try:
        lags = consumer_lag(settings.kafka_bootstrap, group_id, consumed)
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from exc
    if as_json:
        for row in lags:
            click.echo(orjson.dumps(row).decode())
        return
    rows = [(r.topic, r.partition, "-" if r.committed is None else r.committed, r.end, r.lag) for r in lags]
    click.echo(f"group {group_id}: total lag {sum(r.lag for r in lags)}")
    click.echo(format_table(["topic", "partition", "committed", "end", "lag"], rows, 60))


@main.group(invoke_without_command=True)
@click.option("--idle-timeout", default=3.0, show_default=True, help="Stop after this long idle.")
@click.pass_context
def dlq(ctx: click.Context, idle_timeout: float) -> None:
    """Print the dead letters with their reasons, from the beginning; ``voc dlq replay``
    sends fixed ones back."""
    if ctx.invoked_subcommand is not None:
        return
    from pipeline.demo import format_dead_letters

    _print_topic(lambda t: t.dlq, idle_timeout, lambda records: format_dead_letters(records))


@dlq.command("replay")
@click.option("--reason", "reasons", multiple=True, help="Only letters of this reason (repeatable).")
@click.option("--stage", "stages", multiple=True, help="Only letters of this stage (repeatable).")
@click.option(
    "--source-topic", "source_topics", multiple=True,
    help="Only letters from this topic (repeatable) [every topic of the namespace].",
)  # fmt: skip
@click.option("--dry-run", is_flag=True, help="Count what would be replayed; send nothing.")
@click.option("--json", "as_json", is_flag=True, help="Print the counts as JSON.")
def dlq_replay(
    reasons: tuple[str, ...],
    stages: tuple[str, ...],
    source_topics: tuple[str, ...],
    dry_run: bool,
    as_json: bool,
) -> None:
    """Send dead letters whose cause is fixed back to the topic they came from (key and
    value as in the letter, header voc.replayed_from). Reads the topic from its earliest
    record to its end at the start; letters without a value (VOC_DLQ_PAYLOAD=none) are
    counted, not sent."""
    import asyncio

    import orjson

    from pipeline.dlq_replay import ReplayFilter, replay_dead_letters

    settings = _settings()
    names = TopicNames.in_namespace(settings.topic_namespace)
    own = set(names.all()) - {names.dlq}
    foreign = sorted(set(source_topics) - own)
    if foreign:
        raise click.ClickException(
            f"not a topic of namespace {settings.topic_namespace}: {', '.join(foreign)}"
        )
    wanted = ReplayFilter(frozenset(reasons), frozenset(stages), frozenset(source_topics or own))
    report = asyncio.run(replay_dead_letters(settings.kafka_bootstrap, names.dlq, wanted, dry_run))
    if as_json:
        click.echo(orjson.dumps({**report.to_json(), "dry_run": dry_run}).decode())
        return
    verb = "would replay" if dry_run else "replayed"
    sent = ", ".join(f"{n} to {topic}" for topic, n in sorted(report.replayed.items())) or "nothing"
    click.echo(
        f"read {report.read} dead letters from {names.dlq}; {verb} {sent}; {report.not_matching} not "
        f"matching, {report.without_payload} without a value, {report.unreadable} without reason headers"
    )


@main.command()
@click.option("--customer-ref", "ref", default=None, help="The customer_ref as stored (salted hash).")
@click.option(
    "--customer-id", default=None,
    help="The customer's id at the source; hashed with VOC_CUSTOMER_REF_SALT into the ref.",
)  # fmt: skip
@click.option("--requested-by", default="", help="Who asked, for erasure_log (a ticket, a name).")
@click.option("--dry-run", is_flag=True, help="Count the customer's rows; change nothing.")
@click.option("--timeout", default=300.0, show_default=True, help="Seconds to wait for ClickHouse.")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
def forget(
    ref: str | None,
    customer_id: str | None,
    requested_by: str,
    dry_run: bool,
    timeout: float,
    as_json: bool,
) -> None:
    """Erase one customer from ClickHouse (a deletion request): their feedback, aspect
    mentions and profile rows, and their verbatims in alerts. Rollups keep anonymous counts;
    Kafka topics keep records until retention (README, "Personal data")."""
    from dataclasses import asdict

    import orjson

    from pipeline.erasure import ErasureIncomplete, customer_ref, find_customer, forget_customer

    if (ref is None) == (customer_id is None):
        raise click.UsageError("give exactly one of --customer-ref and --customer-id")
    settings = _settings()
    if customer_id is not None:
        ref = customer_ref(customer_id, settings.customer_ref_salt.get_secret_value().encode())
    assert ref is not None
    if not ref.strip():
        raise click.UsageError("the customer ref is empty ('' stands for every unknown customer)")
    client = _clickhouse(settings)
    if dry_run:
        rows = find_customer(client, ref)
        if as_json:
            click.echo(orjson.dumps({"customer_ref": ref, "stored": asdict(rows), "dry_run": True}).decode())
        else:
            click.echo(
                f"customer {ref}: {rows.feedback} feedback, {rows.aspect_mentions} aspect mentions, "
                f"{rows.customer_profile} profile rows, {rows.alerts} alerts quoting them (dry run)"
            )
        return
    try:
        report = forget_customer(client, settings.clickhouse_database, ref, requested_by, timeout)
    except ErasureIncomplete as exc:
        raise click.ClickException(str(exc)) from exc
    if as_json:
        click.echo(orjson.dumps(report.as_dict()).decode())
        return
    erased = report.erased
    click.echo(
        f"erased customer {ref}: {erased.feedback} feedback, {erased.aspect_mentions} aspect mentions, "
        f"{erased.customer_profile} profile rows; {erased.alerts} alerts redacted; "
        f"erasure_log request {report.request_id}"
    )


@main.group()
def db() -> None:
    """Manage the ClickHouse schema."""


@db.command("migrate")
def db_migrate() -> None:
    """Create the database and apply pending migrations (idempotent)."""
    from sinks.migrations import apply_migrations

    settings = _settings()
    client = _clickhouse(settings, with_database=False)
    applied = apply_migrations(client, settings.clickhouse_database, settings.migrations_dir)
    click.echo(
        f"database {settings.clickhouse_database}: "
        + (
            f"applied {', '.join(f'{m.version:04d}_{m.name}' for m in applied)}"
            if applied
            else "schema is current"
        )
    )


@main.command()
@click.option("--topic", required=True, help="Topic to produce to (full name).")
@click.option("--key-field", default=None, help="Top-level JSON field to use as record key.")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
def produce(topic: str, key_field: str | None, file: Path) -> None:
    """Replay FILE (JSON lines) into TOPIC, one record per line, bytes unchanged."""
    from tqdm import tqdm

    from pipeline.kafka_io import iter_jsonl_lines, produce_lines

    settings = _settings()
    total = sum(1 for _ in iter_jsonl_lines(file))
    with tqdm(total=total, unit="msg", desc=topic, file=sys.stderr) as bar:
        sent = asyncio.run(
            produce_lines(settings.kafka_bootstrap, topic, iter_jsonl_lines(file), key_field, bar.update)
        )
    click.echo(f"produced {sent} records to {topic}")


@main.command()
@click.option("--limit", default=10, show_default=True)
@click.option(
    "--html",
    "html_file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write a self-contained HTML page with charts (docs/bi.md queries) instead.",
)
@click.option("--brand", help="Brand of the HTML page [the first of VOC_BRAND_GROUPS, else the largest].")
def report(limit: int, html_file: Path | None, brand: str | None) -> None:
    """Print the headline report read back from ClickHouse, or write it as HTML."""
    from pipeline.report import render_report

    settings = _settings()
    client = _clickhouse(settings)
    if html_file is not None:
        from pipeline.html_report import default_scope, render_html_report

        groups = dict(settings.brand_groups)
        if brand is not None:
            groups = {brand: groups.get(brand, ())}
        scope = default_scope(client, groups)
        if scope is None:
            raise click.ClickException("no feedback stored yet: nothing to report")
        html_file.write_text(render_html_report(client, scope), encoding="utf-8")
        click.echo(f"wrote {html_file} ({scope.brand}, {scope.start:%Y-%m-%d} to {scope.end:%Y-%m-%d})")
        return
    click.echo(
        render_report(
            client,
            limit=limit,
            brand_groups=settings.brand_groups,
            action_horizons_h=settings.action_horizons_h,
        )
    )


def _print_topic(
    topic_of: Callable[[TopicNames], str], idle_timeout: float, render: Callable[[list[RawRecord]], str]
) -> None:
    from pipeline.kafka_io import read_topic

    settings = _settings()
    topic = topic_of(TopicNames.in_namespace(settings.topic_namespace))
    click.echo(render(asyncio.run(read_topic(settings.kafka_bootstrap, topic, idle_timeout))))


@main.command()
@click.option("--idle-timeout", default=3.0, show_default=True, help="Stop after this long idle.")
def alerts(idle_timeout: float) -> None:
    """Print the alert events on the alert topic, from the beginning."""
    from pipeline.demo import format_alerts

    _print_topic(lambda t: t.alerts, idle_timeout, lambda records: format_alerts([r.value for r in records]))


@main.command()
@click.option(
    "--work-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=REPO_ROOT / ".local" / "demo",
    show_default=True,
)
@click.option("--timeout", default=300.0, show_default=True, help="Seconds to wait for the pipeline.")
def demo(work_dir: Path, timeout: float) -> None:
    """Create topics and tables, run a worker, replay the demo data, print the results."""
    from pipeline.context import ensure_pipeline_topics
    from pipeline.demo import run_demo
    from sinks.migrations import apply_migrations

    settings = _settings()
    try:
        ensure_pipeline_topics(settings)
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from exc
    apply_migrations(
        _clickhouse(settings, with_database=False), settings.clickhouse_database, settings.migrations_dir
    )
    sys.exit(run_demo(settings, _clickhouse(settings), work_dir, timeout))


@main.command()
@click.option("--count", default=50_000, show_default=True, help="Feedback to push through.")
@click.option(
    "--rate", type=float, default=None, help="Messages/s to produce at (default: as fast as possible)."
)
@click.option("--timeout", default=600.0, show_default=True, help="Seconds to wait for the pipeline.")
@click.option("--workers", default=1, show_default=True, type=click.IntRange(1, 16), help="Worker processes.")
@click.option(
    "--baseline/--no-baseline", default=True, show_default=True, help="Also run the Faust-free baseline loop."
)
def bench(count: int, rate: float | None, timeout: float, workers: int, baseline: bool) -> None:
    """Measure end-to-end feedback/s and produce→ClickHouse latency of the worker, and of
    the Faust-free baseline loop on the same data (JSON). Partitions: VOC_TOPIC_PARTITIONS."""
    import orjson

    from pipeline.bench import run_bench

    result = run_bench(
        _settings(), count, rate, REPO_ROOT / ".local" / "bench", timeout, workers=workers, baseline=baseline
    )
    click.echo(orjson.dumps(result).decode())


@main.command()
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

    from pipeline.chaos import DRILLS, run_chaos

    result = run_chaos(
        _settings(), drills or DRILLS, count, kills, outage_s, malformed, seed,
        REPO_ROOT / ".local" / "chaos", timeout,
    )  # fmt: skip
    click.echo(orjson.dumps(result).decode())


@main.command("bench-queries")
@click.option("--rows", default=10_000_000, show_default=True, help="Aspect-mention rows to load.")
@click.option("--repeats", default=11, show_default=True, help="Timed runs per query.")
@click.option("--database", default="voc_bench_queries", show_default=True, help="Recreated for the run.")
@click.option("--reuse", is_flag=True, help="Time the database as it is if it already holds ROWS mentions.")
def bench_queries(rows: int, repeats: int, database: str, reuse: bool) -> None:
    """Time every query of docs/bi.md on ROWS aspect mentions (demo distribution)."""
    import orjson

    from pipeline.context import build_analyzer, ingest_context
    from pipeline.query_bench import run_query_bench
    from pipeline.report import format_table

    settings = _settings()
    client = _clickhouse(settings, with_database=False)
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


@main.group()
def grafana() -> None:
    """Grafana dashboard built on the documented queries."""


@grafana.command("dashboard")
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Where to write it [deploy/grafana/dashboards/voc.json].",
)
def grafana_dashboard(out: Path | None) -> None:
    """Generate the dashboard JSON from docs/bi.md."""
    from pipeline.bi_queries import read_bi_queries
    from pipeline.grafana import DASHBOARD_PATH, dashboard_json

    path = out or DASHBOARD_PATH
    path.write_text(dashboard_json(read_bi_queries()), encoding="utf-8")
    click.echo(f"wrote {path}")


def _scorer(settings: Settings, model: str) -> SentimentScorer:
    from pipeline.context import load_sentiment_scorer
    from pipeline.sentiment import load_snownlp_model

    try:
        return load_sentiment_scorer(settings) if model == "ours" else load_snownlp_model()
    except (ConfigError, RuntimeError) as exc:
        raise click.ClickException(str(exc)) from exc


def _analyzer(settings: Settings, taxonomy_path: Path | None, scorer: SentimentScorer) -> Analyzer:
    from pipeline.context import build_analyzer

    try:
        return build_analyzer(settings, taxonomy_path, scorer)
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from exc


_MODEL_OPTION = click.option(
    "--model",
    type=click.Choice(["ours", "snownlp"]),
    default="ours",
    show_default=True,
    help="ours: the trained model (VOC_SENTIMENT_MODEL_PATH); snownlp: its bundled Bayes model.",
)


_DATA_DIR_OPTION = click.option(
    "--data-dir",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    default=REPO_ROOT.parent / "shared" / "data",
    show_default=True,
    help="The labelled data: sentiment/*/dev.csv and aspects/asap_samples/*.csv.",
)


@main.group()
def train() -> None:
    """Train models on labelled data (needs the `train` extra: pip install -e '.[train]')."""


@train.command("sentiment")
@_DATA_DIR_OPTION
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), default=None, help="Artefact path.")
@click.option("--cv-folds", default=0, show_default=True, help="Also cross-validate with this many folds.")
def train_sentiment(data_dir: Path, out: Path | None, cv_folds: int) -> None:
    """Fit the sentence sentiment model and write its artefact; print CV accuracy as JSON."""
    import orjson

    from pipeline.training import train_and_save

    settings = _settings()
    result = train_and_save(
        data_dir, out or settings.sentiment_model_path, settings.tokenizer, cv_folds, click.echo
    )
    click.echo(orjson.dumps(result).decode())


@train.command("aspects")
@_DATA_DIR_OPTION
@click.option(
    "--taxonomy", "taxonomy_path", type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=REPO_ROOT / "config" / "taxonomy" / "catering.yaml", show_default=True,
    help="The taxonomy whose labels are the files' columns.",
)  # fmt: skip
@click.option(
    "--file", "files", multiple=True, type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Labelled CSV (reviewbody + one column per label), repeatable [the catering files of --data-dir].",
)  # fmt: skip
@click.option("--text-column", default="reviewbody", show_default=True, help="The column holding the text.")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), default=None, help="Artefact path.")
@click.option("--cv-folds", default=0, show_default=True, help="Also cross-validate with this many folds.")
def train_aspects(
    data_dir: Path,
    taxonomy_path: Path,
    files: tuple[Path, ...],
    text_column: str,
    out: Path | None,
    cv_folds: int,
) -> None:
    """Fit the learned aspect model of a taxonomy on labelled reviews and write its artefact
    (pipeline/models/aspects-<industry>.npz); print CV figures as JSON."""
    import orjson

    from pipeline.aspect_training import CATERING_FILES, cross_validate, fit, load_examples
    from pipeline.context import aspect_model_path, build_analyzer

    settings = _settings()
    try:
        analyzer = build_analyzer(settings, taxonomy_path, learned_aspects=False)
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from exc
    paths = list(files) or [data_dir / name for name in CATERING_FILES]
    labels = _label_columns(paths[0], analyzer)
    if not labels:
        raise click.ClickException(
            f"no column of {paths[0]} is a label of taxonomy {analyzer.taxonomy_version}"
        )
    try:
        examples = load_examples(paths, labels, analyzer, text_column)
    except ValueError as exc:
        raise click.ClickException(str(exc)) from exc
    result: dict[str, object] = {"rows": len(examples), "labels": len(labels)}
    if cv_folds:
        cv = cross_validate(examples, labels, analyzer.taxonomy_version, cv_folds, progress=click.echo)
        result["cv"] = {
            "folds": cv_folds, "macro_f1": round(cv.macro_f1, 4), "mention_f1": round(cv.mention_f1, 4),
            "polarity_accuracy": round(cv.polarity_accuracy, 4),
            "lexicon_macro_f1": round(cv.lexicon_macro_f1, 4),
        }  # fmt: skip
    target = out or aspect_model_path(settings, analyzer.taxonomy.industry)
    fit(examples, labels, analyzer.taxonomy_version).save(target)
    result["artefact"] = str(target)
    click.echo(orjson.dumps(result).decode())


def _label_columns(path: Path, analyzer: Analyzer) -> list[str]:
    """The columns of ``path`` that are labels of the analyzer's taxonomy, in taxonomy order."""
    import csv

    with path.open(encoding="utf-8-sig", newline="") as handle:
        columns = set(next(csv.reader(handle), []))
    return [node.label for _, node in analyzer.taxonomy.paths() if node.label in columns]


@main.group("eval")
def evaluate() -> None:
    """Measure the text stage on labelled CSV files, or the alert rules on a scenario; one
    JSON line per run."""


@evaluate.command("pii")
@click.option("--seed", default=13, show_default=True, help="Seed of the generated corpus.")
@click.option("--per-type", default=40, show_default=True, help="Positives per PII type (10 types).")
@click.option("--negatives", default=400, show_default=True, help="Look-alikes that must survive.")
def eval_pii(seed: int, per_type: int, negatives: int) -> None:
    """What `make eval-pii` runs: mask a seeded corpus of personal data in the forms customers
    type and of numbers analysts need; print recall per type, false masks per kind and
    precision (one JSON object)."""
    import orjson

    from pipeline.pii_eval import evaluate_pii, generate_corpus

    result = evaluate_pii(generate_corpus(seed, per_type, negatives))
    click.echo(orjson.dumps(result, option=orjson.OPT_INDENT_2).decode())


@evaluate.command("alerts")
@click.argument("scenario_dir", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option(
    "--rules",
    "rules_path",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help="Alert rules YAML (default: VOC_ALERT_RULES_PATH).",
)
def eval_alerts(scenario_dir: Path, rules_path: Path | None) -> None:
    """Stream a scenario (`voc scenario generate`) through the detector and print recall per
    anomaly kind, false alarms per 1,000 stationary scope-windows and delay in windows."""
    import orjson

    from config import load_alert_rules
    from pipeline.scenarios import evaluate_alerts, read_scenario

    try:
        scenario = read_scenario(scenario_dir)
        rules = load_alert_rules(rules_path or _settings().alert_rules_path)
    except (ValueError, ConfigError) as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(orjson.dumps(evaluate_alerts(scenario, rules)).decode())


@main.group()
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


@main.group()
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
    from pipeline.scenarios import generate_scenario, write_scenario

    if windows < 24 or products < 1 or window_seconds < 1:
        raise click.ClickException("need --windows ≥ 24, --products ≥ 1 and --window-seconds ≥ 1")
    generated = generate_scenario(seed, products, windows, window_seconds)
    write_scenario(generated, out_dir)
    click.echo(
        f"wrote {out_dir}: {products} products, {windows} windows, {len(generated.injections)} anomalies"
    )


@evaluate.command("sentiment")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--text-column", default="review", show_default=True)
@click.option("--label-column", default="label", show_default=True)
@click.option(
    "--predictions",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Write one `label` (1/0) per input row, in input order.",
)
@_MODEL_OPTION
def eval_sentiment(
    file: Path, text_column: str, label_column: str, predictions: Path | None, model: str
) -> None:
    """Binary sentence-level accuracy, macro-F1 and docs/s on FILE (label 1/0)."""
    import orjson

    from pipeline.evaluation import EvaluationInputError, evaluate_sentiment

    settings = _settings()
    analyzer = _analyzer(settings, None, _scorer(settings, model))
    try:
        report = evaluate_sentiment(file, analyzer, text_column, label_column, predictions)
    except EvaluationInputError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(orjson.dumps(report.to_json()).decode())


@evaluate.command("aspects")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--predictions",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Write the predicted aspect columns per input row, in input order.",
)
@click.option(
    "--taxonomy",
    "taxonomy_path",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=REPO_ROOT / "config" / "taxonomy" / "catering.yaml",
    show_default=True,
    help="The taxonomy whose node labels are FILE's aspect columns (catering: the 18 ASAP columns).",
)
@click.option("--text-column", default="reviewbody", show_default=True, help="The column holding the text.")
@click.option("--lexicon-only", is_flag=True, help="Leave the taxonomy's learned aspect model out.")
@_MODEL_OPTION
def eval_aspects(
    file: Path,
    predictions: Path | None,
    taxonomy_path: Path,
    text_column: str,
    lexicon_only: bool,
    model: str,
) -> None:
    """Aspect evaluation (AI Challenger 2018 macro-F1) on FILE, in the ASAP layout: a text
    column and one column per taxonomy label holding 1 / 0 / -1 / -2 (every label of the
    taxonomy that is a column of FILE is evaluated)."""
    import orjson

    from pipeline.context import build_analyzer
    from pipeline.evaluation import EvaluationInputError, evaluate_aspects

    settings = _settings()
    try:
        analyzer = build_analyzer(
            settings,
            taxonomy_path,
            _scorer(settings, model),
            learned_aspects=not lexicon_only and model == "ours",
        )
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from exc
    labels = _label_columns(file, analyzer)
    if not labels:
        raise click.ClickException(f"no column of {file} is a label of {analyzer.taxonomy_version}")
    try:
        report = evaluate_aspects(file, analyzer, predictions, labels, text_column)
    except EvaluationInputError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(orjson.dumps(report.to_json()).decode())


@evaluate.command("report")
@_DATA_DIR_OPTION
@click.option(
    "--readme",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help="Write the results table into this README's results section.",
)
def eval_report(data_dir: Path, readme: Path | None) -> None:
    """Ours against snownlp's model on the labelled data (needs the `train` extra)."""
    import dataclasses

    import orjson

    from pipeline.context import build_analyzer
    from pipeline.eval_report import render_table, run_eval_report, write_into_readme

    settings = _settings()
    catering = REPO_ROOT / "config" / "taxonomy" / "catering.yaml"
    # Each model is loaded once and shared by the analyzers of both taxonomies.
    ours, baseline = _scorer(settings, "ours"), _scorer(settings, "snownlp")
    result = run_eval_report(
        data_dir,
        REPO_ROOT / ".local" / "eval",
        _analyzer(settings, None, ours),
        _analyzer(settings, None, baseline),
        build_analyzer(settings, catering, ours, learned_aspects=False),
        build_analyzer(settings, catering, baseline, learned_aspects=False),
        build_analyzer(settings, catering, ours, learned_aspects=True),
        lambda line: click.echo(line, err=True),
    )
    table = render_table(result)
    click.echo(table)
    if readme is not None:
        write_into_readme(readme, table)
    result["aspects"] = {name: report.to_json() for name, report in result["aspects"].items()}
    result["ecommerce"] = result["ecommerce"].to_json()
    result["learned_cv"] = dataclasses.asdict(result["learned_cv"])
    click.echo(orjson.dumps(result).decode())


@main.command("bench-nlp")
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

    from pipeline.nlp_bench import render_table, run_nlp_bench

    settings = _settings()
    try:
        result = run_nlp_bench(texts_csv, settings.taxonomy_path, text_column)
    except (FileNotFoundError, ValueError) as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(render_table(result))
    click.echo(orjson.dumps(result).decode())


if __name__ == "__main__":
    main()
