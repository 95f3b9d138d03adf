"""A ClickHouse cluster for the tests: one ZooKeeper (from the Maven-fetched jars, ``make
zookeeper``) and N ClickHouse 18.16 servers from Debian's package, each with its own ports,
data and config under a test's tmp dir: ``shards`` × ``replicas`` servers in cluster ``voc``
(``internal_replication``: a Distributed insert writes one replica of a shard, replication
does the rest), distributed DDL through ZooKeeper for ``ON CLUSTER``."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from clickhouse_driver import Client

from config.resources import REPO_ROOT
from tests.integration.conftest import free_port

__all__ = ["CLUSTER", "ClickHouseCluster", "zookeeper_jars"]

CLUSTER = "voc"


def zookeeper_jars() -> Path:
    return Path(os.environ.get("VOC_STATE_DIR", REPO_ROOT / ".local")) / "zookeeper" / "libs"


def _open(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            return True
    except OSError:
        return False


def _serving(port: int) -> bool:
    """ZooKeeper answers ``srvr`` (its one default four-letter command) once it serves: the
    port is open earlier, while the server is still loading."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=2) as sock:
            sock.sendall(b"srvr")
            return b"Mode:" in sock.recv(4096)
    except OSError:
        return False


@dataclass
class _Server:
    name: str
    shard: int
    tcp_port: int
    http_port: int
    interserver_port: int
    directory: Path
    process: subprocess.Popen[bytes] | None = None

    def client(self, database: str = "default") -> Client:
        return Client(host="127.0.0.1", port=self.tcp_port, database=database, connect_timeout=3)

    def query(self, sql: str, database: str = "default") -> list[tuple[object, ...]]:
        client = self.client(database)
        try:
            return list(client.execute(sql))
        finally:
            client.disconnect()


@dataclass
class ClickHouseCluster:
    root: Path
    replicas: int = 2
    shards: int = 1
    servers: list[_Server] = field(default_factory=list)
    zookeeper_port: int = 0
    _zookeeper: subprocess.Popen[bytes] | None = None

    def __post_init__(self) -> None:
        self.zookeeper_port = free_port()
        self.servers = [
            _Server(
                f"s{shard}r{i}", shard, free_port(), free_port(), free_port(), self.root / f"s{shard}r{i}"
            )
            for shard in range(1, self.shards + 1)
            for i in range(1, self.replicas + 1)
        ]

    def start(self, timeout_s: float = 90) -> None:
        if not any(zookeeper_jars().glob("zookeeper-*.jar")):
            raise RuntimeError(f"no ZooKeeper jars in {zookeeper_jars()}: run 'make zookeeper'")
        if shutil.which("clickhouse-server") is None:
            raise RuntimeError("clickhouse-server is not installed: run 'make up'")
        data = self.root / "zookeeper"
        data.mkdir(parents=True, exist_ok=True)
        with (data / "zookeeper.log").open("wb") as log:
            self._zookeeper = subprocess.Popen(
                ["java", "-Xmx256m", "-Dzookeeper.admin.enableServer=false", "-cp", f"{zookeeper_jars()}/*",
                 "org.apache.zookeeper.server.ZooKeeperServerMain", str(self.zookeeper_port), str(data)],
                stdout=log, stderr=subprocess.STDOUT,
            )  # fmt: skip

        def zookeeper_answers() -> bool:
            if self._zookeeper is not None and self._zookeeper.poll() is not None:
                raise RuntimeError(f"ZooKeeper exited; see {data / 'zookeeper.log'}")
            return _serving(self.zookeeper_port)

        self._wait("ZooKeeper", zookeeper_answers, timeout_s)
        for server in self.servers:
            self._configure(server)
            self.start_server(server, timeout_s)

    def _configure(self, server: _Server) -> None:
        directory = server.directory
        for sub in ("data", "tmp", "user_files", "logs"):
            (directory / sub).mkdir(parents=True, exist_ok=True)
        shards = "\n".join(
            "<shard><internal_replication>true</internal_replication>"
            + "".join(
                f"<replica><host>127.0.0.1</host><port>{s.tcp_port}</port></replica>"
                for s in self.servers
                if s.shard == shard
            )
            + "</shard>"
            for shard in range(1, self.shards + 1)
        )
        (directory / "config.xml").write_text(
            f"""<?xml version="1.0"?>
<yandex>
    <logger><level>warning</level><log>{directory}/logs/server.log</log>
        <errorlog>{directory}/logs/server.err.log</errorlog></logger>
    <tcp_port>{server.tcp_port}</tcp_port>
    <http_port>{server.http_port}</http_port>
    <interserver_http_port>{server.interserver_port}</interserver_http_port>
    <interserver_http_host>127.0.0.1</interserver_http_host>
    <listen_host>127.0.0.1</listen_host>
    <path>{directory}/data/</path>
    <tmp_path>{directory}/tmp/</tmp_path>
    <user_files_path>{directory}/user_files/</user_files_path>
    <users_config>users.xml</users_config>
    <default_profile>default</default_profile>
    <default_database>default</default_database>
    <timezone>UTC</timezone>
    <mlock_executable>false</mlock_executable>
    <mark_cache_size>134217728</mark_cache_size>
    <uncompressed_cache_size>134217728</uncompressed_cache_size>
    <zookeeper><node><host>127.0.0.1</host><port>{self.zookeeper_port}</port></node></zookeeper>
    <macros><shard>{server.shard:02d}</shard><replica>{server.name}</replica></macros>
    <remote_servers><{CLUSTER}>
        {shards}
    </{CLUSTER}></remote_servers>
    <distributed_ddl><path>/clickhouse/task_queue/ddl</path></distributed_ddl>
</yandex>
"""
        )
        shutil.copy(REPO_ROOT / "deploy" / "local" / "clickhouse-users.xml", directory / "users.xml")

    def start_server(self, server: _Server, timeout_s: float = 90) -> None:
        with (server.directory / "logs" / "stdout.log").open("ab") as log:
            server.process = subprocess.Popen(
                ["clickhouse-server", f"--config-file={server.directory / 'config.xml'}"],
                cwd=server.directory, stdout=log, stderr=subprocess.STDOUT,
            )  # fmt: skip

        def answers() -> bool:
            try:
                server.query("SELECT 1")
                return True
            except Exception:  # noqa: BLE001 (not up yet)
                if server.process is not None and server.process.poll() is not None:
                    raise RuntimeError(f"{server.name} exited; see {server.directory / 'logs'}") from None
                return False

        self._wait(f"ClickHouse {server.name}", answers, timeout_s)

    def stop_server(self, server: _Server) -> None:
        if server.process is not None and server.process.poll() is None:
            server.process.send_signal(signal.SIGTERM)
            try:
                server.process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                server.process.kill()
                server.process.wait()

    def stop(self) -> None:
        for server in self.servers:
            self.stop_server(server)
        if self._zookeeper is not None:
            self._zookeeper.terminate()
            try:
                self._zookeeper.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self._zookeeper.kill()

    @staticmethod
    def _wait(what: str, ready: Callable[[], bool], timeout_s: float) -> None:
        deadline = time.monotonic() + timeout_s
        while not ready():
            if time.monotonic() > deadline:
                raise RuntimeError(f"{what} did not come up in {timeout_s} s")
            time.sleep(0.3)
