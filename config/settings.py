"""The one settings model of voc-pipeline.

Read once at the entry point (``voc`` CLI) from ``VOC_*`` environment variables and passed
down; nothing else in the code base reads ``os.environ``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, PositiveInt, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

__all__ = ["REPO_ROOT", "Settings"]

#: Root of the source checkout; default location of the migrations and demo data.
REPO_ROOT = Path(__file__).resolve().parent.parent
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
    app_id: str = "voc-pipeline"
    """Faust application id: the consumer group and the prefix of changelog topics."""
    session_timeout_s: float = Field(default=10.0, ge=3.0)
    """Consumer group session timeout. Tansu completes a group join only after half of it
    (LOCAL_STACK_NOTES.md), so it also bounds how fast a worker starts locally."""
    producer_linger_ms: int = Field(default=5, ge=0)
    """How long the producer waits to fill a batch; a few ms buys much throughput."""
    consumer_fetch_max_wait_ms: int = Field(default=100, ge=1, le=30_000)
    """Longest the broker may hold a fetch with nothing to return (Kafka's fetch.max.wait.ms;
    Faust's own default is 1500). Apache Kafka answers as soon as data arrives; a broker that
    waits out the limit (Tansu) adds it to every hop, so critical alerts wait for it."""

    # --- Processing ----------------------------------------------------------------------
    max_message_bytes: int = Field(default=65_536, ge=256)
    """Raw input messages larger than this go to the dead-letter topic as ``too_large``."""
    batch_max_messages: int = Field(default=2_000, ge=1)
    """Most messages one agent processes as a batch (``stream.take``)."""
    batch_max_wait_s: float = Field(default=0.5, gt=0)
    """Longest an agent waits to fill a batch before it processes what it has."""
    commit_interval_s: float = Field(default=2.8, gt=0)
    """How often the worker commits the offsets of processed batches (Faust's
    ``broker_commit_interval``). After a crash, up to this much work is read again: the
    sinks leave out what ClickHouse already holds, upstream stages publish it again."""
    customer_ref_salt: SecretStr = SecretStr("voc-local-salt")
    """Salt of the one-way hash that turns a customer id into ``customer_ref``."""
    taxonomy_path: Path = _CONFIG_DIR / "taxonomy" / "ecommerce.yaml"
    """Aspect taxonomy (YAML) used to find aspect mentions."""
    alert_rules_path: Path = _CONFIG_DIR / "alert_rules.yaml"
    """Alert rules (YAML), validated when the worker starts."""
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

    # --- ClickHouse ----------------------------------------------------------------------
    clickhouse_host: str = "127.0.0.1"
    clickhouse_port: int = 9000
    """Native protocol port."""
    clickhouse_user: str = "default"
    clickhouse_password: SecretStr = SecretStr("")
    clickhouse_database: str = "voc"
    migrations_dir: Path = REPO_ROOT / "deploy" / "clickhouse" / "migrations"
    sink_retry_max_backoff_s: float = Field(default=30.0, gt=0)
    """A failing insert is retried (never dropped) with exponential backoff up to this."""

    # --- Worker --------------------------------------------------------------------------
    web_host: str = "127.0.0.1"
    """Interface of the worker's HTTP endpoint (``/metrics``, ``/livez``)."""
    web_port: int = 6066
    """Port of the worker's HTTP endpoint; give each worker on one machine its own."""
    log_level: str = "info"
