"""Sink agents: scored feedback, alerts, actions and case events → ClickHouse, in columnar batches.

The batch body returns only after ClickHouse acknowledged the insert, so Faust commits the
offsets of stored rows only; a batch read again after a crash between insert and commit
leaves out the rows already stored, and so does feedback that a replayed upstream stage
published again (sinks.exactly_once), so each feedback is stored once. A record ClickHouse
can never take goes to the dead-letter topic as ``sink_rejected`` and the rest of its batch
is stored (sinks.record_store).
"""

from __future__ import annotations

import time
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
from schemas.records import RawRecord
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

__all__ = ["register_store_agents"]


def register_store_agents(app: faust.App, ctx: WorkerContext, publisher: KafkaPublisher) -> None:
    """Add the feedback, alert, action and case sink agents to ``app``."""
    scored = app.topic(ctx.topics.scored, key_type=bytes, value_type=bytes, value_serializer="raw")
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
    latency = ctx.metrics.feedback_latency

    def record_store(builders: list[tuple[str, RowBuilder[Any]]]) -> RecordStore[Any]:
        return RecordStore(builders, inserter, ctx.writer.column_types, ctx.metrics)

    def dead_letter_rejected(
        decoded: list[tuple[RawRecord, Any]], rejected: dict[int, Rejection], outcome: StageOutcome
    ) -> None:
        for index, rejection in rejected.items():
            cause = InvalidMessage(cast(ReasonCode, rejection.reason), rejection.message)
            outcome.add_dead(decoded[index][0], "sink", cause, ctx.topics.dlq)

    feedback_store = record_store(list(SCORED_FEEDBACK_TABLES))

    async def store_feedback(stream: faust.StreamT[bytes]) -> None:
        stage = "store_feedback"
        async for records in batches(stream, ctx, stage):
            timer = BatchTimer(ctx, stage)
            decoded, outcome = decode_batch(records, ScoredFeedback, "sink", ctx.topics.dlq)
            replayed = await stored_feedback(ctx.writer.query, [item.message for _, item in decoded])
            if replayed:
                ctx.metrics.feedback_already_stored.inc(len(replayed))
                decoded = [d for i, d in enumerate(decoded) if i not in replayed]
            rejected = await feedback_store.store([item for _, item in decoded], int(time.time() * 1000))
            dead_letter_rejected(decoded, rejected, outcome)
            stored_at_ms = int(time.time() * 1000)
            for i, (_, item) in enumerate(decoded):
                if i not in rejected:
                    latency.observe(max(0, stored_at_ms - item.message.origin.timestamp_ms) / 1000)
            await publish_outcome(publisher, outcome, ctx, stage)
            timer.done()

    def store_messages(model: type[BaseModel], table: str, build: RowBuilder[Any], stage: str) -> Any:
        """An agent that stores one message type into one table (alerts, actions)."""
        store = record_store([(table, build)])

        async def store_batches(stream: faust.StreamT[bytes]) -> None:
            async for records in batches(stream, ctx, stage):
                timer = BatchTimer(ctx, stage)
                decoded, outcome = decode_batch(records, model, "sink", ctx.topics.dlq)
                rejected = await store.store([item for _, item in decoded], int(time.time() * 1000))
                dead_letter_rejected(decoded, rejected, outcome)
                await publish_outcome(publisher, outcome, ctx, stage)
                timer.done()

        return store_batches

    store_alerts = store_messages(Alert, "alerts", alert_columns, "store_alerts")
    store_actions = store_messages(Action, "actions", action_columns, "store_actions")
    store_cases = store_messages(Case, "case_events", case_columns, "store_cases")
    store_conversations = store_messages(
        ConversationEnd, "conversations", conversation_columns, "store_conversations"
    )

    app.agent(scored, name="store-feedback")(store_feedback)
    app.agent(actions, name="store-actions")(store_actions)
    app.agent(alerts, name="store-alerts")(store_alerts)
    app.agent(cases, name="store-cases")(store_cases)
    app.agent(conversations, name="store-conversations")(store_conversations)
