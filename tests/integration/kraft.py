"""Extra Apache Kafka clusters for the tests that need more than the local broker: KRaft
nodes (each broker and controller) from the same Maven-built jars as ``make up`` starts, on
ports of their own under a test's tmp dir. The client listener is PLAINTEXT, SASL/SCRAM, TLS
or SASL/SCRAM over TLS (a certificate for 127.0.0.1 signed by a CA made for the test with
openssl); brokers talk to each other on a plaintext listener of their own."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

from config.resources import REPO_ROOT
from tests.integration.conftest import free_port

__all__ = ["make_client_certificate", "KraftCluster", "ScramUser", "kafka_jars"]

_STARTED = "Kafka Server started"


def kafka_jars() -> Path:
    """The broker's jars as ``make up`` left them (``VOC_STATE_DIR``, default .local)."""
    return Path(os.environ.get("VOC_STATE_DIR", REPO_ROOT / ".local")) / "kafka" / "libs"


@dataclass(frozen=True)
class ScramUser:
    name: str
    password: str
    mechanism: str = "SCRAM-SHA-512"


def make_test_ca(directory: Path) -> tuple[Path, Path]:
    """A CA and a PEM keystore (private key, then the certificate it signed for 127.0.0.1)
    for a broker; returns (CA certificate, keystore). ``broker.key`` and ``broker.crt`` stay
    beside it for servers that want them apart (ClickHouse)."""
    directory.mkdir(parents=True, exist_ok=True)
    ca_key, ca_crt = directory / "ca.key", directory / "ca.crt"
    _openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(ca_key), "-out", str(ca_crt),
             "-days", "2", "-subj", "/CN=voc-test-ca")  # fmt: skip
    extensions = directory / "san.cnf"
    extensions.write_text("subjectAltName=IP:127.0.0.1,DNS:localhost\n")
    crt, key = _signed_certificate(directory, "broker", "127.0.0.1", "-extfile", str(extensions))
    keystore = directory / "broker.pem"
    keystore.write_text(key.read_text() + crt.read_text())
    return ca_crt, keystore


def make_client_certificate(directory: Path, name: str = "voc-worker") -> tuple[Path, Path]:
    """A client certificate signed by :func:`make_test_ca`'s CA in ``directory`` (mutual TLS);
    returns (certificate, private key)."""
    return _signed_certificate(directory, name, name)


def _signed_certificate(directory: Path, name: str, common_name: str, *extra: str) -> tuple[Path, Path]:
    key, csr, crt = directory / f"{name}.key", directory / f"{name}.csr", directory / f"{name}.crt"
    _openssl(
        "req",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-keyout",
        str(key),
        "-out",
        str(csr),
        "-subj",
        f"/CN={common_name}",
    )
    ca = ["-CA", str(directory / "ca.crt"), "-CAkey", str(directory / "ca.key"), "-CAcreateserial"]
    _openssl("x509", "-req", "-in", str(csr), *ca, "-out", str(crt), "-days", "2", *extra)
    return crt, key


def _openssl(*args: str) -> None:
    subprocess.run(["openssl", *args], check=True, capture_output=True)


@dataclass
class _Node:
    node_id: int
    port: int
    internal_port: int
    controller_port: int
    directory: Path
    process: subprocess.Popen[bytes] | None = None
    launches: int = 0
    """How often it was started: its log says "started" once per launch."""

    @property
    def log(self) -> Path:
        return self.directory / "kafka.log"


