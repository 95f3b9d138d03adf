"""The read-only BI user of the local server (deploy/local/clickhouse-users.xml)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

import pytest
from clickhouse_driver.errors import ServerException
from pydantic import SecretStr

from pipeline.runtime.context import clickhouse_config
from sinks.clickhouse import connect
from sinks.migrations import apply_migrations
from tests.integration.conftest import Stack

pytestmark = pytest.mark.integration

# Local-only credentials, as in deploy/local/clickhouse-users.xml.
BI_USER, BI_PASSWORD, BI_DATABASE = "voc_bi", "voc-bi-local", "voc"
INGEST_USER, INGEST_PASSWORD = "voc_ingest", "voc-ingest-local"


def test_bi_user_reads_but_cannot_write_alter_drop_or_change_settings(
    make_stack: Callable[..., Stack],
) -> None:
    stack = make_stack()
    # voc_bi may read the pipeline's database only (`voc`, as in the local users file): the
    # test reads it there (migrating it is idempotent) and is refused the test's own database.
    admin = connect(clickhouse_config(stack.settings, with_database=False))
    apply_migrations(admin, BI_DATABASE, stack.settings.migrations_dir)
    admin.disconnect()
    bi_settings = stack.settings.model_copy(
        update={
            "clickhouse_user": BI_USER,
            "clickhouse_password": SecretStr(BI_PASSWORD),
            "clickhouse_database": BI_DATABASE,
        }
    )
    bi = connect(clickhouse_config(bi_settings))
    try:
        assert bi.execute("SELECT count() FROM feedback")[0][0] >= 0
        forbidden = [
            "INSERT INTO feedback (feedback_id) VALUES ('x')",
            "ALTER TABLE feedback ADD COLUMN hacked String",
            "DROP TABLE feedback",
            "CREATE TABLE stolen (a String) ENGINE = Memory",
            "SET readonly = 0",
        ]
        for sql in forbidden:
            with pytest.raises(ServerException, match=r"readonly|Cannot modify|Cannot execute"):
                bi.execute(sql)
        # Issue #13: another database on the server is out of reach.
        other = stack.settings.clickhouse_database
        with pytest.raises(ServerException, match="Access denied to database"):
            bi.execute(f"SELECT count() FROM `{other}`.feedback")
        assert {row[0] for row in bi.execute("SHOW DATABASES")} == {BI_DATABASE, "system"}
    finally:
        bi.disconnect()
    assert {row[0] for row in stack.query("SHOW TABLES")} >= {"feedback", "aspect_mentions", "alerts"}


def test_ingest_user_can_insert(make_stack: Callable[..., Stack]) -> None:
    stack = make_stack()
    settings = stack.settings.model_copy(
        update={"clickhouse_user": INGEST_USER, "clickhouse_password": SecretStr(INGEST_PASSWORD)}
    )
    ingest = connect(clickhouse_config(settings))
    try:
        row = ("A", "b", datetime(2026, 11, 5, 12, 0), "d")
        ingest.execute("INSERT INTO actions (action_id, brand, taken_at, description) VALUES", [row])
        assert ingest.execute("SELECT count() FROM actions") == [(1,)]
    finally:
        ingest.disconnect()
