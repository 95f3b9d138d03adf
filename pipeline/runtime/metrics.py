"""Prometheus metrics of a worker, created by one factory on a registry it is given."""

from __future__ import annotations

from dataclasses import dataclass

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

__all__ = ["PipelineMetrics"]

# Batch sizes span one straggler to a full take() of thousands.
_BATCH_SIZE_BUCKETS = (1, 10, 50, 100, 250, 500, 1_000, 2_000, 5_000, 10_000)
# Inserts of thousands of rows take milliseconds locally, seconds when the server is busy.
_INSERT_SECONDS_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)
# Produce→stored latency: sub-second when keeping up, minutes when catching up.
_LATENCY_SECONDS_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 300, 900)


@dataclass(frozen=True, slots=True)
class PipelineMetrics:
    """Every metric a worker exposes on ``/metrics``; labels are low-cardinality enums."""

    messages_in: Counter
    messages_out: Counter
    dead_letters: Counter
    skipped: Counter
    feedback_repartitioned: Counter
    feedback_detected: Counter
    late_events: Counter
    replayed_events: Counter
    duplicate_events: Counter
    alerts_emitted: Counter
    alerts_suppressed: Counter
    case_changes: Counter
    batch_size: Histogram
    batch_seconds: Histogram
    insert_seconds: Histogram
    insert_rows: Counter
    insert_failures: Counter
    query_failures: Counter
    rows_rejected: Counter
    rows_already_stored: Counter
    feedback_already_stored: Counter
    feedback_latency: Histogram
    consumer_lag: Gauge
    stream_gaps: Counter
    partition_stalled: Gauge

    @classmethod
    def create(cls, registry: CollectorRegistry) -> PipelineMetrics:
        """Register every metric on ``registry`` (never the global default one)."""
        return cls(
            messages_in=Counter(
                "voc_messages_in", "Records consumed, per stage.", ["stage"], registry=registry
            ),
            messages_out=Counter(
                "voc_messages_out", "Records produced, per stage.", ["stage"], registry=registry
            ),
            dead_letters=Counter(
                "voc_dead_letters",
                "Records sent to the dead-letter topic.",
                ["stage", "reason"],
                registry=registry,
            ),
            skipped=Counter(
                "voc_messages_skipped",
                "Valid records skipped: not customer voice (agent and bot chat turns), or a social post "
                "naming no known brand (reason no_brand).",
                ["stage", "reason"],
                registry=registry,
            ),
            feedback_repartitioned=Counter(
                "voc_feedback_repartitioned",
                "Scored feedback whose raw record was not on its product's partition, moved there "
                "(feedback.repartition) to be counted: raw records keyed brand|sku never move.",
                ["stage"],
                registry=registry,
            ),
            feedback_detected=Counter(
                "voc_feedback_detected",
                "Scored feedback the product detector took in, where it was scored or after a move "
                "(counted into windows, or found late, replayed or duplicate).",
                registry=registry,
            ),
            late_events=Counter("voc_late_events", "Events older than every open window.", registry=registry),
            replayed_events=Counter(
                "voc_replayed_events",
                "Feedback seen again after a restart, not counted twice.",
                registry=registry,
            ),
            duplicate_events=Counter(
                "voc_duplicate_feedback",
                "Same text from the same author and source within a window: flagged, not counted.",
                registry=registry,
            ),
            alerts_emitted=Counter(
                "voc_alerts_emitted",
                "Alerts sent to the alert topic.",
                ["rule", "severity"],
                registry=registry,
            ),
            case_changes=Counter(
                "voc_case_changes",
                "Case events published on the cases topic, by change (opened, linked, "
                "acknowledged, contacted, resolved, reopened, sla_breached, expired).",
                ["change", "severity"],
                registry=registry,
            ),
            alerts_suppressed=Counter(
                "voc_alerts_suppressed",
                "Alerts a rule raised but did not send: reason cooldown or hourly_cap.",
                ["rule", "reason"],
                registry=registry,
            ),
            batch_size=Histogram(
                "voc_batch_size_messages",
                "Records per processed batch.",
                ["stage"],
                buckets=_BATCH_SIZE_BUCKETS,
                registry=registry,
            ),
            batch_seconds=Histogram(
                "voc_batch_duration_seconds",
                "Time to process and flush one batch.",
                ["stage"],
                buckets=_INSERT_SECONDS_BUCKETS,
                registry=registry,
            ),
            insert_seconds=Histogram(
                "voc_clickhouse_insert_duration_seconds",
                "Time of one ClickHouse insert.",
                ["table"],
                buckets=_INSERT_SECONDS_BUCKETS,
                registry=registry,
            ),
            insert_rows=Counter(
                "voc_clickhouse_rows_inserted",
                "Rows inserted into ClickHouse.",
                ["table"],
                registry=registry,
            ),
            insert_failures=Counter(
                "voc_clickhouse_insert_failures",
                "Failed insert attempts: retried if retryable, else the batch is split.",
                ["table"],
                registry=registry,
            ),
            query_failures=Counter(
                "voc_clickhouse_query_failures",
                "Failed read attempts of a sink (stored offsets, stored feedback); retried.",
                ["table"],
                registry=registry,
            ),
            rows_rejected=Counter(
                "voc_clickhouse_rows_rejected",
                "Rows ClickHouse can never take (type or range errors): sent to the dead-letter "
                "topic as sink_rejected, with the other rows of their record.",
                ["table"],
                registry=registry,
            ),
            rows_already_stored=Counter(
                "voc_clickhouse_rows_already_stored",
                "Rows of a replayed batch that ClickHouse already held, not inserted again.",
                ["table"],
                registry=registry,
            ),
            feedback_already_stored=Counter(
                "voc_feedback_already_stored",
                "Scored feedback already stored with the same text and model version (a stage "
                "replayed after a crash, or a source that sent it again): not stored again.",
                registry=registry,
            ),
            feedback_latency=Histogram(
                "voc_feedback_latency_seconds",
                "From the raw record's Kafka timestamp to its rows being stored in ClickHouse.",
                buckets=_LATENCY_SECONDS_BUCKETS,
                registry=registry,
            ),
            consumer_lag=Gauge(
                "voc_consumer_lag_messages",
                "Records waiting for a stage on a partition this worker owns (end offset minus "
                "the stage's position), as of the last watchdog check.",
                ["stage", "topic", "partition"],
                registry=registry,
            ),
            stream_gaps=Counter(
                "voc_stream_gaps",
                "Offset ranges a stage's stream skipped without delivering them (a Faust race "
                "right after a worker starts); each is read again from its first offset.",
                ["stage"],
                registry=registry,
            ),
            partition_stalled=Gauge(
                "voc_partition_stalled",
                "1 while a stage has records waiting on a partition and has finished no batch "
                "there for VOC_STALL_TIMEOUT_S; /livez fails meanwhile.",
                ["stage", "topic", "partition"],
                registry=registry,
            ),
        )
