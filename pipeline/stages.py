"""The batch logic of each stage, free of Faust: records in, records and rows out.

Agents call these with the records of one ``take_events`` batch and publish what they
return. Every input record ends up in exactly one of: an output, a dead letter, a skip.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import partial
from typing import TypeVar

from pydantic import BaseModel, ValidationError

from config.alert_rules import AlertRules
from pipeline.dead_letters import DlqPayload, dead_letter, reason_for, with_payload_policy
from pipeline.detection.dedup import FingerprintStore
from pipeline.detection.state import Changes, DetectorState
from pipeline.detection.windows import (
    DetectionResult,
    update_brand_windows,
    update_product_windows,
    window_delta,
)
from pipeline.errors import InvalidMessage
from pipeline.ingest import IngestContext, Ingestor, check_event_time, conversation_end, decode_message
from pipeline.placement import counted_at_source
from pipeline.text.analysis import Analyzer
from schemas.alerts import Alert
from schemas.dead_letters import Stage
from schemas.feedback import Feedback, ScoredFeedback
from schemas.records import OutgoingRecord, RawRecord, Stored
from schemas.windows import WindowDelta

__all__ = [
    "DetectOutcome", "StageOutcome", "decode_batch", "detect_batch", "detect_brand_batch",
    "ingest_batch", "place_scored", "score_batch",
]  # fmt: skip

ModelT = TypeVar("ModelT", bound=BaseModel)


@dataclass
class StageOutcome:
    """Records to produce, dead letters, and counts for the metrics."""

    outputs: list[OutgoingRecord] = field(default_factory=list)
    dead_letters: list[OutgoingRecord] = field(default_factory=list)
    dead_reasons: list[str] = field(default_factory=list)
    skipped: int = 0
    scored: list[tuple[RawRecord, Stored[ScoredFeedback], OutgoingRecord]] = field(default_factory=list)
    """:func:`score_batch` only: per scored feedback, its raw record, the feedback with that
    record's coordinates, and its record among ``outputs``."""

    def to_publish(self, dlq_payload: DlqPayload) -> list[OutgoingRecord]:
        """The outputs, then the dead letters carrying the value ``VOC_DLQ_PAYLOAD`` asks for."""
        return [*self.outputs, *(with_payload_policy(d, dlq_payload) for d in self.dead_letters)]

    def add_dead(self, record: RawRecord, stage: Stage, exc: BaseException, dlq_topic: str) -> None:
        """Route ``record`` to the dead-letter topic because of ``exc``."""
        reason = reason_for(record, stage, exc)
        self.dead_letters.append(dead_letter(record, reason, dlq_topic))
        self.dead_reasons.append(reason.reason)


def _keyed(feedback: Feedback, topic: str) -> OutgoingRecord:
    return OutgoingRecord(topic, feedback.partition_key.encode(), feedback.model_dump_json().encode())


def _ingested(
    record: RawRecord, ingestor: Ingestor, ctx: IngestContext, now: datetime, outcome: StageOutcome, dlq: str
) -> Feedback | None:
    """``record`` as Feedback; None where it became a dead letter or a skip (counted)."""
    try:
        feedback = ingestor(record, ctx)
        if feedback is not None:
            check_event_time(feedback, ctx, now)
    except Exception as exc:  # noqa: BLE001 - whatever fails, the record is kept in the DLQ
        outcome.add_dead(record, "ingest", exc, dlq)
        return None
    if feedback is None:
        outcome.skipped += 1
    return feedback


def ingest_batch(
    records: Sequence[RawRecord],
    ingestor: Ingestor,
    ctx: IngestContext,
    out_topic: str,
    dlq: str,
    now: datetime | None = None,
) -> StageOutcome:
    """Raw source records → Feedback on ``out_topic`` keyed by brand|product; event times are
    checked against the window around ``now`` (the batch's wall clock by default). The
    worker runs :func:`score_batch`; this is ingest alone, for tools and tests."""
    now = now or datetime.now(UTC)
    outcome = StageOutcome()
    for record in records:
        feedback = _ingested(record, ingestor, ctx, now, outcome, dlq)
        if feedback is not None:
            outcome.outputs.append(_keyed(feedback, out_topic))
    return outcome


def _decode(record: RawRecord, model: type[ModelT]) -> ModelT:
    try:
        return model.model_validate_json(record.value)
    except ValidationError as exc:
        raise InvalidMessage("schema_invalid", f"{model.__name__}: {exc}", exc) from exc


def score_batch(
    records: Sequence[RawRecord],
    ingestor: Ingestor,
    ctx: IngestContext,
    analyzer: Analyzer,
    out_topic: str,
    dlq: str,
    now: datetime | None = None,
    conversations_topic: str | None = None,
) -> StageOutcome:
    """Raw source records → ScoredFeedback on ``out_topic`` keyed by brand|product: ingest
    (validate, normalize, mask, check the event time against ``now``) and analyze in one pass,
    so the feedback is never encoded to JSON and decoded again between the two.

    A record that fails ingest is dead-lettered with stage ``ingest``, one the analyzer fails
    on with stage ``analyze``; both carry the raw record, so a replay goes to the raw topic.
    With ``conversations_topic`` (chats), a turn that closes its conversation also yields its
    :class:`ConversationEnd` there, keyed by brand, whatever its role.
    """
    now = now or datetime.now(UTC)
    outcome = StageOutcome()
    for record in records:
        dead_before = len(outcome.dead_letters)
        feedback = _ingested(record, ingestor, ctx, now, outcome, dlq)
        if conversations_topic is not None and len(outcome.dead_letters) == dead_before:
            try:
                ended = conversation_end(record, ctx, now)
            except Exception as exc:  # noqa: BLE001 - an agent's closing turn is checked here first
                outcome.add_dead(record, "ingest", exc, dlq)
                continue
            if ended is not None:
                outcome.outputs.append(
                    OutgoingRecord(
                        conversations_topic, ended.brand.encode(), ended.model_dump_json().encode()
                    )
                )
        if feedback is None:
            continue
        try:
            scored = analyzer.score(feedback)
        except Exception as exc:  # noqa: BLE001
            outcome.add_dead(record, "analyze", exc, dlq)
            continue
        output = _keyed(scored, out_topic)
        outcome.outputs.append(output)
        outcome.scored.append((record, Stored(scored, record.topic, record.partition, record.offset), output))
    return outcome


