"""The pure parts of the Superset provisioning: URIs, Rison filters, row comparison, limits."""

from __future__ import annotations

import urllib.parse
from datetime import datetime

from pipeline.reporting.bi_queries import read_bi_queries
from pipeline.reporting.superset import (
    _TRAILING_LIMIT,
    _comparable,
    _rison_filters,
    clickhouse_sqlalchemy_uri,
    negative_share_chart,
)
from sinks.clickhouse import ClickHouseConfig


def test_the_clickhouse_uri_quotes_credentials_and_carries_tls_options() -> None:
    plain = ClickHouseConfig(host="ch", port=9000, user="voc_bi", password="p@ss/w:rd", database="voc")
    assert clickhouse_sqlalchemy_uri(plain) == "clickhouse+native://voc_bi:p%40ss%2Fw%3Ard@ch:9000/voc"
    tls = ClickHouseConfig(
        host="ch",
        port=9440,
        user="voc_bi",
        password="x",
        database="voc",
        secure=True,
        ca_certs="/ca.pem",
        verify=False,
    )
    uri = urllib.parse.urlsplit(clickhouse_sqlalchemy_uri(tls))
    assert dict(urllib.parse.parse_qsl(uri.query)) == {
        "secure": "True",
        "verify": "False",
        "ca_certs": "/ca.pem",
    }


def test_rison_filters_escape_quotes_and_bangs() -> None:
    query = urllib.parse.unquote(_rison_filters([("slice_name", "云杉's chart!")]))
    assert query == "(filters:!((col:slice_name,opr:eq,value:'云杉!'s chart!!')))"


def test_rows_compare_equal_across_json_and_driver_types() -> None:
    driver = {"period": datetime(2026, 11, 1, 9), "n": 3, "share": 0.25, "name": "包装"}
    superset = {"period": "2026-11-01T09:00:00", "n": 3, "share": 0.25, "name": "包装"}
    assert _comparable(driver) == _comparable(superset)
    assert _comparable({**driver, "share": 0.26}) != _comparable(superset)


def test_the_limit_of_each_documented_query_is_found_for_sql_lab() -> None:
    limits = {q.number: _TRAILING_LIMIT.search(q.sql.strip()) for q in read_bi_queries()}
    found = {number: int(match.group(1)) for number, match in limits.items() if match}
    assert found == {2: 20, 4: 20, 10: 100, 11: 50, 18: 100}


def test_the_chart_has_no_time_grain_which_clickhouse_18_16_cannot_run() -> None:
    form, query = negative_share_chart("云杉")
    assert "time_grain_sqla" not in form
    assert all(not isinstance(c, dict) or "timeGrain" not in c for c in query["columns"])
    assert form["adhoc_filters"][0]["comparator"] == "云杉" and query["filters"][0]["val"] == "云杉"
