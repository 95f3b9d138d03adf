"""The one settings model of voc-pipeline.

Read once at the entry point (``voc`` CLI) from ``VOC_*`` environment variables and passed
down; nothing else in the code base reads ``os.environ``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import Field, PositiveInt, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from config.resources import REPO_ROOT, resource_path

__all__ = ["REPO_ROOT", "Settings"]

_CONFIG_DIR = Path(__file__).resolve().parent


class Settings(BaseSettings):
    """Every tunable of the pipeline, with its default. Frozen: build a new one to change."""

    model_config = SettingsConfigDict(env_prefix="VOC_", frozen=True, extra="forbid")

    # --- Kafka ---------------------------------------------------------------------------
    kafka_bootstrap: str = "127.0.0.1:9092"
    """Comma-separated ``host:port`` list of Kafka brokers."""
    topic_namespace: str = "voc"
    """Prefix of every topic name (``{ns}.reviews.raw``...). Tests use a unique one each."""
    topic_partitions: int = Field(default=4, ge=1)
    """Partitions of every topic the pipeline creates; bounds the number of useful workers."""
    topic_replication_factor: int = Field(default=1, ge=1)
    """Replication factor of created topics (1 locally, 3 on a production cluster)."""
    kafka_security_protocol: Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] = "PLAINTEXT"
    """How every Kafka client of the pipeline (workers, admin, CLI) talks to the brokers."""
    kafka_sasl_mechanism: Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"] = "SCRAM-SHA-512"
    """SASL mechanism, for ``SASL_PLAINTEXT`` and ``SASL_SSL``."""
    kafka_sasl_username: str = ""
    kafka_sasl_password: SecretStr = SecretStr("")
    kafka_ssl_cafile: Path | None = None
    """CA bundle that signed the brokers' certificates (``SSL``, ``SASL_SSL``); the system's
    trust store when unset."""
    kafka_ssl_certfile: Path | None = None
    """Client certificate, for brokers that require mutual TLS (with ``kafka_ssl_keyfile``)."""
    kafka_ssl_keyfile: Path | None = None
    kafka_ssl_check_hostname: bool = True
    """Check that a broker's certificate names the host connected to."""
    app_id: str = ""
    """Faust application id: the consumer group and the prefix of changelog topics. Derived
    from the namespace when not set (``{topic_namespace}-pipeline``, so ``voc-pipeline`` by
    default): two pipelines in two namespaces never share a group or table state."""
    session_timeout_s: float = Field(default=10.0, ge=3.0)
    """Consumer group session timeout: how long the group waits for a worker that stopped
    heartbeating (a SIGKILL) before its partitions move to the others."""
    producer_linger_ms: int = Field(default=5, ge=0)
    """How long the producer waits to fill a batch; a few ms buys much throughput."""
    consumer_fetch_max_wait_ms: int = Field(default=100, ge=1, le=30_000)
    """Longest the broker may hold a fetch with nothing to return (Kafka's fetch.max.wait.ms;
    Faust's own default is 1500). Apache Kafka answers as soon as a record arrives, so this
    only sets how often an idle consumer asks again."""

    # --- Processing ----------------------------------------------------------------------
    max_message_bytes: int = Field(default=65_536, ge=256)
    """Raw input messages larger than this go to the dead-letter topic as ``too_large``."""
    event_time_max_age_days: int = Field(default=3_650, ge=1, le=20_000)
    """Feedback whose event time is older than this many days goes to the dead-letter topic
    as ``out_of_range`` (a broken clock or a default date such as 0001-01-01)."""
    event_time_max_future_s: int = Field(default=86_400, ge=0)
    """Feedback whose event time is more than this many seconds ahead of the worker's clock
    goes to the dead-letter topic as ``out_of_range``."""
    batch_max_messages: int = Field(default=2_000, ge=1)
    """Most messages one agent processes as a batch (``stream.take``)."""
    batch_max_wait_s: float = Field(default=0.5, gt=0)
    """Longest an agent waits to fill a batch before it processes what it has."""
    commit_interval_s: float = Field(default=2.8, gt=0)
    """How often the worker commits the offsets of processed batches (Faust's
    ``broker_commit_interval``). After a crash, up to this much work is read again: the
    sinks leave out what ClickHouse already holds, upstream stages publish it again."""
    dlq_payload: Literal["original", "masked", "none"] = "masked"
    """What a dead letter carries as its value. ``masked`` (default): the original message
    with personal data masked in every string of a message that parses as JSON (the whole
    text otherwise), so it can still be read and replayed; ``original``: the bytes as
    received (personal data included: restrict who reads the topic); ``none``: no value,
    only the reason headers (cannot be replayed)."""
    dlq_retention_days: float = Field(default=7.0, gt=0)
    """How long the dead-letter topic keeps records (``retention.ms``, set by ``voc topics
    create`` and by the worker when it creates the topic)."""
    customer_ref_salt: SecretStr = SecretStr("voc-local-salt")
    """Salt of the one-way hash that turns a customer id into ``customer_ref``."""
    taxonomy_path: Path = _CONFIG_DIR / "taxonomy" / "ecommerce.yaml"
    """Aspect taxonomy (YAML) used to find aspect mentions."""
    alert_rules_path: Path = _CONFIG_DIR / "alert_rules.yaml"
    """Alert rules (YAML), validated when the worker starts."""
    brand_lexicon_path: Path = _CONFIG_DIR / "brand_lexicon.yaml"
    """Brands and products (YAML) that social posts are matched against."""
    case_rules_path: Path = _CONFIG_DIR / "case_rules.yaml"
    """Case rules (YAML): SLAs per severity and route, repeat window, expiry."""
    window_sizes_s: tuple[PositiveInt, ...] = Field(default=(60, 3600), min_length=1)
    """Tumbling window sizes (seconds) the worker may keep; every window rule must use one
    of them (checked at start). JSON list in the environment: ``[60, 3600, 86400]``."""
    action_horizons_h: tuple[PositiveInt, ...] = Field(default=(24, 168), min_length=1)
    """Hours before and after an action over which ``voc report`` compares its scope."""
    brand_groups: dict[str, tuple[str, ...]] = Field(default_factory=dict)
    """Own brand → its competitors, for the competitor gap in ``voc report``. JSON in the
    environment: ``{"云杉": ["北极星", "青禾"]}``."""
    tokenizer: Literal["rjieba", "jieba"] = "rjieba"
    """``rjieba`` (jieba-rs binding, fast) or ``jieba`` (the pure-Python reference)."""
    lexicon_words: tuple[str, ...] = ()
    """Brand and product names the tokenizer must keep whole, besides the taxonomy's terms
    (``VOC_LEXICON_WORDS='["小米14","蒙牛纯牛奶"]'``)."""
    sentiment_model_path: Path = REPO_ROOT / "pipeline" / "models" / "sentiment.json.gz"
    """Sentence sentiment model written by ``make train`` (versioned in the repository)."""
    aspect_models_dir: Path = REPO_ROOT / "pipeline" / "models"
    """Where learned aspect models live, one per taxonomy industry (``aspects-catering.npz``,
    written by ``make train``); a taxonomy without one is read by its lexicon alone."""
    learned_aspects: bool = True
    """Use the taxonomy's learned aspect model where there is one (false: lexicon only)."""

    # --- ClickHouse ----------------------------------------------------------------------
    clickhouse_host: str = "127.0.0.1"
    clickhouse_port: int = 9000
    """Native protocol port."""
    clickhouse_user: str = "default"
    clickhouse_password: SecretStr = SecretStr("")
    clickhouse_secure: bool = False
    """TLS to ClickHouse's native port (usually 9440 then)."""
    clickhouse_ca_certs: Path | None = None
    """CA bundle for ``clickhouse_secure``; the system's trust store when unset."""
    clickhouse_verify: bool = True
    """Verify the server's certificate (``clickhouse_secure``)."""
    clickhouse_database: str = "voc"
    clickhouse_cluster: str = ""
    """Name of a ClickHouse cluster (``<remote_servers>``) to lay the tables out on: replicated
    ``_local`` tables and ``Distributed`` tables over them, created ``ON CLUSTER``
    (sinks/cluster_layout.py). Empty: one server, plain MergeTree tables."""
    migrations_dir: Path = Field(default_factory=lambda: resource_path("deploy/clickhouse/migrations"))
    """Folder of the numbered migrations (the checkout's, or the installed wheel's copy)."""
    sink_retry_max_backoff_s: float = Field(default=30.0, gt=0)
    """An insert or a Kafka delivery that fails for a retryable reason (network, server down,
    too many parts) is retried, never dropped, with exponential backoff from
    ``sink_retry_first_backoff_s`` up to this, jittered (sinks/retry.py). Rows ClickHouse can
    never take go to the dead-letter topic as ``sink_rejected``."""
    sink_retry_first_backoff_s: float = Field(default=0.5, gt=0)
    """The first wait of that backoff."""

    # --- Worker --------------------------------------------------------------------------
    web_host: str = "127.0.0.1"
    """Interface of the worker's HTTP endpoint (``/metrics``, ``/livez``)."""
    web_port: int = 6066
    """Port of the worker's HTTP endpoint; give each worker on one machine its own."""
    stall_timeout_s: float = Field(default=120.0, ge=5.0)
    """A stage that has input waiting on a partition (lag) and has finished no batch there
    for this long is stalled: ``/livez`` answers 503 so that a supervisor restarts the
    worker, and ``voc_partition_stalled`` names the stage and partition. A sink that cannot
    store (ClickHouse down) stalls too."""
    log_level: str = "info"

    @model_validator(mode="after")
    def _check_kafka_security(self) -> Settings:
        # A SASL protocol without credentials would fail at the first connection, far from
        # the setting that is missing; say so at start instead.
        if self.kafka_security_protocol.startswith("SASL") and not (
            self.kafka_sasl_username and self.kafka_sasl_password.get_secret_value()
        ):
            raise ValueError(
                f"VOC_KAFKA_SECURITY_PROTOCOL={self.kafka_security_protocol} needs "
                "VOC_KAFKA_SASL_USERNAME and VOC_KAFKA_SASL_PASSWORD"
            )
        if (self.kafka_ssl_certfile is None) != (self.kafka_ssl_keyfile is None):
            raise ValueError("VOC_KAFKA_SSL_CERTFILE and VOC_KAFKA_SSL_KEYFILE go together")
        return self

    @model_validator(mode="before")
    @classmethod
    def _derive_app_id(cls, data: Any) -> Any:
        # The group and the changelogs follow the namespace unless the app id is set.
        if isinstance(data, dict) and not data.get("app_id"):
            data = {**data, "app_id": f"{data.get('topic_namespace') or 'voc'}-pipeline"}
        return data
