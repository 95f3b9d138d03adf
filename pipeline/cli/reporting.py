"""Reading results back: ``voc report``, ``voc alerts``, ``voc grafana``, ``voc superset``."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import asdict, replace
from pathlib import Path
from typing import TYPE_CHECKING

import click

from pipeline.cli._common import (
    clickhouse_client,
    current_settings,
    print_topic,
)  # fmt: skip

if TYPE_CHECKING:
    from clickhouse_driver import Client

    from pipeline.reporting.html_report import ReportScope

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
        from pipeline.reporting.html_report import render_html_report

        scope = _report_scope(client, settings.brand_groups, brand)
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


@click.group()
def superset() -> None:
    """Apache Superset on the pipeline's ClickHouse (docs/bi.md, "Superset")."""


@superset.command("provision")
@click.option("--url", default="http://127.0.0.1:8088", show_default=True, help="Superset's base URL.")
@click.option("--user", "username", default="admin", show_default=True, help="A Superset admin.")
@click.option("--password", envvar="VOC_SUPERSET_PASSWORD", required=True, help="[env VOC_SUPERSET_PASSWORD]")
@click.option("--database-name", default="voc", show_default=True, help="The name Superset lists it under.")
@click.option(
    "--bi-user", default="voc_bi", show_default=True, help="The read-only ClickHouse user Superset uses."
)
@click.option(
    "--bi-password", envvar="VOC_SUPERSET_BI_PASSWORD", default="", help="[env VOC_SUPERSET_BI_PASSWORD]"
)
@click.option("--brand", help="The chart's brand [the first of VOC_BRAND_GROUPS, else the largest].")
@click.option(
    "--check-queries/--no-check-queries",
    default=True,
    show_default=True,
    help="Run every docs/bi.md query through SQL Lab and compare its rows with a direct run.",
)
@click.option(
    "--screenshot",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write a PNG of the chart as headless Chromium draws it.",
)
def superset_provision(
    url: str,
    username: str,
    password: str,
    database_name: str,
    bi_user: str,
    bi_password: str,
    brand: str | None,
    check_queries: bool,
    screenshot: Path | None,
) -> None:
    """Register ClickHouse in Superset, save a chart, check the queries; prints a JSON report.

    Exits non-zero when Superset refuses something, a query's rows differ from a direct run,
    or the chart does not draw.
    """
    from pipeline.reporting.bi_queries import bi_params, read_bi_queries
    from pipeline.reporting.superset import (
        CHART_READY_JS,
        SupersetApi,
        SupersetError,
        check_bi_queries,
        clickhouse_sqlalchemy_uri,
        provision_chart,
    )
    from pipeline.runtime.context import clickhouse_config
    from sinks.clickhouse import connect

    settings = current_settings()
    config = replace(clickhouse_config(settings), user=bi_user, password=bi_password)
    client = connect(config)
    scope = _report_scope(client, settings.brand_groups, brand)
    api = SupersetApi(url.rstrip("/"), username, password)
    problems: list[str] = []
    try:
        api.login()
        chart = provision_chart(
            api,
            database_name=database_name,
            sqlalchemy_uri=clickhouse_sqlalchemy_uri(config),
            schema=config.database or "default",
            brand=scope.brand,
        )
        rows = api.chart_data(chart.chart_id)
        result: dict[str, object] = {**asdict(chart), "brand": scope.brand, "chart_rows": len(rows)}
        if not rows:
            problems.append(f"the chart has no rows for {scope.brand}")
        if check_queries:
            params = bi_params(scope.brand, scope.competitors, scope.aspect, scope.start, scope.end)
            checks = check_bi_queries(
                api,
                chart.database_id,
                config.database or "default",
                read_bi_queries(),
                client,
                lambda sql, values: client.substitute_params(sql, values, client.connection.context),
                params,
            )
            result["queries"] = [{**asdict(check), "passed": check.passed} for check in checks]
            problems += [
                f"docs/bi.md #{c.number} ({c.title}): {c.error or 'rows differ'}"
                for c in checks
                if not c.passed
            ]
    except SupersetError as error:
        raise click.ClickException(str(error)) from error
    finally:
        client.disconnect()
    if screenshot is not None:
        from pipeline.reporting.screenshot import ScreenshotError, capture_page

        try:
            capture = capture_page(
                chart.url, screenshot, ready_js=CHART_READY_JS, cookies=api.session_cookies()
            )
            result["screenshot"] = {"path": str(capture.path), "seconds_to_ready": capture.seconds_to_ready}
        except ScreenshotError as error:
            problems.append(str(error))
    result["problems"] = problems
    click.echo(json.dumps(result, ensure_ascii=False, indent=2))
    if problems:
        raise click.ClickException("; ".join(problems))


def _report_scope(
    client: Client, brand_groups: Mapping[str, Sequence[str]], brand: str | None
) -> ReportScope:
    """Whose data to show: ``brand`` (with its configured competitors), else the default scope."""
    from pipeline.reporting.html_report import default_scope

    groups = dict(brand_groups)
    if brand is not None:
        groups = {brand: groups.get(brand, ())}
    scope = default_scope(client, groups)
    if scope is None:
        raise click.ClickException("no feedback stored yet: run `make demo` (or the pipeline) first")
    return scope


COMMANDS: list[click.Command] = [report, alerts, grafana, superset]
