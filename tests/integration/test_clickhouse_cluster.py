"""ClickHouse past one server, for real: two ClickHouse 18.16 servers as replicas of one
shard (and, second, as two shards), coordinated by a ZooKeeper, all started by the test.
``voc db migrate``'s cluster layout (``VOC_CLICKHOUSE_CLUSTER``: replicated ``_local``
tables, Distributed tables over them, ``ON CLUSTER``) is created on both from one server; a
worker writes through the pipeline; both servers give the same answers (``voc report``,
facts and rollups); a replica stopped while writing goes on catches up once it is back; two
shards split the feedback, each feedback on one shard, and answer as one server."""

from __future__ import annotations

import os
from collections.abc import Iterator
from functools import partial
from pathlib import Path
from typing import Any

import pytest

from tests.integration.clickhouse_cluster import CLUSTER, ClickHouseCluster
from tests.integration.conftest import Stack, run_voc
from tests.integration.test_end_to_end import review

pytestmark = pytest.mark.integration

TEXTS = ["包装没有封口，汤都洒了", "味道很好，送餐很快", "外包装破损严重", "物流太慢了，等了三天"]


def _reviews(first: int, count: int) -> list[bytes]:
    return [
        review(f"C{i}", f"P{i % 3}", 1 + i % 5, TEXTS[i % len(TEXTS)], i % 60)
        for i in range(first, first + count)
    ]


def _running(cluster: ClickHouseCluster) -> Iterator[ClickHouseCluster]:
    try:
        cluster.start()
        yield cluster
    finally:
        cluster.stop()


@pytest.fixture
def replicas(tmp_path: Path) -> Iterator[ClickHouseCluster]:
    """Started before the test's stack, so stopped after the stack dropped its database."""
    yield from _running(ClickHouseCluster(tmp_path / "clickhouse", replicas=2))


@pytest.fixture
def shards(tmp_path: Path) -> Iterator[ClickHouseCluster]:
    """Two shards of one server each."""
    yield from _running(ClickHouseCluster(tmp_path / "clickhouse", replicas=1, shards=2))


def _cluster_stack(make_stack: Any, port: int) -> Stack:
    """The test's stack on the cluster, through one server (the default user, cluster layout)."""
    stack: Stack = make_stack(
        clickhouse_port=str(port),
        clickhouse_cluster=CLUSTER,
        clickhouse_user="default",
        clickhouse_password="",
    )
    return stack


def _report(stack: Stack, port: int) -> str:
    done = run_voc({**stack.env, "VOC_CLICKHOUSE_PORT": str(port), "VOC_LOG_LEVEL": "warning"}, "report")
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def _answers(server: Any, database: str) -> tuple[object, ...]:
    """What each replica holds itself (its _local tables, not the Distributed ones)."""
    return (
        server.query("SELECT count(), uniqExact(feedback_id) FROM feedback_local", database)[0],
        server.query(
            "SELECT product_sku, count(), sum(polarity) FROM feedback_local GROUP BY product_sku "
            "ORDER BY product_sku",
            database,
        ),
        server.query("SELECT sum(mentions), sum(negative) FROM aspect_rollup_hour_local", database)[0],
        server.query("SELECT sum(feedback) FROM feedback_rollup_day_local", database)[0],
    )