def place_scored(
    outcome: StageOutcome, raw_partitions: int | None, partitions: int, repartition_topic: str
) -> tuple[list[Stored[ScoredFeedback]], list[OutgoingRecord]]:
    """Split :func:`score_batch`'s feedback into what the worker that scored it counts (its
    raw record is on its product's partition, pipeline.placement) and the records that move
    it to that partition on ``repartition_topic``. ``raw_partitions`` is the raw topic's
    partition count (None: not known yet), ``partitions`` the tables'."""
    here: list[Stored[ScoredFeedback]] = []
    moved: list[OutgoingRecord] = []
    for _, item, output in outcome.scored:
        if output.key is not None and counted_at_source(
            output.key, item.partition, raw_partitions, partitions
        ):
            here.append(item)
        else:
            moved.append(OutgoingRecord(repartition_topic, output.key, output.value))
    return here, moved


def decode_batch(
    records: Sequence[RawRecord], model: type[ModelT], stage: Stage, dlq: str, max_bytes: int | None = None
) -> tuple[list[tuple[RawRecord, Stored[ModelT]]], StageOutcome]:
    """Decode records; the undecodable ones become dead letters.

    With ``max_bytes`` the records come from outside (an input topic such as case updates)
    and get the input checks, with their reasons: size, UTF-8, JSON, then the schema
    (pipeline.ingest.decode_message). Without, they are the pipeline's own messages.
    """
    outcome = StageOutcome()
    decoded: list[tuple[RawRecord, Stored[ModelT]]] = []
    for record in records:
        try:
            message = (
                _decode(record, model) if max_bytes is None else decode_message(record, model, max_bytes)
            )
        except Exception as exc:  # noqa: BLE001
            outcome.add_dead(record, stage, exc, dlq)
            continue
        decoded.append((record, Stored(message, record.topic, record.partition, record.offset)))
    return decoded, outcome


@dataclass
class DetectOutcome:
    """New window states per table key, alerts to publish, late events."""

    states: dict[bytes, tuple[DetectorState, Changes]] = field(default_factory=dict)
    """Per table key: the new state and the parts of it the batch changed."""
    alerts: list[Alert] = field(default_factory=list)
    late_events: int = 0
    replayed_events: int = 0
    duplicate_events: int = 0
    suppressed: dict[tuple[str, str], int] = field(default_factory=dict)
    """(rule, reason) → alerts raised but not sent."""
    deltas: list[WindowDelta] = field(default_factory=list)
    """What each product batch adds to its brand's windows (product level only)."""
    counted: dict[bytes, tuple[dict[str, float], float]] = field(default_factory=dict)
    """Per product key: the fingerprints counted and the watermark (product level only)."""

    def add(self, key: bytes, result: DetectionResult) -> None:
        """Take one key's result in."""
        self.states[key] = (result.state, result.changes)
        self.alerts.extend(result.alerts)
        self.late_events += result.late_events
        self.replayed_events += result.replayed_events
        self.duplicate_events += result.duplicate_events
        for reason, count in result.suppressed.items():
            self.suppressed[reason] = self.suppressed.get(reason, 0) + count


def detect_batch(
    batch: Sequence[tuple[bytes, Stored[ScoredFeedback]]],
    states: Mapping[bytes, DetectorState | None],
    rules: AlertRules,
    now: datetime,
    fingerprints: FingerprintStore,
) -> DetectOutcome:
    """Update each product's windows once with all of its feedback in the batch.

    ``batch`` pairs each feedback (with the coordinates of its scored record) with its Kafka
    key (the table key); ``states`` holds the current state of each key in the batch;
    ``fingerprints`` says what each product counted before (read only here: the outcome's
    ``counted`` is for the caller to add once the batch is through).
    """
    by_key: dict[bytes, list[Stored[ScoredFeedback]]] = defaultdict(list)
    for key, item in batch:
        by_key[key].append(item)
    outcome = DetectOutcome()
    for key, items in by_key.items():
        result = update_product_windows(
            states.get(key), [i.message for i in items], rules, now, partial(fingerprints.last_counted, key)
        )
        outcome.add(key, result)
        outcome.counted[key] = (result.counted, result.watermark)
        if result.brand_windows:
            last = items[-1]
            source = f"{last.topic}|{last.partition}"
            first = items[0].message
            outcome.deltas.append(window_delta(first.brand, first.product_sku, source, last.offset, result))
    return outcome


def detect_brand_batch(
    batch: Sequence[WindowDelta],
    states: Mapping[bytes, DetectorState | None],
    rules: AlertRules,
    now: datetime,
) -> DetectOutcome:
    """Merge each brand's window deltas once per batch and evaluate brand and channel rules."""
    by_brand: dict[bytes, list[WindowDelta]] = defaultdict(list)
    for delta in batch:
        by_brand[delta.brand.encode()].append(delta)
    outcome = DetectOutcome()
    for key, deltas in by_brand.items():
        outcome.add(key, update_brand_windows(states.get(key), deltas, rules, now))
    return outcome
