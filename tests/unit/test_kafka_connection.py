"""One Kafka connection from the settings, spelled for each client library
(pipeline.runtime.kafka_connection), and the settings that cannot work refused at start."""

import ssl

import faust
import pytest
from pydantic import ValidationError

from config import Settings
from pipeline.runtime.kafka_connection import KafkaConnection


def test_plaintext_passes_only_the_brokers() -> None:
    kafka = KafkaConnection.from_settings(Settings(kafka_bootstrap="a:9092, b:9092"))
    assert kafka.client_options() == {
        "bootstrap_servers": ["a:9092", "b:9092"],
        "security_protocol": "PLAINTEXT",
    }
    assert kafka.faust_credentials() is None


def test_sasl_scram_reaches_every_client_with_the_same_credentials() -> None:
    settings = Settings(
        kafka_security_protocol="SASL_PLAINTEXT",
        kafka_sasl_mechanism="SCRAM-SHA-256",
        kafka_sasl_username="voc",
        kafka_sasl_password="s3cret",
    )
    kafka = KafkaConnection.from_settings(settings)
    options = kafka.client_options()
    assert options["security_protocol"] == "SASL_PLAINTEXT" and options["sasl_mechanism"] == "SCRAM-SHA-256"
    assert (options["sasl_plain_username"], options["sasl_plain_password"]) == ("voc", "s3cret")
    assert "ssl_context" not in options
    credentials = kafka.faust_credentials()
    assert isinstance(credentials, faust.SASLCredentials)
    assert credentials.mechanism.value == "SCRAM-SHA-256" and credentials.protocol.value == "SASL_PLAINTEXT"
    assert "s3cret" not in repr(settings)  # a secret in the settings is never printed


def test_sasl_ssl_adds_a_verifying_tls_context() -> None:
    kafka = KafkaConnection.from_settings(
        Settings(kafka_security_protocol="SASL_SSL", kafka_sasl_username="voc", kafka_sasl_password="x")
    )
    context = kafka.client_options()["ssl_context"]
    assert isinstance(context, ssl.SSLContext)
    assert context.verify_mode == ssl.CERT_REQUIRED and context.check_hostname
    assert kafka.faust_credentials().protocol.value == "SASL_SSL"


def test_ssl_without_sasl_uses_faust_ssl_credentials() -> None:
    kafka = KafkaConnection.from_settings(
        Settings(kafka_security_protocol="SSL", kafka_ssl_check_hostname=False)
    )
    assert "sasl_mechanism" not in kafka.client_options()
    credentials = kafka.faust_credentials()
    assert isinstance(credentials, faust.SSLCredentials)
    assert credentials.context.check_hostname is False


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"kafka_security_protocol": "SASL_SSL"}, "VOC_KAFKA_SASL_USERNAME"),
        (
            {"kafka_security_protocol": "SASL_PLAINTEXT", "kafka_sasl_username": "voc"},
            "VOC_KAFKA_SASL_PASSWORD",
        ),
        ({"kafka_ssl_certfile": "/etc/client.pem"}, "VOC_KAFKA_SSL_KEYFILE"),
        ({"kafka_security_protocol": "SASL"}, "kafka_security_protocol"),
    ],
)
def test_settings_that_cannot_connect_are_refused(overrides: dict[str, str], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        Settings(**overrides)  # type: ignore[arg-type]
