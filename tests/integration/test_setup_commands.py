"""`voc db migrate` and `voc topics create` against the real servers: complete and idempotent."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable

import pytest

from config import REPO_ROOT
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
    assert voc(stack, "topics", "create").strip() == "created 0 topics; 11 already existed"
    tables = {row[0] for row in stack.query("SHOW TABLES")}
    rollups = {f"aspect_rollup_{g}" for g in ("minute", "hour", "day")} | {
        f"feedback_rollup_{g}" for g in ("hour", "day")
    }
    profile = {"customer_experience_state", "customer_experience"}
    views = {f"{t}_mv" for t in (*rollups, "customer_experience_state")}
    facts = {"schema_migrations", "feedback", "aspect_mentions", "alerts", "actions", "erasure_log"}
    assert tables == facts | rollups | profile | views
    assert stack.query("SELECT version, name FROM schema_migrations ORDER BY version") == [
        (1, "initial"),
        (2, "alert_details"),
        (3, "actions"),
        (4, "alert_channel"),
        (5, "rollups"),
        (6, "erasure_log"),
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
            "0006_erasure_log"
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
