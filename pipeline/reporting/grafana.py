"""The Grafana dashboard, generated from the documented queries of docs/bi.md.

Parameters become Grafana's: ``%(brand)s`` → ``'${brand}'``, ``%(brands)s`` → the brand and
the ``competitors`` variable, ``%(aspect)s`` → ``'${aspect}'``, ``%(from)s`` / ``%(to)s`` → the
ClickHouse plugin's ``$__fromTime`` / ``$__toTime``. The result is committed in
``deploy/grafana/dashboards/voc.json``; a test fails when it is stale.
"""

from __future__ import annotations

import json
from typing import Any

from config.settings import REPO_ROOT
from pipeline.reporting.bi_queries import BiQuery

__all__ = ["DASHBOARD_PATH", "DATASOURCE_UID", "dashboard", "dashboard_json", "grafana_sql"]

DASHBOARD_PATH = REPO_ROOT / "deploy" / "grafana" / "dashboards" / "voc.json"
#: The uid the provisioned datasource gets (deploy/grafana/provisioning/datasources).
DATASOURCE_UID = "voc-clickhouse"

_PARAMETERS = {
    "%(brand)s": "'${brand}'",
    "%(brands)s": "('${brand}', ${competitors:singlequote})",
    "%(aspect)s": "'${aspect}'",
    "toDateTime(%(from)s)": "$__fromTime",
    "toDateTime(%(to)s)": "$__toTime",
}
# Grafana plugin query formats: 0 time series, 1 table.
_FORMAT = {"timeseries": 0, "table": 1, "stat": 1, "barchart": 1}
_WIDE = {"table"}


def grafana_sql(sql: str) -> str:
    """A documented query with Grafana's variables and time macros for its parameters."""
    for parameter, grafana in _PARAMETERS.items():
        sql = sql.replace(parameter, grafana)
    if "%(" in sql:
        raise ValueError(f"a parameter has no Grafana equivalent in: {sql[:80]}...")
    return sql


def _variable(name: str, label: str, query: str, multi: bool) -> dict[str, Any]:
    return {
        "name": name,
        "label": label,
        "type": "query",
        "datasource": {"type": "grafana-clickhouse-datasource", "uid": DATASOURCE_UID},
        "query": query,
        "refresh": 2,
        "multi": multi,
        "includeAll": False,
    }


def dashboard(queries: list[BiQuery]) -> dict[str, Any]:
    """The dashboard model: one panel per query, two per row except wide tables."""
    panels: list[dict[str, Any]] = []
    x = y = 0
    for query in queries:
        width = 24 if query.panel in _WIDE else 12
        if x + width > 24:
            x, y = 0, y + 8
        panels.append(
            {
                "id": query.number,
                "title": f"{query.number}. {query.title}",
                "description": query.description,
                "type": query.panel,
                "gridPos": {"x": x, "y": y, "w": width, "h": 8},
                "datasource": {"type": "grafana-clickhouse-datasource", "uid": DATASOURCE_UID},
                "targets": [
                    {
                        "refId": "A",
                        "datasource": {"type": "grafana-clickhouse-datasource", "uid": DATASOURCE_UID},
                        "editorType": "sql",
                        "format": _FORMAT[query.panel],
                        "rawSql": grafana_sql(query.sql),
                    }
                ],
            }
        )
        x += width
        if x >= 24:
            x, y = 0, y + 8
    brands = "SELECT DISTINCT brand FROM feedback_rollup_day ORDER BY brand"
    return {
        "uid": "voc-overview",
        "title": "Voice of customer",
        "tags": ["voc-pipeline"],
        "timezone": "utc",
        "schemaVersion": 39,
        "time": {"from": "now-30d", "to": "now"},
        "templating": {
            "list": [
                _variable("brand", "Brand", brands, multi=False),
                _variable("competitors", "Competitors", brands, multi=True),
                _variable(
                    "aspect",
                    "Aspect",
                    "SELECT DISTINCT aspect_l1 FROM aspect_rollup_day ORDER BY aspect_l1",
                    False,
                ),
            ]
        },
        "panels": panels,
    }


def dashboard_json(queries: list[BiQuery]) -> str:
    """The dashboard as the committed file holds it."""
    return json.dumps(dashboard(queries), ensure_ascii=False, indent=2) + "\n"
