"""Topic names (a contract) and what each topic must look like.

Every topic, the table changelogs included, is created explicitly with its partition count
before workers start (pipeline.runtime.kafka_admin): auto-created topics get a broker default that
breaks co-partitioning.
"""

from __future__ import annotations

from dataclasses import dataclass

from pipeline.runtime.kafka_admin import TopicSpec

__all__ = [
    "BRAND_WINDOWS_TABLE", "CASES_TABLE", "FINGERPRINTS_TABLE", "TABLES", "WINDOWS_TABLE", "TopicNames",
    "changelog_topic", "topic_specs",
]  # fmt: skip

#: Name of the Faust table holding windowed counts; its changelog is ``{app_id}-{name}-changelog``.
WINDOWS_TABLE = "product-windows"
#: The Faust table of brand-level and channel-level windows, keyed by brand.
BRAND_WINDOWS_TABLE = "brand-windows"
#: The Faust table of the fingerprints each product counted (pipeline.detection.dedup),
#: partitioned by product.
FINGERPRINTS_TABLE = "product-fingerprints"
#: The Faust table of open and recent cases (pipeline.cases), partitioned by brand like the
#: alerts and case updates it is built from.
CASES_TABLE = "cases"
#: Every table of the worker.
TABLES = (WINDOWS_TABLE, BRAND_WINDOWS_TABLE, FINGERPRINTS_TABLE, CASES_TABLE)


@dataclass(frozen=True, slots=True)
class TopicNames:
    """The pipeline's topics under one namespace (``voc`` in production)."""

    reviews_raw: str
    chats_raw: str
    surveys_raw: str
    social_raw: str
    scored: str
    repartition: str
    """Scored feedback moved to its product's partition to be counted there: the feedback
    whose raw record was not on that partition (internal; the scored topic's schema)."""
    alerts: str
    actions: str
    brand_windows: str
    cases: str
    case_updates: str
    conversations: str
    dlq: str

    @classmethod
    def in_namespace(cls, namespace: str) -> TopicNames:
        """``voc`` → ``voc.reviews.raw``, ``voc.feedback.scored``, ``voc.alerts``, ``voc.dlq``...

        There is no ``voc.feedback`` topic of unscored feedback (before issue #15 the analyze
        agent was its only reader): ingest and analysis run in one agent."""
        return cls(
            reviews_raw=f"{namespace}.reviews.raw",
            chats_raw=f"{namespace}.chats.raw",
            surveys_raw=f"{namespace}.surveys.raw",
            social_raw=f"{namespace}.social.raw",
            scored=f"{namespace}.feedback.scored",
            repartition=f"{namespace}.feedback.repartition",
            alerts=f"{namespace}.alerts",
            actions=f"{namespace}.actions",
            brand_windows=f"{namespace}.windows.brand",
            cases=f"{namespace}.cases",
            case_updates=f"{namespace}.case_updates",
            conversations=f"{namespace}.conversations",
            dlq=f"{namespace}.dlq",
        )

    def all(self) -> list[str]:
        """Every topic, inputs first."""
        return [
            self.reviews_raw, self.chats_raw, self.surveys_raw, self.social_raw,
            self.scored, self.repartition, self.alerts, self.actions, self.brand_windows, self.cases,
            self.case_updates, self.conversations, self.dlq,
        ]  # fmt: skip


def changelog_topic(app_id: str, table: str = WINDOWS_TABLE) -> str:
    """The changelog topic Faust uses for ``table`` of app ``app_id``."""
    return f"{app_id}-{table}-changelog"


def topic_specs(
    topics: TopicNames, app_id: str, partitions: int, replication: int, dlq_retention_ms: int | None = None
) -> list[TopicSpec]:
    """Every topic a worker of app ``app_id`` reads or writes, the table changelogs included.

    The tables are keyed like the topics they read (feedback by product; window deltas,
    alerts and case updates by brand) and their changelogs are co-partitioned
    with those topics, so these must have the settings' partition count (``strict``). Any
    other count elsewhere only changes how many workers share the work.

    Replicated topics take a write only when all but one replica have it
    (``min.insync.replicas`` = replication - 1, so 2 of 3): with the producers' ``acks=all``,
    an acknowledged record survives the loss of any one broker, and one broker may be down
    without stopping writes.
    """
    keyed_state = {
        topics.scored, topics.repartition, topics.brand_windows, topics.alerts, topics.case_updates
    }  # fmt: skip
    durability = {"min.insync.replicas": str(replication - 1)} if replication > 1 else {}
    specs = [
        TopicSpec(
            name,
            partitions,
            replication,
            # Dead letters hold what the sources sent (personal data, unless masked): kept
            # only as long as the settings say.
            {**durability, "retention.ms": str(dlq_retention_ms)}
            if name == topics.dlq and dlq_retention_ms
            else dict(durability),
            strict=name in keyed_state,
        )
        for name in topics.all()
    ]
    specs += [
        TopicSpec(
            changelog_topic(app_id, table),
            partitions,
            replication,
            {**durability, "cleanup.policy": "compact"},
            True,
        )
        for table in TABLES
    ]
    return specs
