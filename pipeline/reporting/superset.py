"""Apache Superset on the project's ClickHouse: register the database, chart it, check the queries.

``voc superset provision`` (and ``make bi``) talk to a running Superset through its REST API
(``/api/v1``) as an admin user:

- the ClickHouse database is registered under a name (found by name if it already is), with a
  ``clickhouse+native://`` URI of the read-only BI user (``voc_bi``);
- ``aspect_rollup_hour`` becomes a (virtual) dataset, and one chart is saved on it: the hourly negative
  share per level-1 aspect of one brand (docs/bi.md #8, drawn by Superset's ECharts line);
- each docs/bi.md query can be run through SQL Lab and its rows compared with the same query
  run directly with clickhouse-driver.

Superset 6.1 on ClickHouse 18.16, as measured (docs/bi.md, "Superset"):

- a time grain on a chart is emitted as ``dateTrunc(...)``, which 18.16 does not have; the
  rollup is already hourly, so the chart uses ``period`` as it is, with no time grain;
- SQL Lab parses each query with sqlglot before it runs it: ClickHouse's ``ALL INNER JOIN``
  strictness does not parse, so docs/bi.md spells it ``INNER JOIN`` (ALL is the default);
- SQL Lab applies its own row limit (``queryLimit``), so a check passes the query's own
  ``LIMIT`` as ``queryLimit`` where it has one.
"""

from __future__ import annotations

import http.cookiejar
import json
import math
import re
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from pipeline.reporting.bi_queries import BiQuery, QueryClient
from sinks.clickhouse import ClickHouseConfig

__all__ = [
    "CHART_DATASET",
    "CHART_READY_JS",
    "ProvisionedChart",
    "QueryCheck",
    "SupersetApi",
    "SupersetError",
    "check_bi_queries",
    "clickhouse_sqlalchemy_uri",
    "negative_share_chart",
    "provision_chart",
]

# The dataset the saved chart reads: hourly rollups, one row per brand × product × aspect × hour.
CHART_DATASET = "aspect_rollup_hour"

# The readiness check for a chart page (pipeline.reporting.screenshot): ready once ECharts has
# drawn its canvas; Superset's error card ("Data error", an alert role) or the login page
# is the error.
CHART_READY_JS = """(() => {
  if (location.pathname.startsWith('/login')) return 'error: redirected to the login page';
  const alert = document.querySelector('[role=alert], .ant-alert-error');
  const text = document.body ? document.body.innerText : '';
  if (alert || text.includes('Data error')) return 'error: ' + (alert ? alert.innerText : text).slice(0, 400);
  const canvas = document.querySelector('.echarts-for-react canvas, .chart-container canvas');
  return canvas && canvas.width > 0 ? 'ready: ' + document.title : '';
})()"""

_TRAILING_LIMIT = re.compile(r"\bLIMIT\s+(\d+)\s*;?\s*$", re.IGNORECASE)


class SupersetError(RuntimeError):
    """Superset answered with an error, or not at all; the message has its status and body."""


