r"""Cases agent: a case per critical alert, the front line's updates, SLA breaches.

The cases live in a Faust table partitioned by brand, like the two topics they come from
(``{ns}.alerts`` and ``{ns}.case_updates``, both keyed by brand), so a worker that takes over a
brand's partition recovers its cases. Keys: ``brand\x1fcase\x1f<case_id>`` → the case (JSON),
``brand\x1fcustomer\x1f<customer_ref>`` → the customer's latest case id. Every change is
published on ``{ns}.cases``; an SLA breach also raises an ``sla_breached`` alert. A timer on
each worker finds the breaches of the partitions it owns: detected by the stream, not by a
query. One lock keeps the agents and the timer from interleaving on a case.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime
from typing import Any

import faust

from agents._batch import BatchTimer, batches, publish_outcome
from pipeline.cases import (
    CaseRejected,
    apply_update,
    case_for_alert,
    case_id_for,
    due_breach,
    expiry,
    sla_breach_alert,
)
from pipeline.detection.dedup import KEY_SEPARATOR
from pipeline.errors import InvalidMessage
from pipeline.runtime.context import WorkerContext
from pipeline.runtime.faust_tables import CoPartitionedTable, partition_of
from pipeline.runtime.topics import CASES_TABLE
from pipeline.stages import decode_batch
from schemas.alerts import Alert
from schemas.cases import Case, CaseUpdate
from schemas.dead_letters import Stage
from schemas.records import OutgoingRecord
from sinks.kafka import KafkaPublisher

__all__ = ["register_case_agents"]

log = logging.getLogger(__name__)

_STAGE: Stage = "cases"
_CASE = b"case"
_CUSTOMER = b"customer"


class CaseTable:
    """The cases of the brands a worker owns, over a Faust table (or a dict in tests)."""

    def __init__(self, table: Any):
        self._table = table

    def case(self, brand: str, case_id: str) -> Case | None:
        raw = self._table.get(_key(brand, _CASE, case_id))
        return None if raw is None else Case.model_validate_json(raw)

    def customer_case(self, brand: str, customer_ref: str) -> Case | None:
        if not customer_ref:
            return None
        case_id = self._table.get(_key(brand, _CUSTOMER, customer_ref))
        return None if case_id is None else self.case(brand, bytes(case_id).decode())

    def save(self, case: Case) -> None:
        self._table[_key(case.brand, _CASE, case.case_id)] = case.model_dump_json().encode()
        if case.customer_ref:
            self._table[_key(case.brand, _CUSTOMER, case.customer_ref)] = case.case_id.encode()

    def forget(self, case: Case) -> None:
        self._table.pop(_key(case.brand, _CASE, case.case_id), None)
        customer = _key(case.brand, _CUSTOMER, case.customer_ref)
        if case.customer_ref and self._table.get(customer) == case.case_id.encode():
            self._table.pop(customer, None)

    def cases(self, partitions: set[int] | None, partition_count: int) -> list[Case]:
        """Every case held, or only those of ``partitions``."""
        found = []
        for key, raw in list(self._table.items()):
            parts = bytes(key).split(KEY_SEPARATOR)
            if len(parts) != 3 or parts[1] != _CASE:
                continue
            if partitions is not None and partition_of(bytes(key), partition_count) not in partitions:
                continue
            found.append(Case.model_validate_json(raw))
        return found


def _key(brand: str, kind: bytes, rest: str) -> bytes:
    return KEY_SEPARATOR.join((brand.encode(), kind, rest.encode()))


def register_case_agents(app: faust.App, ctx: WorkerContext, publisher: KafkaPublisher) -> None:
    """Add the cases table, the agents on alerts and case updates, and the SLA timer."""
    alerts_topic = app.topic(ctx.topics.alerts, key_type=bytes, value_type=bytes, value_serializer="raw")
    updates_topic = app.topic(
        ctx.topics.case_updates, key_type=bytes, value_type=bytes, value_serializer="raw"
    )
    partitions = ctx.settings.topic_partitions
    table = app.tables.add(
        CoPartitionedTable(
            app, name=CASES_TABLE, default=None, key_type=bytes, value_type=bytes,
            partitions=partitions, beacon=app.tables.beacon,
        )
    )  # fmt: skip
    cases = CaseTable(table)
    rules = ctx.case_rules
    lock = asyncio.Lock()

    def case_record(case: Case) -> OutgoingRecord:
        return OutgoingRecord(ctx.topics.cases, case.brand.encode(), case.model_dump_json().encode())

    def alert_record(alert: Alert) -> OutgoingRecord:
        return OutgoingRecord(ctx.topics.alerts, alert.scope.brand.encode(), alert.model_dump_json().encode())

    async def open_cases(stream: faust.StreamT[bytes]) -> None:
        stage = "open_cases"
        async for records in batches(stream, ctx, stage):
            timer = BatchTimer(ctx, stage)
            decoded, outcome = decode_batch(records, Alert, _STAGE, ctx.topics.dlq)
            now = datetime.now(UTC)
            changed: list[Case] = []
            async with lock:
                for _, item in decoded:
                    alert = item.message
                    if alert.kind != "critical_feedback":
                        continue
                    # Seen before (a batch read again after a crash): the state may hold it
                    # while its event never left, so the case as it stands is published again;
                    # consumers keep the highest version, ClickHouse one row per version.
                    brand = alert.scope.brand
                    seen = cases.case(brand, case_id_for(brand, alert.customer_ref, alert.alert_id))
                    current = cases.customer_case(brand, alert.customer_ref)
                    if seen is None and current is not None and alert.alert_id in current.alert_ids:
                        seen = current
                    if seen is not None:
                        changed.append(seen)
                        continue
                    case = case_for_alert(alert, current, rules, now)
                    if case is not None:
                        cases.save(case)
                        changed.append(case)
                await _publish(outcome, changed, [])
            timer.done()

    async def update_cases(stream: faust.StreamT[bytes]) -> None:
        stage = "update_cases"
        async for records in batches(stream, ctx, stage):
            timer = BatchTimer(ctx, stage)
            decoded, outcome = decode_batch(
                records, CaseUpdate, _STAGE, ctx.topics.dlq, ctx.settings.max_message_bytes
            )
            changed: list[Case] = []
            async with lock:
                for record, item in decoded:
                    update = item.message
                    try:
                        if record.key != update.brand.encode():
                            # Keyed otherwise, it may have reached a partition that does not
                            # hold the case: refused rather than judged on the wrong state.
                            raise CaseRejected(f"case updates are keyed by brand: expected {update.brand!r}")
                        expected = partition_of(record.key, partitions)
                        if record.partition != expected:
                            raise CaseRejected(
                                f"keyed by brand but on partition {record.partition}, not {expected}: "
                                "produce with the Kafka default (murmur2) partitioner (librdkafka: "
                                "partitioner=murmur2_random)"
                            )
                        current = cases.case(update.brand, update.case_id)
                        case = apply_update(current, update, rules)
                        if case is None:  # delivered again: publish the case as it stands
                            case = current
                    except CaseRejected as rejected:
                        outcome.add_dead(
                            record,
                            _STAGE,
                            InvalidMessage("case_update_rejected", str(rejected)),
                            ctx.topics.dlq,
                        )
                        continue
                    if case is not None:
                        if case is not current:
                            cases.save(case)
                        changed.append(case)
                await _publish(outcome, changed, [])
            timer.done()

    async def _publish(outcome: Any, changed: list[Case], alerts: list[Alert]) -> None:
        extra = [case_record(c) for c in changed] + [alert_record(a) for a in alerts]
        await publish_outcome(publisher, outcome, ctx, _STAGE, extra=extra)
        # The table's changelog writes are buffered: durable before the batch is acked.
        await app.producer.flush()
        for case in changed:
            ctx.metrics.case_changes.labels(case.change, case.severity).inc()

    def owned_partitions() -> set[int]:
        # Standby copies of other workers' partitions are in the table too: leave them alone.
        assigned = app.assignor.assigned_actives()
        return {tp.partition for tp in assigned if tp.topic == ctx.topics.case_updates}

    @app.timer(rules.sla_check_seconds)  # type: ignore[untyped-decorator]
    async def watch_slas() -> None:
        try:
            await check_slas()
        except Exception as exc:  # noqa: BLE001 - the timer must never stop the worker
            log.warning("SLA check failed (%r); trying again next time", exc)

    async def check_slas() -> None:
        # While partitions move or the table is recovered, the state may be behind its
        # changelog: a case acknowledged but not yet restored would be breached by mistake.
        if app.rebalancing or app.in_recovery:
            return
        owned = owned_partitions()
        if not owned:
            return
        now = datetime.now(UTC)
        async with lock:
            changed: list[Case] = []
            alerts: list[Alert] = []
            forgotten: list[Case] = []
            for case in cases.cases(owned, partitions):
                if (breached := due_breach(case, now)) is not None:
                    changed.append(breached)
                    alerts.append(sla_breach_alert(breached, rules, now))
                elif (leaving := expiry(case, rules, now)) is not None:
                    forgotten.append(case)
                    if leaving.final is not None:
                        changed.append(leaving.final)
            if not changed and not forgotten:
                return
            # Published before the state changes: if the worker dies in between, the next
            # check finds the same breach and publishes it again (same alert id), never none.
            await publisher.publish([*(case_record(c) for c in changed), *(alert_record(a) for a in alerts)])
            for case in changed:
                if case.status != "expired":
                    cases.save(case)
            for case in forgotten:
                cases.forget(case)
            await app.producer.flush()
        for case in changed:
            ctx.metrics.case_changes.labels(case.change, case.severity).inc()
        for alert in alerts:
            ctx.metrics.alerts_emitted.labels(alert.rule, alert.severity).inc()

    app.agent(alerts_topic, name="open-cases")(open_cases)
    app.agent(updates_topic, name="update-cases")(update_cases)
