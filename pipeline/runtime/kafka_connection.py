"""How the pipeline's Kafka clients connect: brokers, protocol, SASL and TLS, from settings.

Three client libraries talk to Kafka here (Faust for the workers, aiokafka for the CLI's
produce and read, kafka-python for the admin side). :class:`KafkaConnection` is built once
from the settings at the entry point and gives each the arguments it takes, so a secured
cluster is configured in one place (``VOC_KAFKA_SECURITY_PROTOCOL``, ``VOC_KAFKA_SASL_*``,
``VOC_KAFKA_SSL_*``).
"""

from __future__ import annotations

import ssl
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from config import Settings

__all__ = ["KafkaConnection"]


@dataclass(frozen=True)
class KafkaConnection:
    """The brokers and how to authenticate to them."""

    bootstrap: str
    """Comma-separated ``host:port`` list."""
    security_protocol: str = "PLAINTEXT"
    sasl_mechanism: str = "SCRAM-SHA-512"
    sasl_username: str = ""
    sasl_password: str = ""
    ssl_cafile: Path | None = None
    ssl_certfile: Path | None = None
    ssl_keyfile: Path | None = None
    ssl_check_hostname: bool = True

    @classmethod
    def from_settings(cls, settings: Settings) -> KafkaConnection:
        """The connection the settings describe."""
        return cls(
            bootstrap=settings.kafka_bootstrap,
            security_protocol=settings.kafka_security_protocol,
            sasl_mechanism=settings.kafka_sasl_mechanism,
            sasl_username=settings.kafka_sasl_username,
            sasl_password=settings.kafka_sasl_password.get_secret_value(),
            ssl_cafile=settings.kafka_ssl_cafile,
            ssl_certfile=settings.kafka_ssl_certfile,
            ssl_keyfile=settings.kafka_ssl_keyfile,
            ssl_check_hostname=settings.kafka_ssl_check_hostname,
        )

    @property
    def hosts(self) -> list[str]:
        """The brokers, as a list."""
        return [host.strip() for host in self.bootstrap.split(",") if host.strip()]

    @property
    def uses_sasl(self) -> bool:
        """``SASL_PLAINTEXT`` or ``SASL_SSL``."""
        return self.security_protocol.startswith("SASL")

    @property
    def uses_tls(self) -> bool:
        """``SSL`` or ``SASL_SSL``."""
        return self.security_protocol in ("SSL", "SASL_SSL")

    def ssl_context(self) -> ssl.SSLContext | None:
        """The TLS context of ``SSL`` and ``SASL_SSL`` (None otherwise)."""
        if not self.uses_tls:
            return None
        context = ssl.create_default_context(
            cafile=str(self.ssl_cafile) if self.ssl_cafile is not None else None
        )
        context.check_hostname = self.ssl_check_hostname
        if self.ssl_certfile is not None and self.ssl_keyfile is not None:
            context.load_cert_chain(str(self.ssl_certfile), str(self.ssl_keyfile))
        return context

    def client_options(self) -> dict[str, Any]:
        """Keyword arguments that aiokafka's clients (``AIOKafkaProducer``, ``AIOKafkaConsumer``)
        and kafka-python's (``KafkaAdminClient``) both take, with these meanings."""
        options: dict[str, Any] = {
            "bootstrap_servers": self.hosts,
            "security_protocol": self.security_protocol,
        }
        if self.uses_sasl:
            options.update(
                sasl_mechanism=self.sasl_mechanism,
                sasl_plain_username=self.sasl_username,
                sasl_plain_password=self.sasl_password,
            )
        if self.uses_tls:
            options["ssl_context"] = self.ssl_context()
        return options

    def faust_credentials(self) -> Any:
        """Faust's ``broker_credentials`` (None for ``PLAINTEXT``)."""
        import faust  # the workers' library: not imported by the CLI's other commands

        if self.uses_sasl:
            return faust.SASLCredentials(
                username=self.sasl_username,
                password=self.sasl_password,
                mechanism=self.sasl_mechanism,
                ssl_context=self.ssl_context(),
            )
        if self.uses_tls:
            return faust.SSLCredentials(self.ssl_context())
        return None