@dataclass(slots=True)
class SupersetApi:
    """A logged-in session with Superset's REST API.

    ``login()`` gets a JWT for the API and, through the login form, the session cookie a
    browser needs to open a chart (``session_cookies``).
    """

    base_url: str
    username: str
    password: str
    timeout_s: float = 120.0
    _token: str | None = None
    _cookies: http.cookiejar.CookieJar = field(default_factory=http.cookiejar.CookieJar)

    def login(self) -> None:
        """Log in; raises ``SupersetError`` on bad credentials or an unreachable server."""
        answer = self._call(
            "POST",
            "/api/v1/security/login",
            {"username": self.username, "password": self.password, "provider": "db", "refresh": False},
            authorized=False,
        )
        self._token = str(answer["access_token"])
        form = urllib.parse.urlencode({"username": self.username, "password": self.password}).encode()
        opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(self._cookies))
        with opener.open(
            urllib.request.Request(self.base_url + "/login/", data=form, method="POST"),
            timeout=self.timeout_s,
        ):
            pass
        if not any(cookie.name == "session" for cookie in self._cookies):
            raise SupersetError(f"{self.base_url}/login/ set no session cookie")

    def session_cookies(self) -> dict[str, str]:
        """The browser session's cookies (name → value), after ``login()``."""
        return {cookie.name: cookie.value or "" for cookie in self._cookies}

    def database_id(self, name: str, sqlalchemy_uri: str) -> int:
        """The id of the database registered as ``name``, registering it with the URI if absent.

        An existing registration gets the URI (so a changed password or host takes effect).
        """
        body = {"database_name": name, "sqlalchemy_uri": sqlalchemy_uri, "expose_in_sqllab": True}
        existing = self._find("database", "database_name", name)
        if existing is not None:
            self._call("PUT", f"/api/v1/database/{existing}", body)
            return existing
        return int(self._call("POST", "/api/v1/database/", body)["id"])

    def dataset_id(self, database_id: int, schema: str, name: str, sql: str) -> int:
        """The id of the virtual (SQL) dataset called ``name``, created, or updated to ``sql``.

        Virtual, not physical: Superset's SQLite metadata (the local one) keeps a unique
        constraint on a dataset's table name across databases, so a second database's
        ``aspect_rollup_hour`` cannot be added; a dataset named after its database can.
        """
        found = self._call("GET", f"/api/v1/dataset/?q={_rison_filters([('table_name', name)])}")["result"]
        if found:
            self._call("PUT", f"/api/v1/dataset/{found[0]['id']}", {"sql": sql})
            return int(found[0]["id"])
        body = {"database": database_id, "schema": schema, "table_name": name, "sql": sql}
        return int(self._call("POST", "/api/v1/dataset/", body)["id"])

    def chart_id(
        self, name: str, dataset_id: int, form_data: Mapping[str, Any], query: Mapping[str, Any]
    ) -> int:
        """The id of the chart saved as ``name``, created or updated with this definition."""
        form = {**form_data, "datasource": f"{dataset_id}__table"}
        query_context = {
            "datasource": {"id": dataset_id, "type": "table"},
            "force": False,
            "queries": [query],
            "form_data": form,
            "result_format": "json",
            "result_type": "full",
        }
        body = {
            "slice_name": name,
            "viz_type": form["viz_type"],
            "datasource_id": dataset_id,
            "datasource_type": "table",
            "params": json.dumps(form, ensure_ascii=False),
            "query_context": json.dumps(query_context, ensure_ascii=False),
        }
        existing = self._find("chart", "slice_name", name)
        if existing is not None:
            self._call("PUT", f"/api/v1/chart/{existing}", body)
            return existing
        return int(self._call("POST", "/api/v1/chart/", body)["id"])

    def chart_data(self, chart_id: int) -> list[dict[str, Any]]:
        """Run a saved chart's query as Superset would to draw it: its rows."""
        answer = self._call("GET", f"/api/v1/chart/{chart_id}/data/?format=json&type=full&force=true")
        result = answer["result"][0]
        if result.get("error"):
            raise SupersetError(f"chart {chart_id}: {result['error']}")
        return list(result["data"])

    def run_sql(
        self, database_id: int, sql: str, schema: str, limit: int | None = None
    ) -> list[dict[str, Any]]:
        """Run ``sql`` through SQL Lab, synchronously: its rows as dicts."""
        body: dict[str, Any] = {"database_id": database_id, "sql": sql, "schema": schema, "runAsync": False}
        if limit is not None:
            body["queryLimit"] = limit
        answer = self._call("POST", "/api/v1/sqllab/execute/", body)
        return list(answer.get("data") or [])

    def _find(self, resource: str, column: str, value: str) -> int | None:
        found = self._call("GET", f"/api/v1/{resource}/?q={_rison_filters([(column, value)])}")["result"]
        return int(found[0]["id"]) if found else None

    def _call(
        self, method: str, path: str, body: Mapping[str, Any] | None = None, *, authorized: bool = True
    ) -> dict[str, Any]:
        # A Content-Type on a GET makes Flask parse an absent JSON body and answer 400.
        headers = {"Accept": "application/json"} | (
            {} if body is None else {"Content-Type": "application/json"}
        )
        if authorized:
            if self._token is None:
                raise SupersetError("not logged in: call login() first")
            headers["Authorization"] = f"Bearer {self._token}"
        data = None if body is None else json.dumps(body, ensure_ascii=False).encode()
        request = urllib.request.Request(self.base_url + path, data=data, method=method, headers=headers)
        try:
            with urllib.request.urlopen(request, timeout=self.timeout_s) as response:
                answer: dict[str, Any] = json.loads(response.read() or b"{}")
                return answer
        except urllib.error.HTTPError as error:
            detail = error.read().decode("utf-8", "replace")
            raise SupersetError(f"{method} {path}: HTTP {error.code}: {_first_line(detail)}") from error
        except OSError as error:
            raise SupersetError(f"{method} {self.base_url}{path}: {error}") from error


@dataclass(frozen=True, slots=True)
class ProvisionedChart:
    """What ``provision_chart`` registered: ids, and the URL that opens the chart alone."""

    database_id: int
    dataset_id: int
    chart_id: int
    url: str


