"""`voc db migrate` and `voc topics create` against the real servers: complete and idempotent."""

from __future__ import annotations

import shutil
import subprocess
import sys
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

import pytest

from config import REPO_ROOT
from pipeline.runtime.context import clickhouse_config
from sinks.clickhouse import connect
from sinks.migrations import apply_migrations
from tests.integration.conftest import Stack

pytestmark = pytest.mark.integration


def voc(stack: Stack, *args: str) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "pipeline.cli", *args], env=stack.env, cwd=REPO_ROOT,
        capture_output=True, text=True, timeout=60, check=True,
    )  # fmt: skip
    return done.stdout


def test_migrate_and_create_topics_are_idempotent(make_stack: Callable[..., Stack]) -> None:
    stack = make_stack()  # already migrated and topics created through the library
    assert (
        voc(stack, "db", "migrate").strip()
        == f"database {stack.settings.clickhouse_database}: schema is current"
    )
    assert voc(stack, "topics", "create").strip() == "created 0 topics; 17 already existed"
    tables = {row[0] for row in stack.query("SHOW TABLES")}
    rollups = {f"aspect_rollup_{g}" for g in ("minute", "hour", "day")} | {
        f"{kind}_rollup_{g}" for kind in ("feedback", "csat") for g in ("hour", "day")
    }
    profile = {"customer_experience_state", "customer_experience"}
    views = {f"{t}_mv" for t in (*rollups, "customer_experience_state")}
    facts = {"schema_migrations", "feedback", "aspect_mentions", "alerts", "actions", "erasure_log"}
    cases = {"case_events", "cases", "cases_mv", "conversations", "customer_journey"}
    assert tables == facts | rollups | profile | views | cases
    assert stack.query("SELECT version, name FROM schema_migrations ORDER BY version") == [
        (1, "initial"),
        (2, "alert_details"),
        (3, "actions"),
        (4, "alert_channel"),
        (5, "rollups"),
        (6, "erasure_log"),
        (7, "csat"),
        (8, "cases"),
        (9, "journeys"),
        (10, "social"),
    ]


def test_migrate_creates_a_new_database(make_stack: Callable[..., Stack]) -> None:
    stack = make_stack()
    admin_env = {**stack.env, "VOC_CLICKHOUSE_DATABASE": stack.settings.clickhouse_database + "_new"}
    try:
        out = subprocess.run(
            [sys.executable, "-m", "pipeline.cli", "db", "migrate"], env=admin_env, cwd=REPO_ROOT,
            capture_output=True, text=True, timeout=60, check=True,
        ).stdout  # fmt: skip
        assert out.strip().endswith(
            "applied 0001_initial, 0002_alert_details, 0003_actions, 0004_alert_channel, 0005_rollups, "
            "0006_erasure_log, 0007_csat, 0008_cases, 0009_journeys, "
            "0010_social"
        )
    finally:
        stack.query(f"DROP DATABASE IF EXISTS `{stack.settings.clickhouse_database}_new`")


def test_create_topics_refuses_a_co_partitioned_topic_with_another_partition_count(
    make_stack: Callable[..., Stack],
) -> None:
    stack = make_stack()  # topics created with 4 partitions
    env = {**stack.env, "VOC_TOPIC_PARTITIONS": "2"}
    done = subprocess.run(
        [sys.executable, "-m", "pipeline.cli", "topics", "create"], env=env, cwd=REPO_ROOT,
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode != 0
    assert f"topic {stack.topics.scored} has 4 partitions, the settings say 2" in done.stderr
    # The raw input topics belong to their producers: another count is only a warning there.
    assert f"{stack.topics.reviews_raw} has" not in done.stderr
    # A worker refuses to start the same way, before it joins the group.
    worker = subprocess.run(
        [sys.executable, "-m", "pipeline.cli", "worker"], env=env, cwd=REPO_ROOT,
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert worker.returncode != 0 and "VOC_TOPIC_PARTITIONS" in worker.stderr


def test_the_csat_migration_backfills_the_surveys_stored_before_it(
    make_stack: Callable[..., Stack], tmp_path: Path
) -> None:
    stack = make_stack()
    database = stack.settings.clickhouse_database + "_csat"
    before = tmp_path / "migrations"
    before.mkdir()
    for migration in sorted(stack.settings.migrations_dir.glob("*.sql")):
        if migration.name < "0007":
            shutil.copy(migration, before / migration.name)
    admin = connect(clickhouse_config(stack.settings, with_database=False))
    try:
        apply_migrations(admin, database, before)
        # Stored by a worker of the version before: CSAT only as rating (5, 4 and 1), plus a
        # review whose star rating is not CSAT.
        admin.execute(
            f"INSERT INTO `{database}`.feedback "
            "(feedback_id, source, channel, brand, event_time, rating) VALUES",
            [
                ("survey:s:1", "survey", "post_purchase", "云杉", datetime(2026, 11, 1, 9), 5),
                ("survey:s:2", "survey", "post_purchase", "云杉", datetime(2026, 11, 1, 9), 4),
                ("survey:s:3", "survey", "after_chat", "云杉", datetime(2026, 11, 1, 10), 1),
                ("review:t:1", "review", "tmall", "云杉", datetime(2026, 11, 1, 9), 1),
            ],
        )
        applied = [m.name for m in apply_migrations(admin, database, stack.settings.migrations_dir)]
        assert applied[0] == "csat"
        # One new survey through the view, with its csat column.
        admin.execute(
            f"INSERT INTO `{database}`.feedback "
            "(feedback_id, source, channel, brand, event_time, rating, csat) VALUES",
            [("survey:s:4", "survey", "after_chat", "云杉", datetime(2026, 11, 1, 10), 2, 2)],
        )
        rows = admin.execute(
            f"SELECT channel, sum(responses), sum(satisfied), sum(dissatisfied), sum(csat_sum) "
            f"FROM `{database}`.csat_rollup_day GROUP BY channel ORDER BY channel"
        )
        assert rows == [("after_chat", 2, 0, 2, 3), ("post_purchase", 2, 2, 0, 9)]
        hourly = admin.execute(f"SELECT sum(responses) FROM `{database}`.csat_rollup_hour")
        assert hourly == [(4,)]
    finally:
        admin.execute(f"DROP DATABASE IF EXISTS `{database}`")
        admin.disconnect()
