import asyncio
import random
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry

from config import Settings
from pipeline.runtime.metrics import PipelineMetrics
from schemas.records import OutgoingRecord
from sinks.clickhouse import ClickHouseConfig, ClickHouseWriter
from sinks.kafka import KafkaPublisher
from sinks.migrations import read_migrations
from sinks.retry import RetryPolicy


def test_publisher_retries_until_every_record_is_delivered() -> None:
    attempts: dict[bytes, int] = {}
    delivered: list[bytes] = []

    async def send(topic: str, key: bytes | None, value: bytes, headers: object) -> asyncio.Future[object]:
        attempts[value] = attempts.get(value, 0) + 1
        fut: asyncio.Future[object] = asyncio.get_running_loop().create_future()
        if value == b"flaky" and attempts[value] < 3:
            fut.set_exception(ConnectionError("broker gone"))
        else:
            delivered.append(value)
            fut.set_result(None)
        return fut

    records = [OutgoingRecord("t", None, v) for v in (b"a", b"flaky", b"b")]
    asyncio.run(KafkaPublisher(send, RetryPolicy(0.01, 0.05)).publish(records))
    assert sorted(delivered) == [b"a", b"b", b"flaky"]
    assert attempts == {b"a": 1, b"flaky": 3, b"b": 1}


def test_writer_keeps_retrying_while_clickhouse_is_unreachable() -> None:
    registry = CollectorRegistry()
    metrics = PipelineMetrics.create(registry)
    # Port 1 on loopback refuses connections: every attempt fails fast.
    writer = ClickHouseWriter(
        ClickHouseConfig("127.0.0.1", 1, "default", "", "db"), metrics, RetryPolicy(0.01, 0.05)
    )

    async def attempt() -> None:
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(writer.insert("feedback", {"feedback_id": ["f1"]}), timeout=1.5)

    asyncio.run(attempt())
    writer.close()
    failures = registry.get_sample_value("voc_clickhouse_insert_failures_total", {"table": "feedback"})
    assert failures is not None and failures >= 2
    assert registry.get_sample_value("voc_clickhouse_rows_inserted_total", {"table": "feedback"}) is None


def test_shipped_migrations_parse_into_statements() -> None:
    migrations = read_migrations(Settings().migrations_dir)
    assert [m.version for m in migrations] == sorted(m.version for m in migrations)
    first = migrations[0]
    assert [s.split("(")[0].split()[-1] for s in first.statements] == [
        "feedback",
        "aspect_mentions",
        "alerts",
    ]
    assert all(not s.rstrip().endswith(";") for s in first.statements)


def test_badly_named_migration_is_rejected(tmp_path: Path) -> None:
    (tmp_path / "1_x.sql").write_text("SELECT 1;")
    with pytest.raises(ValueError, match=r"NNNN_lower_snake\.sql"):
        read_migrations(tmp_path)


def test_backoff_doubles_to_its_cap_with_bounded_jitter() -> None:
    policy = RetryPolicy(first_s=0.5, max_s=4.0, jitter=0.2)
    backoff = policy.start(random.Random(1))
    delays = [backoff.next_delay() for _ in range(6)]
    for delay, nominal in zip(delays, (0.5, 1.0, 2.0, 4.0, 4.0, 4.0), strict=True):
        assert nominal * 0.8 <= delay <= nominal
    assert backoff.attempts == 6
    exact = RetryPolicy(0.5, 4.0, jitter=0.0).start()
    assert [exact.next_delay() for _ in range(5)] == [0.5, 1.0, 2.0, 4.0, 4.0]


@pytest.mark.parametrize(("first", "most", "jitter"), [(0.0, 1.0, 0.1), (2.0, 1.0, 0.1), (0.5, 1.0, 1.0)])
def test_a_retry_policy_that_cannot_work_is_refused(first: float, most: float, jitter: float) -> None:
    with pytest.raises(ValueError, match="invalid retry policy"):
        RetryPolicy(first, most, jitter)
