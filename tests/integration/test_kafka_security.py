"""Kafka with authentication and encryption, for real: a second KRaft broker from the same
Maven-built jars, started by the test with a client listener that takes SCRAM-SHA-512 only
(the user is created at format time), in plain text and over TLS (a CA made for the test),
or mutual TLS without SASL (a client certificate signed by that CA). The CLI's admin side, a
worker and the test's own clients reach it through the ``VOC_KAFKA_*`` settings alone; a
wrong password, a plaintext client, a client that does not trust the CA and, with mutual
TLS, a client without its certificate are refused."""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.integration.conftest import run_voc
from tests.integration.kraft import KraftCluster, ScramUser, make_client_certificate
from tests.integration.test_end_to_end import VALID_REVIEWS

pytestmark = pytest.mark.integration

USER, PASSWORD = "voc-worker", "scram-secret-for-the-test"
MECHANISM = "SCRAM-SHA-512"


@dataclass
class SecuredBroker:
    bootstrap: str
    protocol: str
    ca_file: Path | None
    client_certificate: tuple[Path, Path] | None = None
    """(certificate, key) the broker requires (mutual TLS), else None."""

    def settings(self, password: str = PASSWORD) -> dict[str, str]:
        """The VOC_* overrides (make_stack's keyword form) that reach this broker."""
        overrides = {"kafka_bootstrap": self.bootstrap, "kafka_security_protocol": self.protocol}
        if self.protocol.startswith("SASL"):
            overrides |= {
                "kafka_sasl_mechanism": MECHANISM,
                "kafka_sasl_username": USER,
                "kafka_sasl_password": password,
            }
        if self.ca_file is not None:
            overrides["kafka_ssl_cafile"] = str(self.ca_file)
        if self.client_certificate is not None:
            certificate, key = self.client_certificate
            overrides |= {"kafka_ssl_certfile": str(certificate), "kafka_ssl_keyfile": str(key)}
        return overrides


@pytest.fixture(params=["SASL_PLAINTEXT", "SASL_SSL", "SSL+client-certificate"])
def secured_broker(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[SecuredBroker]:
    yield from _broker(request.param, tmp_path)


@pytest.fixture(params=["SASL_PLAINTEXT", "SASL_SSL"])
def password_broker(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[SecuredBroker]:
    yield from _broker(request.param, tmp_path)


def _broker(kind: str, tmp_path: Path) -> Iterator[SecuredBroker]:
    mutual = kind == "SSL+client-certificate"
    scram = None if mutual else ScramUser(USER, PASSWORD, MECHANISM)
    tls = kind != "SASL_PLAINTEXT"
    cluster = KraftCluster(tmp_path / "kafka", scram=scram, tls=tls, client_auth=mutual)
    try:
        client = make_client_certificate(tmp_path / "kafka" / "tls") if mutual else None
        cluster.start()
        yield SecuredBroker(cluster.bootstrap, cluster.client_protocol, cluster.ca_file, client)
    finally:
        cluster.stop()


def test_a_scram_secured_broker_is_reached_through_the_settings_alone(
    secured_broker: SecuredBroker, make_stack: Any
) -> None:
    # make_stack creates the test's topics through the admin client, with these settings.
    stack = make_stack(**secured_broker.settings())
    env = {**stack.env, "VOC_LOG_LEVEL": "warning"}
    done = run_voc(env, "topics", "create")
    assert done.returncode == 0, done.stdout + done.stderr
    worker = stack.start_worker()
    stack.store_all(stack.topics.reviews_raw, VALID_REVIEWS, "every review stored through the secured broker")
    lag = run_voc(env, "lag", "--json")
    assert lag.returncode == 0, lag.stdout + lag.stderr
    assert stack.topics.reviews_raw in lag.stdout
    stack.stop_worker(worker)
    # Nothing but SASL/SCRAM (over TLS where set) is open on this port: a plain client is
    # refused, and over TLS a client that does not trust the test's CA is too.
    plain = run_voc({**env, "VOC_KAFKA_SECURITY_PROTOCOL": "PLAINTEXT"}, "topics", "create")
    assert plain.returncode != 0
    if secured_broker.ca_file is not None:
        untrusting = {k: v for k, v in env.items() if k != "VOC_KAFKA_SSL_CAFILE"}
        refused = run_voc(untrusting, "topics", "create")
        assert refused.returncode != 0
        assert "certificate" in (refused.stdout + refused.stderr).lower(), refused.stdout + refused.stderr
    if secured_broker.client_certificate is not None:
        anonymous = {
            k: v for k, v in env.items() if k not in ("VOC_KAFKA_SSL_CERTFILE", "VOC_KAFKA_SSL_KEYFILE")
        }
        refused = run_voc(anonymous, "topics", "create", timeout_s=180)
        assert refused.returncode != 0, refused.stdout + refused.stderr
        # The broker's TLS alert is in the client's log; the error names the broker (31 s here).
        assert "bad certificate" in (refused.stdout + refused.stderr).lower(), refused.stdout + refused.stderr


def test_a_wrong_password_is_refused_with_a_clear_error(password_broker: SecuredBroker) -> None:
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("VOC_")},
        **{f"VOC_{k.upper()}": v for k, v in password_broker.settings(password="not-the-password").items()},
        "VOC_TOPIC_NAMESPACE": f"sasl{os.getpid()}",
    }
    done = run_voc(env, "topics", "create")
    assert done.returncode != 0
    message = (done.stdout + done.stderr).lower()
    assert "authentication" in message or "sasl" in message, done.stdout + done.stderr


def test_a_sasl_protocol_without_credentials_is_refused_at_start() -> None:
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("VOC_")},
        "VOC_KAFKA_SECURITY_PROTOCOL": "SASL_SSL",
    }
    done = run_voc(env, "topics", "create")
    assert done.returncode != 0
    assert "VOC_KAFKA_SASL_USERNAME" in done.stdout + done.stderr