def test_two_replicas_give_the_same_answers_and_a_stopped_one_catches_up(
    replicas: ClickHouseCluster, make_stack: Any
) -> None:
    first, second = replicas.servers
    stack = _cluster_stack(make_stack, first.tcp_port)
    database = stack.settings.clickhouse_database
    # The migration ran on the first server only; ON CLUSTER laid the tables out on both.
    tables = {row[0] for row in second.query(f"SHOW TABLES FROM `{database}`")}
    assert {"feedback", "feedback_local", "aspect_rollup_hour_local", "schema_migrations"} <= tables
    rows = second.query(f"SELECT name, engine FROM system.tables WHERE database = '{database}'")
    engines = {str(name): str(engine) for name, engine in rows}
    assert engines["feedback_local"] == "ReplicatedReplacingMergeTree"
    assert engines["feedback"] == "Distributed"

    worker = stack.start_worker()
    stack.produce(stack.topics.reviews_raw, _reviews(0, 40))
    stack.wait_until(
        "40 stored", lambda: stack.query("SELECT count() FROM feedback")[0][0], lambda n: n == 40
    )
    stack.wait_until(
        "the second replica to have them",
        lambda: _answers(second, database),
        lambda a: a == _answers(first, database),
    )
    assert _answers(first, database)[0] == (40, 40)
    assert _report(stack, first.tcp_port) == _report(stack, second.tcp_port)

    # A replica down while the pipeline writes: the other takes the inserts alone.
    replicas.stop_server(second)
    stack.produce(stack.topics.reviews_raw, _reviews(40, 40))
    stack.wait_until("80 stored", lambda: first.query("SELECT count() FROM feedback_local", database)[0][0],
                     lambda n: n == 80, timeout_s=180)  # fmt: skip
    replicas.start_server(second)
    stack.wait_until(
        "the stopped replica to catch up", lambda: _answers(second, database),
        lambda a: a == _answers(first, database), timeout_s=180,
    )  # fmt: skip
    assert _answers(second, database)[0] == (80, 80)
    assert _report(stack, first.tcp_port) == _report(stack, second.tcp_port)
    stack.stop_worker(worker)

    # A deletion request on one server erases the customer on every replica.
    env = {**stack.env, "VOC_LOG_LEVEL": "warning"}
    forgot = run_voc(env, "forget", "--customer-id", "cust-C7", "--requested-by", "test", timeout_s=300)
    assert forgot.returncode == 0, forgot.stdout + forgot.stderr

    def rows_of_c7(server: Any) -> int:
        sql = "SELECT count() FROM feedback_local WHERE feedback_id = 'review:tmall:C7'"
        return int(server.query(sql, database)[0][0])

    for server in (first, second):
        left = stack.wait_until(
            f"the erasure on {server.name}", partial(rows_of_c7, server), lambda n: n == 0, timeout_s=60
        )
        assert left == 0
    assert _answers(second, database)[0] == (79, 79)
    assert os.environ.get("VOC_CLICKHOUSE_CLUSTER", "") == ""  # the rest of the suite runs single-server


def test_two_shards_split_the_feedback_and_answer_as_one_server(
    shards: ClickHouseCluster, make_stack: Any
) -> None:
    first, second = shards.servers
    stack = _cluster_stack(make_stack, first.tcp_port)
    database = stack.settings.clickhouse_database
    worker = stack.start_worker()
    stack.produce(stack.topics.reviews_raw, _reviews(0, 60))
    stack.wait_until(
        "60 stored", lambda: stack.query("SELECT count() FROM feedback")[0][0], lambda n: n == 60
    )
    stack.stop_worker(worker)

    def ids(server: Any) -> set[str]:
        return {str(row[0]) for row in server.query("SELECT feedback_id FROM feedback_local", database)}

    # Sharded by a hash of the sorting key: each feedback on exactly one shard, both used.
    on_first, on_second = ids(first), ids(second)
    assert on_first and on_second and not on_first & on_second
    assert len(on_first | on_second) == 60
    # Each shard's views roll up what that shard holds; the Distributed tables add them up.
    for server, held in ((first, on_first), (second, on_second)):
        rolled = server.query("SELECT sum(feedback) FROM feedback_rollup_day_local", database)[0][0]
        assert rolled == len(held), server.name
    assert stack.query("SELECT sum(feedback) FROM feedback_rollup_day")[0][0] == 60
    assert _report(stack, first.tcp_port) == _report(stack, second.tcp_port)

    # A deletion request reaches the shard that holds the customer.
    env = {**stack.env, "VOC_LOG_LEVEL": "warning"}
    forgot = run_voc(env, "forget", "--customer-id", "cust-C7", "--requested-by", "test", timeout_s=300)
    assert forgot.returncode == 0, forgot.stdout + forgot.stderr
    stack.wait_until(
        "the erasure",
        lambda: stack.query("SELECT count() FROM feedback")[0][0],
        lambda n: n == 59,
        timeout_s=60,
    )
    assert "review:tmall:C7" not in ids(first) | ids(second)
