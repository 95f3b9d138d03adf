"""ClickHouse sinks, in columnar batches: scored feedback where it is scored
(:class:`FeedbackSink`, called by the ingest agents), and agents for alerts, actions, case
events and conversation ends.

A batch body returns only after ClickHouse acknowledged the insert, so Faust commits the
offsets of stored rows only; a batch read again after a crash between insert and commit
leaves out the rows already stored, and so does feedback that a source sent again
(sinks.exactly_once), so each feedback is stored once. A record ClickHouse can never take
goes to the dead-letter topic as ``sink_rejected`` and the rest of its batch is stored
(sinks.record_store).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, cast

import faust
from pydantic import BaseModel

from agents._batch import BatchTimer, batches, publish_outcome
from pipeline.errors import InvalidMessage
from pipeline.runtime.context import WorkerContext
from pipeline.stages import StageOutcome, decode_batch
from schemas.actions import Action
from schemas.alerts import Alert
from schemas.cases import Case
from schemas.conversations import ConversationEnd
from schemas.dead_letters import ReasonCode
from schemas.feedback import ScoredFeedback
from schemas.records import RawRecord, Stored
from sinks.exactly_once import ExactlyOnceInserter, stored_feedback
from sinks.kafka import KafkaPublisher
from sinks.record_store import RecordStore, Rejection, RowBuilder
from sinks.rows import (
    SCORED_FEEDBACK_TABLES,
    action_columns,
    alert_columns,
    case_columns,
    conversation_columns,
)

__all__ = ["FeedbackSink", "register_store_agents"]


@dataclass
class FeedbackSink:
    """Stores scored feedback and its aspect mentions; each row carries the coordinates of
    the raw record the feedback was scored from."""

    ctx: WorkerContext
    store: RecordStore[ScoredFeedback]

    async def store_batch(
        self, batch: Sequence[tuple[RawRecord, Stored[ScoredFeedback]]], outcome: StageOutcome
    ) -> None:
        """Store what ClickHouse does not hold yet; a feedback it can never take becomes a
        dead letter (stage ``sink``, the raw record) in ``outcome``. Waits out outages."""
        ctx = self.ctx
        decoded = list(batch)
        replayed = await stored_feedback(ctx.writer.query, [item.message for _, item in decoded])
        if replayed:
            ctx.metrics.feedback_already_stored.inc(len(replayed))
            decoded = [d for i, d in enumerate(decoded) if i not in replayed]
        rejected = await self.store.store([item for _, item in decoded], int(time.time() * 1000))
        _dead_letter_rejected(ctx, decoded, rejected, outcome)
        stored_at_ms = int(time.time() * 1000)
        latency = ctx.metrics.feedback_latency
        for i, (_, item) in enumerate(decoded):
            if i not in rejected:
                latency.observe(max(0, stored_at_ms - item.message.origin.timestamp_ms) / 1000)


def _dead_letter_rejected(
    ctx: WorkerContext,
    decoded: Sequence[tuple[RawRecord, Any]],
    rejected: dict[int, Rejection],
    outcome: StageOutcome,
) -> None:
    for index, rejection in rejected.items():
        cause = InvalidMessage(cast(ReasonCode, rejection.reason), rejection.message)
        outcome.add_dead(decoded[index][0], "sink", cause, ctx.topics.dlq)


def register_store_agents(app: faust.App, ctx: WorkerContext, publisher: KafkaPublisher) -> FeedbackSink:
    """Add the alert, action, case and conversation sink agents to ``app``; returns the
    feedback sink the ingest agents store with."""
    alerts = app.topic(ctx.topics.alerts, key_type=bytes, value_type=bytes, value_serializer="raw")
    actions = app.topic(ctx.topics.actions, key_type=bytes, value_type=bytes, value_serializer="raw")
    cases = app.topic(ctx.topics.cases, key_type=bytes, value_type=bytes, value_serializer="raw")
    conversations = app.topic(
        ctx.topics.conversations, key_type=bytes, value_type=bytes, value_serializer="raw"
    )
    inserter = ExactlyOnceInserter(ctx.writer.query, ctx.writer.insert, ctx.metrics)

    async def forget_stored_offsets(sender: Any, *args: Any, **kwargs: Any) -> None:
        # While this worker did not own a partition, another may have stored more of it.
        inserter.forget()

    app.on_partitions_revoked.connect(cast(Any, forget_stored_offsets))
    app.on_partitions_assigned.connect(cast(Any, forget_stored_offsets))

    def record_store(builders: list[tuple[str, RowBuilder[Any]]]) -> RecordStore[Any]:
        return RecordStore(builders, inserter, ctx.writer.column_types, ctx.metrics)

    def store_messages(model: type[BaseModel], table: str, build: RowBuilder[Any], stage: str) -> Any:
        """An agent that stores one message type into one table (alerts, actions)."""
        store = record_store([(table, build)])

        async def store_batches(stream: faust.StreamT[bytes]) -> None:
            async for records in batches(stream, ctx, stage):
                timer = BatchTimer(ctx, stage)
                decoded, outcome = decode_batch(records, model, "sink", ctx.topics.dlq)
                rejected = await store.store([item for _, item in decoded], int(time.time() * 1000))
                _dead_letter_rejected(ctx, decoded, rejected, outcome)
                await publish_outcome(publisher, outcome, ctx, stage)
                timer.done()

        return store_batches

    store_alerts = store_messages(Alert, "alerts", alert_columns, "store_alerts")
    store_actions = store_messages(Action, "actions", action_columns, "store_actions")
    store_cases = store_messages(Case, "case_events", case_columns, "store_cases")
    store_conversations = store_messages(
        ConversationEnd, "conversations", conversation_columns, "store_conversations"
    )

    app.agent(actions, name="store-actions")(store_actions)
    app.agent(alerts, name="store-alerts")(store_alerts)
    app.agent(cases, name="store-cases")(store_cases)
    app.agent(conversations, name="store-conversations")(store_conversations)
    return FeedbackSink(ctx, record_store(list(SCORED_FEEDBACK_TABLES)))
