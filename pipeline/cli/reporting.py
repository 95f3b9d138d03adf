"""Reading results back: ``voc report``, ``voc alerts``, ``voc grafana``."""

from __future__ import annotations

from pathlib import Path

import click

from pipeline.cli._common import (
    clickhouse_client,
    current_settings,
    print_topic,
)  # fmt: skip

__all__ = ["COMMANDS"]


@click.command()
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
    from pipeline.reporting.report import render_report

    settings = current_settings()
    client = clickhouse_client(settings)
    if html_file is not None:
        from pipeline.reporting.html_report import default_scope, render_html_report

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


@click.command()
@click.option("--idle-timeout", default=3.0, show_default=True, help="Stop after this long idle.")
def alerts(idle_timeout: float) -> None:
    """Print the alert events on the alert topic, from the beginning."""
    from pipeline.tools.demo import format_alerts

    print_topic(lambda t: t.alerts, idle_timeout, lambda records: format_alerts([r.value for r in records]))


@click.group()
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
    from pipeline.reporting.bi_queries import read_bi_queries
    from pipeline.reporting.grafana import DASHBOARD_PATH, dashboard_json

    path = out or DASHBOARD_PATH
    path.write_text(dashboard_json(read_bi_queries()), encoding="utf-8")
    click.echo(f"wrote {path}")


COMMANDS: list[click.Command] = [report, alerts, grafana]
