"""The operations side of Kafka, through kafka-python's admin client.

Creating the pipeline's topics with their partition counts and configs, checking the ones
that exist, deleting a namespace's topics (tests), and consumer lag per group, topic and
partition (``voc lag``). Synchronous: these run from the CLI and before a worker starts,
never inside an agent.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field

from kafka import TopicPartition
from kafka.admin import ConfigResource, ConfigResourceType, KafkaAdminClient, OffsetSpec
from kafka.errors import KafkaError, TopicAlreadyExistsError

from config.errors import ConfigError
from pipeline.runtime.kafka_connection import KafkaConnection

__all__ = [
    "PartitionLag",
    "TopicSpec",
    "TopicsReport",
    "admin_client",
    "consumer_lag",
    "delete_topics",
    "ensure_topics",
]

log = logging.getLogger(__name__)

#: How long a freshly created topic may take to have a leader on every partition (KRaft
#: propagates new topics to the broker's metadata cache after CreateTopics has answered).
_TOPIC_READY_TIMEOUT_MS = 30_000


@dataclass(frozen=True, slots=True)
class TopicSpec:
    """A topic as the pipeline needs it.

    ``strict``: keyed state is co-partitioned with this topic, so an existing topic with
    another partition count is an error, not a warning.
    """

    name: str
    partitions: int
    replication: int
    configs: Mapping[str, str] = field(default_factory=dict)
    strict: bool = False


@dataclass(frozen=True, slots=True)
class TopicsReport:
    """What :func:`ensure_topics` found and did."""

    created: list[str]
    existing: list[str]
    warnings: list[str]
    """Existing non-strict topics whose partition count differs from the settings."""
    reconfigured: list[str] = field(default_factory=list)
    """Existing topics whose configs (``retention.ms`` of the dead-letter topic...) differed
    from the specs and were set to them."""


@contextmanager
def admin_client(kafka: KafkaConnection) -> Iterator[KafkaAdminClient]:
    """A connected admin client, closed afterwards; a broker that cannot be reached is a
    ConfigError naming it."""
    try:
        admin = KafkaAdminClient(
            **kafka.client_options(),
            client_id="voc-admin",
            request_timeout_ms=30_000,
        )
    except KafkaError as exc:
        raise ConfigError(f"cannot reach Kafka at {kafka.bootstrap}: {exc!r}") from exc
    try:
        yield admin
    finally:
        admin.close()


def _partition_counts(admin: KafkaAdminClient, names: Sequence[str]) -> dict[str, int]:
    if not names:
        return {}
    return {d["name"]: len(d.get("partitions") or ()) for d in admin.describe_topics(list(names))}


def ensure_topics(kafka: KafkaConnection, specs: Sequence[TopicSpec]) -> TopicsReport:
    """Create whichever of ``specs`` do not exist, wait until each has a leader on every
    partition, and check the partition counts of those that existed.

    Idempotent and safe to run from several workers at once (a topic another one created in
    between counts as existing). Raises ConfigError when a strict topic has another
    partition count: the worker would keep state for keys on the wrong partitions.
    """
    with admin_client(kafka) as admin:
        present = set(admin.list_topics())
        missing = [s for s in specs if s.name not in present]
        created: list[str] = []
        if missing:
            request = {
                s.name: {
                    "num_partitions": s.partitions,
                    "replication_factor": s.replication,
                    "configs": dict(s.configs),
                }
                for s in missing
            }
            try:
                admin.create_topics(request)
                created = [s.name for s in missing]
            except TopicAlreadyExistsError:
                # Another process created some of them meanwhile: count what is there now.
                now = set(admin.list_topics())
                created = [s.name for s in missing if s.name in now and s.name not in present]
                rest = {name: options for name, options in request.items() if name not in now}
                if rest:
                    admin.create_topics(rest)
                    created += list(rest)
            admin.wait_for_topics([s.name for s in missing], timeout_ms=_TOPIC_READY_TIMEOUT_MS)
        existing = [s for s in specs if s.name in present]
        counts = _partition_counts(admin, [s.name for s in existing])
        reconfigured = _apply_configs(admin, [s for s in existing if s.configs])
    warnings: list[str] = []
    errors: list[str] = []
    for spec in existing:
        count = counts.get(spec.name, 0)
        if count == spec.partitions:
            continue
        problem = f"topic {spec.name} has {count} partitions, the settings say {spec.partitions}"
        (errors if spec.strict else warnings).append(problem)
    if errors:
        raise ConfigError(
            "; ".join(errors)
            + ". Keyed state is co-partitioned with these topics: set VOC_TOPIC_PARTITIONS to "
            "their count, or use a new VOC_TOPIC_NAMESPACE"
        )
    for warning in warnings:
        log.warning("%s", warning)
    return TopicsReport(
        created=created, existing=[s.name for s in existing], warnings=warnings, reconfigured=reconfigured
    )


def _apply_configs(admin: KafkaAdminClient, specs: Sequence[TopicSpec]) -> list[str]:
    """Set the configs of ``specs`` on their existing topics where they differ (incremental:
    other configs of the topic stay as they are); returns the topics changed."""
    if not specs:
        return []
    described = admin.describe_configs(
        [ConfigResource(ConfigResourceType.TOPIC, s.name, dict.fromkeys(s.configs)) for s in specs]
    ).get("topic", {})
    changes = []
    for spec in specs:
        current = {key: entry.get("value") for key, entry in described.get(spec.name, {}).items()}
        wanted = {key: value for key, value in spec.configs.items() if current.get(key) != value}
        if wanted:
            changes.append(ConfigResource(ConfigResourceType.TOPIC, spec.name, wanted))
    if changes:
        outcome = admin.alter_configs(changes).get("topic", {})
        failed = {name: status for name, status in outcome.items() if status != "OK"}
        if failed:
            raise ConfigError(f"cannot set topic configs: {failed}")
        for change in changes:
            log.info("topic %s: set %s", change.name, change.configs)
    return [change.name for change in changes]


def delete_topics(kafka: KafkaConnection, names: Iterable[str]) -> list[str]:
    """Delete those of ``names`` that exist; returns the names deleted."""
    with admin_client(kafka) as admin:
        present = set(admin.list_topics())
        doomed = sorted(set(names) & present)
        if doomed:
            admin.delete_topics(doomed)
    return doomed


@dataclass(frozen=True, slots=True)
class PartitionLag:
    """Where a consumer group stands on one partition.

    ``committed`` is None when the group has never committed there; the lag then counts
    from the earliest offset still in the log (the pipeline reads from the earliest).
    """

    group: str
    topic: str
    partition: int
    committed: int | None
    end: int
    lag: int


def consumer_lag(kafka: KafkaConnection, group: str, topics: Iterable[str] = ()) -> list[PartitionLag]:
    """Committed offset, end offset and lag of ``group`` on every partition of ``topics``
    and of every topic the group has committed offsets for, sorted by topic and partition.
    Topics that do not exist are left out."""
    with admin_client(kafka) as admin:
        committed = {
            (tp.topic, tp.partition): meta.offset
            for tp, meta in admin.list_group_offsets({group: None}).get(group, {}).items()
            if meta.offset is not None and meta.offset >= 0
        }
        wanted = set(topics) | {topic for topic, _ in committed}
        present = set(admin.list_topics())
        counts = _partition_counts(admin, sorted(wanted & present))
        partitions = [TopicPartition(t, p) for t, n in sorted(counts.items()) for p in range(n)]
        if not partitions:
            return []
        ends = admin.list_partition_offsets(dict.fromkeys(partitions, OffsetSpec.LATEST))
        never = [tp for tp in partitions if (tp.topic, tp.partition) not in committed]
        starts = admin.list_partition_offsets(dict.fromkeys(never, OffsetSpec.EARLIEST)) if never else {}
    lags: list[PartitionLag] = []
    for tp in partitions:
        end = int(ends[tp].offset)
        position = committed.get((tp.topic, tp.partition))
        start = position if position is not None else int(starts[tp].offset)
        lags.append(PartitionLag(group, tp.topic, tp.partition, position, end, max(0, end - start)))
    return lags