def negative_share_chart(brand: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """The saved chart: form data and its query, the hourly negative share per level-1 aspect.

    No time grain: Superset emits one as ``dateTrunc``, unknown to ClickHouse 18.16, and the
    rollup's ``period`` is already the hour.
    """
    share = {
        "expressionType": "SQL",
        "sqlExpression": "sum(negative) / sum(mentions)",
        "label": "negative share",
    }
    brand_filter = {
        "expressionType": "SIMPLE",
        "subject": "brand",
        "operator": "==",
        "comparator": brand,
        "clause": "WHERE",
    }
    form = {
        "viz_type": "echarts_timeseries_line",
        "x_axis": "period",
        "metrics": [share],
        "groupby": ["aspect_l1"],
        "adhoc_filters": [brand_filter],
        "row_limit": 10000,
        "time_range": "No filter",
        "y_axis_format": ".0%",
        "show_legend": True,
        "markerEnabled": True,
    }
    query = {
        "columns": [
            {
                "columnType": "BASE_AXIS",
                "sqlExpression": "period",
                "label": "period",
                "expressionType": "SQL",
            },
            "aspect_l1",
        ],
        "metrics": [share],
        "filters": [{"col": "brand", "op": "==", "val": brand}],
        "orderby": [[{"expressionType": "SQL", "sqlExpression": "period", "label": "period"}, True]],
        "row_limit": 10000,
        "post_processing": [
            {
                "operation": "pivot",
                "options": {
                    "index": ["period"],
                    "columns": ["aspect_l1"],
                    "aggregates": {"negative share": {"operator": "mean"}},
                    "drop_missing_columns": False,
                },
            },
            {"operation": "flatten"},
        ],
    }
    return form, query


def provision_chart(
    api: SupersetApi, *, database_name: str, sqlalchemy_uri: str, schema: str, brand: str
) -> ProvisionedChart:
    """Register the database and the dataset, and save the brand's negative-share chart."""
    database_id = api.database_id(database_name, sqlalchemy_uri)
    dataset_id = api.dataset_id(
        database_id, schema, f"{CHART_DATASET} ({database_name})", f"SELECT * FROM {CHART_DATASET}"
    )
    form, query = negative_share_chart(brand)
    chart_id = api.chart_id(f"{brand}: negative share per aspect, hourly", dataset_id, form, query)
    url = f"{api.base_url}/explore/?slice_id={chart_id}&standalone=1"
    return ProvisionedChart(database_id, dataset_id, chart_id, url)


@dataclass(frozen=True, slots=True)
class QueryCheck:
    """One docs/bi.md query run both ways: through Superset's SQL Lab and directly."""

    number: int
    title: str
    direct_rows: int
    superset_rows: int | None
    same_rows: bool
    error: str | None

    @property
    def passed(self) -> bool:
        """Superset ran it and returned the rows the driver did."""
        return self.error is None and self.same_rows


def check_bi_queries(
    api: SupersetApi,
    database_id: int,
    schema: str,
    queries: Sequence[BiQuery],
    client: QueryClient,
    render: Any,
    params: Mapping[str, Any],
) -> list[QueryCheck]:
    """Run each query through SQL Lab and directly, and compare the rows.

    ``render(sql, params)`` inlines the parameters (clickhouse-driver's ``substitute_params``):
    SQL Lab takes literal SQL. Rows are compared as JSON text, in order: Superset returns
    dates and times as strings, so both sides are put through the same ``json.dumps(...,
    default=str)``, and numbers as JSON numbers.
    """
    checks = []
    for query in queries:
        values = {name: params[name] for name in query.parameters}
        direct = query.records(client, params)
        sql = render(query.sql, values) if values else query.sql
        limit_match = _TRAILING_LIMIT.search(sql.strip())
        try:
            rows = api.run_sql(database_id, sql, schema, int(limit_match.group(1)) if limit_match else None)
        except SupersetError as error:
            checks.append(QueryCheck(query.number, query.title, len(direct), None, False, str(error)))
            continue
        same = [_comparable(row) for row in rows] == [_comparable(row) for row in direct]
        checks.append(QueryCheck(query.number, query.title, len(direct), len(rows), same, None))
    return checks


def clickhouse_sqlalchemy_uri(config: ClickHouseConfig) -> str:
    """clickhouse-sqlalchemy's URI for the native protocol; TLS options go to clickhouse-driver."""
    options: dict[str, str] = {}
    if config.secure:
        options = {"secure": "True", "verify": str(config.verify)}
        if config.ca_certs:
            options["ca_certs"] = config.ca_certs
    query = f"?{urllib.parse.urlencode(options)}" if options else ""
    credentials = f"{urllib.parse.quote(config.user, safe='')}:{urllib.parse.quote(config.password, safe='')}"
    return (
        f"clickhouse+native://{credentials}@{config.host}:{config.port}/{config.database or 'default'}{query}"
    )


def _comparable(row: Mapping[str, Any]) -> list[str]:
    # Column by column, as JSON: Superset serializes datetimes with their ISO form in SQL Lab
    # ('2026-11-01T09:00:00') where str() writes a space; floats keep their repr either way.
    # NaN (ClickHouse's avg or quantile of no rows) is null in Superset's JSON.
    return [
        json.dumps(None if isinstance(value, float) and math.isnan(value) else value,
                   default=lambda v: v.isoformat(), ensure_ascii=False)
        for value in row.values()
    ]  # fmt: skip


def _rison_filters(filters: Sequence[tuple[str, str]]) -> str:
    # Superset's list endpoints take a Rison query: (filters:!((col:x,opr:eq,value:'y'))).
    parts = []
    for column, value in filters:
        literal = "'" + value.replace("!", "!!").replace("'", "!'") + "'"
        parts.append(f"(col:{column},opr:eq,value:{literal})")
    return urllib.parse.quote(f"(filters:!({','.join(parts)}))", safe="():,!'")


def _first_line(body: str) -> str:
    try:
        message = json.loads(body).get("message", body)
    except (ValueError, AttributeError):
        message = body
    return str(message).strip().splitlines()[0][:500] if str(message).strip() else "(empty body)"
