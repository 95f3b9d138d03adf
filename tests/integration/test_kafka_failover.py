"""Kafka past one broker: a three-node KRaft cluster (from the same Maven-built jars) with the
pipeline's topics at replication factor 3 and ``min.insync.replicas=2``, producers with
``acks=all`` and idempotence. Under load, the leader of the busiest raw partition is
SIGKILLed and brought back: no feedback lost, none stored twice, and the longest pause in
stored feedback is printed (README "Deploying")."""

from __future__ import annotations

import asyncio
import itertools
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from aiokafka import AIOKafkaProducer

from pipeline.runtime.kafka_admin import admin_client
from tests.integration.conftest import Stack
from tests.integration.kraft import KraftCluster
from tests.integration.test_end_to_end import review

pytestmark = pytest.mark.integration

COUNT = 3_000
PER_SECOND = 200  # ~15 s of load, so the kill lands in the middle of it
TEXTS = [
    "包装没有封口，汤都洒了",
    "味道很好，送餐很快",
    "外包装破损严重",
    "盒子压扁了，东西都碎了",
    "物流太慢了，等了三天",
]


def _load(stack: Stack, started: threading.Event, errors: list[BaseException]) -> None:
    """Produce COUNT distinct reviews at PER_SECOND with acks=all and idempotence."""

    async def produce() -> None:
        producer = AIOKafkaProducer(**stack.kafka.client_options(), acks="all", enable_idempotence=True)
        await producer.start()
        try:
            chunk = PER_SECOND // 10
            for first in range(0, COUNT, chunk):
                sends = [
                    await producer.send(
                        stack.topics.reviews_raw,
                        review(f"F{i}", f"P{i % 7}", 1 + i % 5, TEXTS[i % len(TEXTS)], i % 60),
                        key=f"P{i % 7}".encode(),
                    )
                    for i in range(first, min(first + chunk, COUNT))
                ]
                started.set()
                await asyncio.gather(*sends)  # acknowledged by the in-sync replicas
                await asyncio.sleep(0.1)
        finally:
            await producer.stop()

    try:
        asyncio.run(produce())
    except BaseException as exc:  # noqa: BLE001 (reported by the test)
        errors.append(exc)
        started.set()


def _busiest_leader(stack: Stack) -> tuple[int, int]:
    """(partition, leader node id) of the raw review partition with the most records."""
    with admin_client(stack.kafka) as admin:
        (described,) = admin.describe_topics([stack.topics.reviews_raw])
    leaders = {p["partition_index"]: p["leader_id"] for p in described["partitions"]}
    rows = stack.query(
        "SELECT origin_partition, count() AS n FROM feedback "
        "GROUP BY origin_partition ORDER BY n DESC LIMIT 1"
    )
    partition = int(rows[0][0]) if rows else min(leaders)
    return partition, int(leaders[partition])


@pytest.fixture
def three_brokers(tmp_path: Path) -> Iterator[KraftCluster]:
    """Started before the test's stack, so stopped after the stack has deleted its topics."""
    cluster = KraftCluster(tmp_path / "kafka", size=3)
    try:
        cluster.start()
        yield cluster
    finally:
        cluster.stop()


def test_killing_the_busiest_partitions_leader_loses_and_doubles_nothing(
    three_brokers: KraftCluster, make_stack: Any
) -> None:
    cluster = three_brokers
    stack: Stack = make_stack(kafka_bootstrap=cluster.bootstrap, topic_replication_factor="3")
    with admin_client(stack.kafka) as admin:
        (described,) = admin.describe_topics([stack.topics.scored])
    assert all(len(p["replica_nodes"]) == 3 for p in described["partitions"])
    worker = stack.start_worker()
    stack.wait_until(
        "the worker to be ready", lambda: stack.http_get(worker, "/readyz")[0], lambda s: s == 200
    )

    started, errors = threading.Event(), list[BaseException]()
    load = threading.Thread(target=_load, args=(stack, started, errors), daemon=True)
    load.start()
    started.wait(30)
    stack.wait_until(
        "some feedback stored before the kill", lambda: stack.query("SELECT count() FROM feedback")[0][0],
        lambda n: n >= COUNT // 5, timeout_s=120,
    )  # fmt: skip
    partition, leader = _busiest_leader(stack)
    killed_at = time.time()
    cluster.kill(leader)
    time.sleep(10)
    cluster.restart(leader)
    load.join(timeout=180)
    assert not load.is_alive() and not errors, errors

    stack.wait_until(
        "every feedback stored", lambda: stack.query("SELECT count() FROM feedback")[0][0],
        lambda n: n >= COUNT, timeout_s=240,
    )  # fmt: skip
    time.sleep(3)  # anything stored twice would arrive by now
    rows, distinct = stack.query("SELECT count(), uniqExact(feedback_id) FROM feedback")[0]
    assert (rows, distinct) == (COUNT, COUNT), f"{rows} rows, {distinct} distinct of {COUNT}"

    stored = [t for (t,) in stack.query("SELECT stored_at_ms FROM feedback ORDER BY stored_at_ms")]
    after_kill = [t for t in stored if t >= killed_at * 1000 - 5_000]
    gaps = [b - a for a, b in itertools.pairwise(after_kill)]
    print(
        f"\nkilled node {leader} (leader of {stack.topics.reviews_raw}[{partition}]) for 10 s: "
        f"{rows} rows, {distinct} distinct; longest pause in stored feedback after the kill "
        f"{max(gaps, default=0) / 1000:.1f} s"
    )
