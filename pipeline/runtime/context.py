"""Everything a worker's agents share, built once from the settings at start."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from prometheus_client import CollectorRegistry

from config import AlertRules, CaseRules, Settings, load_alert_rules, load_case_rules, load_taxonomy
from config.brand_lexicon import load_brand_lexicon
from config.errors import ConfigError
from pipeline.ingest import IngestContext
from pipeline.runtime.kafka_admin import TopicsReport, ensure_topics
from pipeline.runtime.kafka_connection import KafkaConnection
from pipeline.runtime.metrics import PipelineMetrics
from pipeline.runtime.topics import TopicNames, topic_specs
from pipeline.runtime.watchdog import ProgressWatchdog
from pipeline.text.analysis import Analyzer
from pipeline.text.aspect_model import load_aspect_model
from pipeline.text.sentiment import LinearSentimentModel, SentimentScorer, load_sentiment_model
from pipeline.text.tokenize import build_tokenizer
from sinks.clickhouse import ClickHouseConfig, ClickHouseWriter
from sinks.retry import RetryPolicy

__all__ = [
    "WorkerContext", "aspect_model_path", "build_analyzer", "clickhouse_config", "ensure_pipeline_topics",
    "ingest_context", "load_sentiment_scorer", "retry_policy",
]  # fmt: skip


def load_sentiment_scorer(settings: Settings) -> LinearSentimentModel:
    """The trained sentiment model the settings name; raises ConfigError if it is unusable."""
    try:
        return load_sentiment_model(settings.sentiment_model_path)
    except ValueError as exc:
        raise ConfigError(str(exc)) from exc


def build_analyzer(
    settings: Settings,
    taxonomy_path: Path | None = None,
    scorer: SentimentScorer | None = None,
    learned_aspects: bool | None = None,
) -> Analyzer:
    """Load taxonomy, tokenizer, model and the taxonomy's learned aspect model where there is
    one (about a second) into one Analyzer.

    ``taxonomy_path`` overrides the settings' taxonomy; ``scorer`` lets several analyzers
    share one loaded model (the trained model by default); ``learned_aspects`` overrides
    ``VOC_LEARNED_ASPECTS``. Raises ConfigError for an aspect model that does not fit.
    """
    taxonomy = load_taxonomy(taxonomy_path or settings.taxonomy_path)
    tokenizer = build_tokenizer(settings.tokenizer, [*taxonomy.dictionary_words(), *settings.lexicon_words])
    scorer = scorer or load_sentiment_scorer(settings)
    artefact = aspect_model_path(settings, taxonomy.industry)
    use_learned = settings.learned_aspects if learned_aspects is None else learned_aspects
    if not (use_learned and artefact.exists()):
        return Analyzer(taxonomy, tokenizer, scorer)
    try:
        return Analyzer(taxonomy, tokenizer, scorer, aspect_model=load_aspect_model(artefact))
    except ValueError as exc:  # another format, or trained for another taxonomy version
        raise ConfigError(str(exc)) from exc


def retry_policy(settings: Settings) -> RetryPolicy:
    """The sinks' retry policy from the settings; ConfigError if the two waits disagree."""
    try:
        return RetryPolicy(settings.sink_retry_first_backoff_s, settings.sink_retry_max_backoff_s)
    except ValueError as exc:
        raise ConfigError(f"VOC_SINK_RETRY_FIRST_BACKOFF_S / _MAX_BACKOFF_S: {exc}") from exc


def aspect_model_path(settings: Settings, industry: str) -> Path:
    """Where the learned aspect model of a taxonomy industry lives."""
    return settings.aspect_models_dir / f"aspects-{industry}.npz"


def clickhouse_config(settings: Settings, with_database: bool = True) -> ClickHouseConfig:
    """Connection parameters from the settings."""
    return ClickHouseConfig(
        host=settings.clickhouse_host,
        port=settings.clickhouse_port,
        user=settings.clickhouse_user,
        password=settings.clickhouse_password.get_secret_value(),
        database=settings.clickhouse_database if with_database else None,
        secure=settings.clickhouse_secure,
        ca_certs=str(settings.clickhouse_ca_certs) if settings.clickhouse_ca_certs else None,
        verify=settings.clickhouse_verify,
        cluster=settings.clickhouse_cluster,
    )


def ensure_pipeline_topics(settings: Settings) -> TopicsReport:
    """Create the pipeline's missing topics and check the existing ones (pipeline.runtime.kafka_admin);
    raises ConfigError when the broker is unreachable or a co-partitioned topic has another
    partition count."""
    specs = topic_specs(
        TopicNames.in_namespace(settings.topic_namespace),
        settings.app_id,
        settings.topic_partitions,
        settings.topic_replication_factor,
        dlq_retention_ms=round(settings.dlq_retention_days * 86_400_000),
    )
    return ensure_topics(KafkaConnection.from_settings(settings), specs)


def ingest_context(settings: Settings) -> IngestContext:
    """What the ingest stage needs from the settings."""
    return IngestContext(
        max_message_bytes=settings.max_message_bytes,
        customer_ref_salt=settings.customer_ref_salt.get_secret_value().encode(),
        event_time_max_age_s=settings.event_time_max_age_days * 86_400,
        event_time_max_future_s=settings.event_time_max_future_s,
        brands=load_brand_lexicon(settings.brand_lexicon_path),
    )


@dataclass(frozen=True, slots=True)
class WorkerContext:
    """Shared, read-only dependencies of the agents of one worker process."""

    settings: Settings
    topics: TopicNames
    registry: CollectorRegistry
    metrics: PipelineMetrics
    analyzer: Analyzer
    rules: AlertRules
    case_rules: CaseRules
    ingest: IngestContext
    writer: ClickHouseWriter
    watchdog: ProgressWatchdog
    retry: RetryPolicy
    """The sinks' one retry policy (ClickHouse inserts and Kafka deliveries)."""

    @classmethod
    def build(cls, settings: Settings) -> WorkerContext:
        """Load and validate every file the worker needs; raises ConfigError if one is bad.

        Opens no connection: the ClickHouse writer connects on its first insert.
        """
        registry = CollectorRegistry()
        metrics = PipelineMetrics.create(registry)
        retry = retry_policy(settings)
        return cls(
            settings=settings,
            topics=TopicNames.in_namespace(settings.topic_namespace),
            registry=registry,
            metrics=metrics,
            analyzer=build_analyzer(settings),
            rules=load_alert_rules(settings.alert_rules_path, settings.window_sizes_s),
            case_rules=load_case_rules(settings.case_rules_path),
            ingest=ingest_context(settings),
            writer=ClickHouseWriter(clickhouse_config(settings), metrics, retry),
            watchdog=ProgressWatchdog(settings.stall_timeout_s, metrics),
            retry=retry,
        )