@dataclass
class KraftCluster:
    """``size`` KRaft nodes; :meth:`start` formats and starts them, :meth:`stop` stops them."""

    root: Path
    size: int = 1
    scram: ScramUser | None = None
    tls: bool = False
    """TLS on the client listener (SSL, or SASL_SSL with ``scram``); see :attr:`ca_file`."""
    client_auth: bool = False
    """With ``tls``: clients must show a certificate the test's CA signed (mutual TLS)."""
    heap: str = "384m"
    nodes: list[_Node] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.ca_file: Path | None = None
        self._keystore: Path | None = None
        if self.tls:
            self.ca_file, self._keystore = make_test_ca(self.root / "tls")
        self.nodes = [
            _Node(i, free_port(), free_port(), free_port(), self.root / f"node{i}")
            for i in range(1, self.size + 1)
        ]

    @property
    def bootstrap(self) -> str:
        return ",".join(f"127.0.0.1:{node.port}" for node in self.nodes)

    @property
    def client_protocol(self) -> str:
        if self.scram:
            return "SASL_SSL" if self.tls else "SASL_PLAINTEXT"
        return "SSL" if self.tls else "PLAINTEXT"

    def _java(self, *args: str, heap: str | None = None) -> list[str]:
        memory = [f"-Xms{heap}", f"-Xmx{heap}"] if heap else []
        log4j = f"-Dlog4j2.configurationFile={REPO_ROOT}/deploy/kafka/log4j2.yaml"
        return ["java", *memory, log4j, "-cp", f"{kafka_jars()}/*", *args]

    def _properties(self, node: _Node) -> Path:
        voters = ",".join(f"{n.node_id}@127.0.0.1:{n.controller_port}" for n in self.nodes)
        replicas = min(3, self.size)
        lines = [
            "process.roles=broker,controller",
            f"node.id={node.node_id}",
            f"controller.quorum.voters={voters}",
            f"listeners=CLIENT://127.0.0.1:{node.port},INTERNAL://127.0.0.1:{node.internal_port},"
            f"CONTROLLER://127.0.0.1:{node.controller_port}",
            f"advertised.listeners=CLIENT://127.0.0.1:{node.port},INTERNAL://127.0.0.1:{node.internal_port}",
            "controller.listener.names=CONTROLLER",
            f"listener.security.protocol.map=CLIENT:{self.client_protocol},INTERNAL:PLAINTEXT,CONTROLLER:PLAINTEXT",
            "inter.broker.listener.name=INTERNAL",
            f"log.dirs={node.directory / 'data'}",
            f"offsets.topic.replication.factor={replicas}",
            "offsets.topic.num.partitions=4",
            f"transaction.state.log.replication.factor={replicas}",
            f"transaction.state.log.min.isr={max(1, replicas - 1)}",
            f"share.coordinator.state.topic.replication.factor={replicas}",
            f"share.coordinator.state.topic.min.isr={max(1, replicas - 1)}",
            f"default.replication.factor={replicas}",
            "group.initial.rebalance.delay.ms=0",
            "group.min.session.timeout.ms=1000",
            "auto.create.topics.enable=false",
            # Kafka elects only in-sync replicas by default; said here because the failover
            # test's "0 lost" depends on it.
            "unclean.leader.election.enable=false",
        ]
        if self.scram:
            mechanism = self.scram.mechanism
            lines += [
                f"sasl.enabled.mechanisms={mechanism}",
                f"listener.name.client.{mechanism.lower()}.sasl.jaas.config="
                "org.apache.kafka.common.security.scram.ScramLoginModule required;",
            ]
        if self._keystore is not None:
            lines += ["ssl.keystore.type=PEM", f"ssl.keystore.location={self._keystore}"]
        if self.client_auth and self.ca_file is not None:
            lines += [
                "listener.name.client.ssl.client.auth=required",
                "ssl.truststore.type=PEM",
                f"ssl.truststore.location={self.ca_file}",
            ]
        node.directory.mkdir(parents=True, exist_ok=True)
        path = node.directory / "server.properties"
        path.write_text("\n".join(lines) + "\n")
        return path

    def start(self, timeout_s: float = 120) -> None:
        """Format every node (once, one cluster id) and start them; wait until all serve."""
        if not any(kafka_jars().glob("kafka_2.13-*.jar")):
            raise RuntimeError(f"no Kafka jars in {kafka_jars()}: run 'make up' first")
        uuid = subprocess.run(
            self._java("kafka.tools.StorageTool", "random-uuid"), capture_output=True, text=True, check=True
        ).stdout.split()[-1]
        for node in self.nodes:
            args = ["kafka.tools.StorageTool", "format", "-t", uuid, "-c", str(self._properties(node))]
            if self.scram:
                user = self.scram
                args += ["--add-scram", f"{user.mechanism}=[name={user.name},password={user.password}]"]
            done = subprocess.run(self._java(*args), capture_output=True, text=True)
            if done.returncode != 0:
                raise RuntimeError(f"formatting node {node.node_id} failed:\n{done.stdout}\n{done.stderr}")
        for node in self.nodes:
            self._launch(node)
        self.wait_serving(timeout_s)

    def _launch(self, node: _Node) -> None:
        node.launches += 1
        with node.log.open("ab") as log:
            node.process = subprocess.Popen(
                self._java("kafka.Kafka", str(node.directory / "server.properties"), heap=self.heap),
                stdout=log,
                stderr=subprocess.STDOUT,
            )

    def wait_serving(self, timeout_s: float = 120, nodes: list[_Node] | None = None) -> None:
        """Wait until each node (all by default) logged that it started since its launch."""
        deadline = time.monotonic() + timeout_s
        for node in nodes or self.nodes:
            while node.log.read_text(errors="replace").count(_STARTED) < node.launches:
                if node.process is None or node.process.poll() is not None:
                    raise RuntimeError(f"node {node.node_id} exited; see {node.log}")
                if time.monotonic() > deadline:
                    raise RuntimeError(f"node {node.node_id} did not start in {timeout_s} s; see {node.log}")
                time.sleep(0.3)

    def node(self, node_id: int) -> _Node:
        return self.nodes[node_id - 1]

    def kill(self, node_id: int) -> None:
        """SIGKILL a node (no clean shutdown: a crashed machine)."""
        node = self.node(node_id)
        assert node.process is not None
        node.process.send_signal(signal.SIGKILL)
        node.process.wait(timeout=30)

    def restart(self, node_id: int, timeout_s: float = 120) -> None:
        """Start a killed node again on its data, and wait until it serves."""
        node = self.node(node_id)
        self._launch(node)
        self.wait_serving(timeout_s, [node])

    def stop(self) -> None:
        for node in self.nodes:
            if node.process is not None and node.process.poll() is None:
                node.process.terminate()
        for node in self.nodes:
            if node.process is not None:
                try:
                    node.process.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    node.process.kill()
