"""Column layout of the ClickHouse tables: messages → columnar batches. Pure."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from schemas.actions import Action
from schemas.alerts import Alert
from schemas.cases import Case
from schemas.conversations import ConversationEnd
from schemas.feedback import ScoredFeedback
from schemas.records import Columns, Stored

__all__ = [
    "ACTION_COLUMNS",
    "ALERT_COLUMNS",
    "CASE_COLUMNS",
    "CONVERSATION_COLUMNS",
    "FEEDBACK_COLUMNS",
    "MENTION_COLUMNS",
    "SCORED_FEEDBACK_TABLES",
    "action_columns",
    "alert_columns",
    "case_columns",
    "conversation_columns",
    "feedback_columns",
    "mention_columns",
]

FEEDBACK_COLUMNS = (
    "feedback_id", "source", "channel", "brand", "product_sku", "product_name", "variant",
    "customer_ref", "store_id", "agent_id", "event_time", "text", "polarity", "score",
    "rating", "nps", "csat", "engagement", "aspect_count", "taxonomy_version", "model_version",
    "origin_topic", "origin_partition", "origin_offset", "produced_at_ms", "kafka_topic", "kafka_partition",
    "kafka_offset", "stored_at_ms",
)  # fmt: skip
MENTION_COLUMNS = (
    "feedback_id", "source", "channel", "brand", "product_sku", "variant", "event_time",
    "aspect", "aspect_l1", "aspect_l2", "polarity", "score", "opinion_words", "evidence",
    "taxonomy_version", "kafka_topic", "kafka_partition", "kafka_offset", "stored_at_ms",
)  # fmt: skip
ALERT_COLUMNS = (
    "alert_id", "kind", "rule", "severity", "brand", "product", "aspect", "channel", "metric", "observed",
    "expected", "band_low", "band_high", "mentions", "window_start", "window_end",
    "sample_feedback_ids", "verbatims", "reason", "resolves", "created_at", "routing_key",
    "kafka_topic", "kafka_partition", "kafka_offset", "stored_at_ms",
)  # fmt: skip

CASE_COLUMNS = (
    "case_id", "version", "change", "brand", "product", "customer_ref", "route", "severity",
    "reason", "alert_ids", "feedback_ids", "verbatims", "complaints", "first_complaint_at",
    "last_complaint_at", "status", "opened_at", "sla_due_at", "acknowledged_at", "first_response_at",
    "resolved_at",
    "outcome", "sla_breached", "reopen_count", "updated_at", "updated_by", "note",
    "kafka_topic", "kafka_partition", "kafka_offset", "stored_at_ms",
)  # fmt: skip
CONVERSATION_COLUMNS = (
    "conversation_id", "brand", "product_sku", "channel", "customer_ref", "store_id", "agent_id",
    "outcome", "ended_at", "closing_turn", "kafka_topic", "kafka_partition", "kafka_offset", "stored_at_ms",
)  # fmt: skip
ACTION_COLUMNS = (
    "action_id", "brand", "product", "aspect", "taken_at", "description", "actor",
    "target_negative_share", "kafka_topic", "kafka_partition", "kafka_offset", "stored_at_ms",
)  # fmt: skip


def _columnar(names: Sequence[str], rows: Iterable[tuple[Any, ...]]) -> Columns:
    """Rows (values in ``names`` order) as one list per column."""
    cols: Columns = {name: [] for name in names}
    for row in rows:
        for name, value in zip(names, row, strict=True):
            cols[name].append(value)
    return cols


def _lineage(item: Stored[Any], stored_at_ms: int) -> tuple[Any, ...]:
    """The columns every table ends with: where the sink read the record, and when it stored it."""
    return (item.topic, item.partition, item.offset, stored_at_ms)


def feedback_columns(batch: Sequence[Stored[ScoredFeedback]], stored_at_ms: int) -> Columns:
    """One ``feedback`` row per scored feedback."""
    rows = []
    for item in batch:
        f = item.message
        rows.append((
            f.feedback_id, f.source, f.channel, f.brand, f.product_sku, f.product_name,
            f.variant, f.customer_ref, f.store_id, f.agent_id, f.event_time, f.text,
            f.polarity, f.score, f.rating, f.nps, f.csat, f.engagement, len(f.aspects), f.taxonomy_version,
            f.model_version, f.origin.topic, f.origin.partition, f.origin.offset,
            f.origin.timestamp_ms, *_lineage(item, stored_at_ms),
        ))  # fmt: skip
    return _columnar(FEEDBACK_COLUMNS, rows)


def mention_columns(batch: Sequence[Stored[ScoredFeedback]], stored_at_ms: int) -> Columns:
    """One ``aspect_mentions`` row per feedback × aspect path; levels split for GROUP BY."""
    rows = []
    for item in batch:
        f = item.message
        for m in f.aspects:
            levels = m.aspect.split("/")
            rows.append((
                f.feedback_id, f.source, f.channel, f.brand, f.product_sku, f.variant,
                f.event_time, m.aspect, levels[0], levels[1] if len(levels) > 1 else "",
                m.polarity, m.score, list(m.opinion_words), m.evidence, f.taxonomy_version,
                *_lineage(item, stored_at_ms),
            ))  # fmt: skip
    return _columnar(MENTION_COLUMNS, rows)


def alert_columns(batch: Sequence[Stored[Alert]], stored_at_ms: int) -> Columns:
    """One ``alerts`` row per alert event."""
    rows = []
    for item in batch:
        a = item.message
        rows.append((
            a.alert_id, a.kind, a.rule, a.severity, a.scope.brand, a.scope.product,
            a.scope.aspect, a.scope.channel, a.metric, a.observed, a.expected, a.band_low, a.band_high,
            a.mentions, a.window_start, a.window_end, list(a.sample_feedback_ids),
            list(a.verbatims), a.reason, a.resolves or "", a.created_at, a.routing_key,
            *_lineage(item, stored_at_ms),
        ))  # fmt: skip
    return _columnar(ALERT_COLUMNS, rows)


def case_columns(batch: Sequence[Stored[Case]], stored_at_ms: int) -> Columns:
    """One ``case_events`` row per case event (the ``cases`` view keeps each case's latest)."""
    rows = []
    for item in batch:
        c = item.message
        rows.append((
            c.case_id, c.version, c.change, c.brand, c.product, c.customer_ref, c.route, c.severity,
            c.reason, list(c.alert_ids), list(c.feedback_ids), list(c.verbatims), c.complaints,
            c.first_complaint_at, c.last_complaint_at, c.status, c.opened_at, c.sla_due_at, c.acknowledged_at,
            c.first_response_at, c.resolved_at, c.outcome, int(c.sla_breached), c.reopen_count,
            c.updated_at, c.updated_by, c.note, *_lineage(item, stored_at_ms),
        ))  # fmt: skip
    return _columnar(CASE_COLUMNS, rows)


def conversation_columns(batch: Sequence[Stored[ConversationEnd]], stored_at_ms: int) -> Columns:
    """One ``conversations`` row per conversation end."""
    rows = [
        (
            c.conversation_id, c.brand, c.product_sku, c.channel, c.customer_ref, c.store_id, c.agent_id,
            c.outcome, c.ended_at, c.closing_turn, *_lineage(item, stored_at_ms),
        )
        for item in batch
        for c in (item.message,)
    ]  # fmt: skip
    return _columnar(CONVERSATION_COLUMNS, rows)


def action_columns(batch: Sequence[Stored[Action]], stored_at_ms: int) -> Columns:
    """One ``actions`` row per action."""
    rows = [
        (
            a.action_id, a.brand, a.product, a.aspect, a.taken_at, a.description, a.actor,
            a.target_negative_share, *_lineage(item, stored_at_ms),
        )
        for item in batch
        for a in (item.message,)
    ]  # fmt: skip
    return _columnar(ACTION_COLUMNS, rows)


#: The tables a scored feedback is stored in, in insert order: mentions first, since a
#: feedback row is the marker that its whole record is stored.
SCORED_FEEDBACK_TABLES = (("aspect_mentions", mention_columns), ("feedback", feedback_columns))
