"""Fixtures for tests against the real broker and ClickHouse (``make up`` starts them).

Every test gets its own topic namespace, consumer group / app id, ClickHouse database and
web port, so tests never see each other's data; the database is dropped afterwards.
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from clickhouse_driver import Client

from config import Settings
from pipeline.ops.kafka_io import produce_lines, read_topic
from pipeline.runtime.context import clickhouse_config, ensure_pipeline_topics
from pipeline.runtime.kafka_admin import consumer_lag, delete_topics
from pipeline.runtime.kafka_connection import KafkaConnection
from pipeline.runtime.topics import TopicNames, topic_specs
from pipeline.tools.chaos import read_until_settled
from pipeline.tools.worker_process import start_worker, stop_worker
from schemas.records import RawRecord
from sinks.clickhouse import connect
from sinks.migrations import apply_migrations


def _reachable(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=2):
            return True
    except OSError:
        return False


@pytest.fixture(scope="session", autouse=True)
def services() -> None:
    """Fail fast, with the fix, when the local services are not running."""
    base = Settings()
    kafka_host, kafka_port = base.kafka_bootstrap.split(",")[0].rsplit(":", 1)
    missing = [
        name
        for name, host, port in (
            ("Kafka", kafka_host, int(kafka_port)),
            ("ClickHouse", base.clickhouse_host, base.clickhouse_port),
        )
        if not _reachable(host, port)
    ]
    if missing:
        pytest.fail(f"{' and '.join(missing)} not reachable: run 'make up' (or 'make test')", pytrace=False)


def free_port() -> int:
    """A TCP port nothing listens on now (for a server the test starts)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def run_voc(env: dict[str, str], *args: str, timeout_s: float = 120) -> subprocess.CompletedProcess[str]:
    """The installed ``voc`` command with ``env``, as a user runs it; output captured."""
    voc = Path(sys.executable).parent / "voc"
    return subprocess.run([str(voc), *args], env=env, capture_output=True, text=True, timeout=timeout_s)


@dataclass
class Stack:
    """One test's isolated slice of the real services, and the workers it started."""

    env: dict[str, str]
    settings: Settings
    topics: TopicNames
    log_dir: Path
    workers: list[subprocess.Popen[bytes]] = field(default_factory=list)
    web_ports: dict[int, int] = field(default_factory=dict)
    """Worker pid → its HTTP port (``/metrics``, ``/livez``)."""

    @property
    def kafka(self) -> KafkaConnection:
        """How this test's clients reach the broker."""
        return KafkaConnection.from_settings(self.settings)

    def client(self) -> Client:
        return connect(clickhouse_config(self.settings))

    def query(self, sql: str, params: dict[str, Any] | None = None) -> list[tuple[Any, ...]]:
        client = self.client()
        try:
            return list(client.execute(sql, params))
        finally:
            client.disconnect()

    def settled_row(self, sql: str, quiet_s: float = 1.0, timeout_s: float = 30) -> tuple[Any, ...]:
        """The first row of ``sql`` once two reads ``quiet_s`` apart agree: rollups trail an
        insert's facts by its views (pipeline.tools.chaos.read_until_settled)."""
        return read_until_settled(lambda: self.query(sql)[0], quiet_s, timeout_s)

    def start_worker(self, name: str = "worker") -> subprocess.Popen[bytes]:
        port = free_port()
        env = {**self.env, "VOC_WEB_PORT": str(port)}
        proc = start_worker(env, self.log_dir / f"{name}.log")
        self.workers.append(proc)
        self.web_ports[proc.pid] = port
        return proc

    def http_get(self, proc: subprocess.Popen[bytes], path: str) -> tuple[int, str]:
        """GET a worker's endpoint; returns status and body, ``(0, "")`` if it does not answer."""
        url = f"http://127.0.0.1:{self.web_ports[proc.pid]}{path}"
        try:
            with urllib.request.urlopen(url, timeout=5) as response:
                return int(response.status), response.read().decode()
        except urllib.error.HTTPError as exc:
            return int(exc.code), exc.read().decode(errors="replace")
        except OSError:  # not listening yet (URLError is an OSError)
            return 0, ""

    def stop_worker(self, proc: subprocess.Popen[bytes], sig: int = signal.SIGTERM) -> None:
        stop_worker(proc, sig)

    def uncommitted(self, *topics: str) -> int:
        """Records of ``topics`` the group has not committed: what its next worker reads again."""
        return sum(p.lag for p in consumer_lag(self.kafka, self.settings.app_id, topics))

    def produce(self, topic: str, lines: list[bytes], key_field: str | None = None) -> int:
        return asyncio.run(produce_lines(self.kafka, topic, lines, key_field))

    def read(self, topic: str, idle_timeout_s: float = 2.0) -> list[RawRecord]:
        return asyncio.run(read_topic(self.kafka, topic, idle_timeout_s))

    def store_all(self, topic: str, records: list[bytes], what: str, timeout_s: float = 120) -> None:
        """Produce ``records`` (one feedback each) and wait until ``feedback`` holds that many rows."""
        self.produce(topic, records)
        self.wait_until(
            what,
            lambda: self.query("SELECT count() FROM feedback")[0][0],
            lambda n: n == len(records),
            timeout_s,
        )

    def wait_until(
        self, what: str, probe: Callable[[], Any], done: Callable[[Any], bool], timeout_s: float = 120
    ) -> Any:
        """Poll ``probe`` until ``done(value)``; fail with the last value and the worker logs."""
        deadline = time.monotonic() + timeout_s
        while True:
            value = probe()
            if done(value):
                return value
            for proc in self.workers:
                if proc.poll() not in (None, 0, -signal.SIGTERM, -signal.SIGKILL):
                    pytest.fail(f"a worker died (code {proc.returncode}); logs in {self.log_dir}")
            if time.monotonic() > deadline:
                health = [self.http_get(proc, "/livez") for proc in self.workers if proc.poll() is None]
                pytest.fail(
                    f"timed out waiting for {what}; last value {value!r}; /livez of the running "
                    f"workers: {health}; logs in {self.log_dir}"
                )
            time.sleep(0.5)


