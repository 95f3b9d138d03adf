"""Topic names (a contract) and their creation.

Every topic, the table changelog included, is created explicitly with its partition count
before workers start: auto-created topics get a broker default that breaks co-partitioning.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from aiokafka.admin import AIOKafkaAdminClient, NewTopic

__all__ = ["BRAND_WINDOWS_TABLE", "WINDOWS_TABLE", "TopicNames", "ensure_topics"]

log = logging.getLogger(__name__)

#: Name of the Faust table holding windowed counts; its changelog is ``{app_id}-{name}-changelog``.
WINDOWS_TABLE = "product-windows"
#: The Faust table of brand-level and channel-level windows, keyed by brand.
BRAND_WINDOWS_TABLE = "brand-windows"


@dataclass(frozen=True, slots=True)
class TopicNames:
    """The pipeline's topics under one namespace (``voc`` in production)."""

    reviews_raw: str
    chats_raw: str
    surveys_raw: str
    feedback: str
    scored: str
    alerts: str
    actions: str
    brand_windows: str
    dlq: str

    @classmethod
    def in_namespace(cls, namespace: str) -> TopicNames:
        """``voc`` → ``voc.reviews.raw``, ``voc.feedback``, ``voc.alerts``, ``voc.dlq``..."""
        return cls(
            reviews_raw=f"{namespace}.reviews.raw",
            chats_raw=f"{namespace}.chats.raw",
            surveys_raw=f"{namespace}.surveys.raw",
            feedback=f"{namespace}.feedback",
            scored=f"{namespace}.feedback.scored",
            alerts=f"{namespace}.alerts",
            actions=f"{namespace}.actions",
            brand_windows=f"{namespace}.windows.brand",
            dlq=f"{namespace}.dlq",
        )

    def all(self) -> list[str]:
        """Every topic, inputs first."""
        return [
            self.reviews_raw, self.chats_raw, self.surveys_raw,
            self.feedback, self.scored, self.alerts, self.actions, self.brand_windows, self.dlq,
        ]  # fmt: skip


def changelog_topic(app_id: str, table: str = WINDOWS_TABLE) -> str:
    """The changelog topic Faust uses for ``table`` of app ``app_id``."""
    return f"{app_id}-{table}-changelog"


async def ensure_topics(
    bootstrap: str, topics: TopicNames, app_id: str, partitions: int, replication: int
) -> list[str]:
    """Create whichever of the pipeline's topics do not exist; return the names created.

    Existing topics are left alone; one with a different partition count is reported in the
    log, because keyed state assumes the counts match.
    """
    wanted: dict[str, dict[str, str]] = {name: {} for name in topics.all()}
    for table in (WINDOWS_TABLE, BRAND_WINDOWS_TABLE):
        wanted[changelog_topic(app_id, table)] = {"cleanup.policy": "compact"}
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap.split(","), client_id="voc-admin")
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        missing = [name for name in wanted if name not in existing]
        if missing:
            await admin.create_topics(
                [NewTopic(name, partitions, replication, topic_configs=wanted[name]) for name in missing]
            )
        present = [name for name in wanted if name in existing]
        if present:
            for description in await admin.describe_topics(present):
                count = len(description.get("partitions", []))
                if count != partitions:
                    log.warning(
                        "topic %s has %d partitions, settings say %d",
                        description.get("topic"),
                        count,
                        partitions,
                    )
        return missing
    finally:
        await admin.close()
