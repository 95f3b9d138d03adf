"""Operator actions on stored data: ``voc dlq`` (read, replay) and ``voc forget`` (erasure)."""

from __future__ import annotations

import asyncio

import click

from pipeline.cli._common import (
    clickhouse_client,
    current_settings,
    print_topic,
)  # fmt: skip
from pipeline.runtime.kafka_connection import KafkaConnection
from pipeline.runtime.topics import TopicNames

__all__ = ["COMMANDS"]


@click.group(invoke_without_command=True)
@click.option("--idle-timeout", default=3.0, show_default=True, help="Stop after this long idle.")
@click.pass_context
def dlq(ctx: click.Context, idle_timeout: float) -> None:
    """Print the dead letters with their reasons, from the beginning; ``voc dlq replay``
    sends fixed ones back."""
    if ctx.invoked_subcommand is not None:
        return
    from pipeline.tools.demo import format_dead_letters

    print_topic(lambda t: t.dlq, idle_timeout, lambda records: format_dead_letters(records))


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
    import orjson

    from pipeline.ops.dlq_replay import ReplayFilter, replay_dead_letters

    settings = current_settings()
    names = TopicNames.in_namespace(settings.topic_namespace)
    own = set(names.all()) - {names.dlq}
    foreign = sorted(set(source_topics) - own)
    if foreign:
        raise click.ClickException(
            f"not a topic of namespace {settings.topic_namespace}: {', '.join(foreign)}"
        )
    wanted = ReplayFilter(frozenset(reasons), frozenset(stages), frozenset(source_topics or own))
    report = asyncio.run(
        replay_dead_letters(KafkaConnection.from_settings(settings), names.dlq, wanted, dry_run)
    )
    if as_json:
        click.echo(orjson.dumps({**report.to_json(), "dry_run": dry_run}).decode())
        return
    verb = "would replay" if dry_run else "replayed"
    sent = ", ".join(f"{n} to {topic}" for topic, n in sorted(report.replayed.items())) or "nothing"
    click.echo(
        f"read {report.read} dead letters from {names.dlq}; {verb} {sent}; {report.not_matching} not "
        f"matching, {report.without_payload} without a value, {report.unreadable} without reason headers"
    )


@click.command()
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

    from pipeline.ops.erasure import ErasureIncomplete, customer_ref, find_customer, forget_customer

    if (ref is None) == (customer_id is None):
        raise click.UsageError("give exactly one of --customer-ref and --customer-id")
    settings = current_settings()
    if customer_id is not None:
        ref = customer_ref(customer_id, settings.customer_ref_salt.get_secret_value().encode())
    assert ref is not None
    if not ref.strip():
        raise click.UsageError("the customer ref is empty ('' stands for every unknown customer)")
    client = clickhouse_client(settings)
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
        report = forget_customer(
            client,
            settings.clickhouse_database,
            ref,
            requested_by,
            timeout,
            cluster=settings.clickhouse_cluster,
        )
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


COMMANDS: list[click.Command] = [dlq, forget]