@pytest.fixture
def make_stack(tmp_path: Path) -> Iterator[Callable[..., Stack]]:
    """Build a Stack with extra VOC_* settings; cleans up workers and the database."""
    stacks: list[Stack] = []

    def build(**overrides: str) -> Stack:
        run = uuid.uuid4().hex[:10]
        # Keep the user's VOC_* settings (where the broker and ClickHouse are); override only
        # what makes this test's slice unique.
        env = dict(os.environ)
        env.update(
            {
                "VOC_TOPIC_NAMESPACE": f"test{run}",
                "VOC_APP_ID": f"voc-test-{run}",
                "VOC_CLICKHOUSE_DATABASE": f"voc_test_{run}",
                "VOC_TOPIC_PARTITIONS": "4",
                "VOC_BATCH_MAX_WAIT_S": "0.2",
                "VOC_LOG_LEVEL": "warning",
                **{f"VOC_{k.upper()}": v for k, v in overrides.items()},
            }
        )
        settings = Settings.model_validate(
            {
                name: env[f"VOC_{name.upper()}"]
                for name in Settings.model_fields
                if f"VOC_{name.upper()}" in env
            }
        )
        topics = TopicNames.in_namespace(settings.topic_namespace)
        ensure_pipeline_topics(settings)
        admin = connect(clickhouse_config(settings, with_database=False))
        apply_migrations(
            admin, settings.clickhouse_database, settings.migrations_dir, settings.clickhouse_cluster
        )
        admin.disconnect()
        log_dir = tmp_path / f"logs-{run}"
        log_dir.mkdir()
        stack = Stack(env, settings, topics, log_dir)
        stacks.append(stack)
        return stack

    yield build
    for stack in stacks:
        for proc in stack.workers:
            stack.stop_worker(proc)
        # Kafka keeps topics on disk: a test's topics go with it.
        settings = stack.settings
        specs = topic_specs(stack.topics, settings.app_id, settings.topic_partitions, 1)
        delete_topics(KafkaConnection.from_settings(settings), [spec.name for spec in specs])
        admin = connect(clickhouse_config(stack.settings, with_database=False))
        admin.execute(f"DROP DATABASE IF EXISTS `{stack.settings.clickhouse_database}`")
        admin.disconnect()
