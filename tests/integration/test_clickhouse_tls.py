"""ClickHouse over TLS, for real: a second ClickHouse 18.16 server started by the test with a
secure native port only (``tcp_port_secure``) and a certificate for 127.0.0.1 signed by a CA
the test makes with openssl. The migrations, a worker's inserts and ``voc report`` go through
the ``VOC_CLICKHOUSE_SECURE`` / ``VOC_CLICKHOUSE_CA_CERTS`` settings alone; a client that does
not trust the CA, and a plaintext client, are refused."""

from __future__ import annotations

import shutil
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from config import REPO_ROOT
from tests.integration.conftest import Stack, free_port, run_voc
from tests.integration.kraft import make_test_ca
from tests.integration.test_end_to_end import VALID_REVIEWS

pytestmark = pytest.mark.integration


@dataclass
class TlsServer:
    port: int
    ca_file: Path
    plain_http_port: int


@pytest.fixture
def tls_clickhouse(tmp_path: Path) -> Iterator[TlsServer]:
    """Started before the test's stack, so stopped after the stack dropped its database."""
    if shutil.which("clickhouse-server") is None:
        pytest.fail("clickhouse-server is not installed: run 'make up'")
    ca_file, _ = make_test_ca(tmp_path / "tls")
    state, secure_port, http_port = tmp_path / "state", free_port(), free_port()
    directory = state / "clickhouse"
    for sub in ("data", "tmp", "user_files", "logs"):
        (directory / sub).mkdir(parents=True, exist_ok=True)
    template = (REPO_ROOT / "deploy" / "local" / "clickhouse-config.xml").read_text()
    # The plaintext native port is swapped for the secure one: nothing but TLS on the protocol.
    config = (
        template.replace("@STATE@", str(state))
        .replace("<tcp_port>@TCP_PORT@</tcp_port>", f"<tcp_port_secure>{secure_port}</tcp_port_secure>")
        .replace("@HTTP_PORT@", str(http_port))
        .replace(
            "</yandex>",
            f"""    <openSSL><server>
        <certificateFile>{tmp_path / "tls" / "broker.crt"}</certificateFile>
        <privateKeyFile>{tmp_path / "tls" / "broker.key"}</privateKeyFile>
        <verificationMode>none</verificationMode><loadDefaultCAFile>false</loadDefaultCAFile>
        <cacheSessions>true</cacheSessions><disableProtocols>sslv2,sslv3</disableProtocols>
        <preferServerCiphers>true</preferServerCiphers>
    </server></openSSL>
</yandex>""",
        )
    )
    assert "@" not in config.split("-->", 1)[1]
    (directory / "config.xml").write_text(config)
    shutil.copy(REPO_ROOT / "deploy" / "local" / "clickhouse-users.xml", directory / "users.xml")
    with (directory / "logs" / "stdout.log").open("wb") as log:
        process = subprocess.Popen(
            ["clickhouse-server", f"--config-file={directory / 'config.xml'}"],
            cwd=directory, stdout=log, stderr=subprocess.STDOUT,
        )  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        while not _answers_over_tls(secure_port, ca_file):
            assert process.poll() is None, (directory / "logs" / "server.err.log").read_text()[-3000:]
            assert time.monotonic() < deadline, "the TLS ClickHouse did not answer in 60 s"
            time.sleep(0.3)
        yield TlsServer(secure_port, ca_file, http_port)
    finally:
        process.terminate()
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _answers_over_tls(port: int, ca_file: Path) -> bool:
    from clickhouse_driver import Client

    client = Client(host="127.0.0.1", port=port, secure=True, ca_certs=str(ca_file), connect_timeout=2)
    try:
        return bool(client.execute("SELECT 1") == [(1,)])
    except Exception:  # noqa: BLE001 (not up yet)
        return False
    finally:
        client.disconnect()


def test_the_pipeline_stores_and_reports_over_tls_through_the_settings_alone(
    tls_clickhouse: TlsServer, make_stack: Any
) -> None:
    # make_stack runs the migrations through these settings, so over TLS already.
    stack: Stack = make_stack(
        clickhouse_port=str(tls_clickhouse.port), clickhouse_secure="true",
        clickhouse_ca_certs=str(tls_clickhouse.ca_file), clickhouse_user="default", clickhouse_password="",
    )  # fmt: skip
    env = {**stack.env, "VOC_LOG_LEVEL": "warning"}
    migrated = run_voc(env, "db", "migrate")
    assert migrated.returncode == 0, migrated.stdout + migrated.stderr
    worker = stack.start_worker()
    stack.store_all(stack.topics.reviews_raw, VALID_REVIEWS, "every review stored over TLS")
    stack.stop_worker(worker)
    report = run_voc(env, "report")
    assert report.returncode == 0 and report.stdout.strip(), report.stdout + report.stderr

    # A client that does not trust the test's CA (the system's trust store) is refused, as
    # is one speaking plaintext to the TLS port.
    untrusting = {k: v for k, v in env.items() if k != "VOC_CLICKHOUSE_CA_CERTS"}
    refused = run_voc(untrusting, "report")
    assert refused.returncode != 0
    assert "certificate" in (refused.stdout + refused.stderr).lower(), refused.stdout + refused.stderr
    plain = run_voc({**env, "VOC_CLICKHOUSE_SECURE": "false"}, "report", timeout_s=60)
    assert plain.returncode != 0, plain.stdout + plain.stderr
