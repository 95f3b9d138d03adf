"""Cases: open one per critical alert, apply the front line's updates, find SLA breaches.

Pure functions over :class:`schemas.cases.Case` values; the cases agent (agents/cases.py)
keeps the cases in a Faust table and calls these. Every function returns the case's next
state (``version`` + 1, ``change`` saying what happened) or nothing when nothing changes, so a
replayed alert or update leaves the case as it was.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from config.case_rules import CaseRules
from pipeline.detection.alert_ids import hashed_id
from pipeline.text.normalize import mask_pii
from schemas.alerts import Alert, AlertScope
from schemas.cases import Case, CaseStatus, CaseUpdate

__all__ = [
    "OPEN_STATUSES",
    "CaseRejected",
    "apply_update",
    "case_for_alert",
    "case_id_for",
    "update_key",
    "due_breach",
    "expiry",
    "sla_breach_alert",
]

MAX_LINKED = 20
"""Complaints kept on one case (ids, verbatims); later ones still count as linked."""

OPEN_STATUSES: frozenset[CaseStatus] = frozenset({"open", "reopened"})
"""Waiting for a first response: what the SLA watches."""

# Which updates each status takes. A service may contact before it acknowledges; resolving
# is allowed from any live status; only a resolved case can be reopened by hand.
_ALLOWED: dict[str, frozenset[CaseStatus]] = {
    "acknowledged": frozenset({"open", "reopened"}),
    "contacted": frozenset({"open", "reopened", "acknowledged", "contacted"}),
    "resolved": frozenset({"open", "reopened", "acknowledged", "contacted"}),
    "reopened": frozenset({"resolved"}),
}


class CaseRejected(ValueError):
    """A valid update this case cannot take; the message says why (for the dead letter)."""


def update_key(update: CaseUpdate) -> str:
    """What makes an update the same update: its kind, time and author."""
    return hashed_id(f"{update.kind}|{update.at.isoformat()}|{update.by}")[:16]


def case_id_for(brand: str, customer_ref: str, alert_id: str) -> str:
    """The id of the case an alert opens: the same alert, the same id."""
    return "case-" + hashed_id(f"{brand}|{customer_ref}|{alert_id}")[:24]


def case_for_alert(alert: Alert, current: Case | None, rules: CaseRules, now: datetime) -> Case | None:
    """The case a critical alert opens, or its customer's current case with the complaint
    added (open) or reopened (resolved within the repeat window); None if the alert is not a
    critical single feedback or the case already has it (a replay).

    ``current`` is the latest case of the alert's customer for its brand, if any.
    """
    if alert.kind != "critical_feedback":
        return None
    if current is not None and alert.alert_id in current.alert_ids:
        return None
    repeat = current is not None and alert.window_start - current.last_complaint_at <= timedelta(
        days=rules.repeat_window_days
    )
    if current is not None and repeat and current.status != "expired":
        linked = _add_complaint(current, alert)
        if current.status == "resolved":
            return linked.model_copy(
                update={
                    "change": "reopened",
                    "status": "reopened",
                    "reopen_count": current.reopen_count + 1,
                    "sla_due_at": now + _sla(rules, current.severity, current.route),
                    "acknowledged_at": None,
                    "first_response_at": None,
                    "resolved_at": None,
                    "outcome": "",
                    "sla_breached": False,
                    "updated_at": now,
                    "updated_by": "pipeline",
                    "note": "the customer complained again after resolution",
                }
            )
        return linked.model_copy(update={"change": "linked", "updated_at": now, "updated_by": "pipeline"})
    customer = alert.customer_ref
    return Case(
        case_id=case_id_for(alert.scope.brand, customer, alert.alert_id),
        version=1,
        change="opened",
        brand=alert.scope.brand,
        product=alert.scope.product,
        customer_ref=customer,
        route=alert.routing_key,
        severity=alert.severity,
        reason=alert.reason,
        alert_ids=(alert.alert_id,),
        feedback_ids=alert.sample_feedback_ids[:1],
        verbatims=alert.verbatims[:1],
        status="open",
        opened_at=now,
        first_complaint_at=alert.window_start,
        last_complaint_at=alert.window_start,
        sla_due_at=now + _sla(rules, alert.severity, alert.routing_key),
        updated_at=now,
        updated_by="pipeline",
    )


def apply_update(case: Case | None, update: CaseUpdate, rules: CaseRules) -> Case | None:
    """The case after a service's update; None for the same update delivered again.

    Raises CaseRejected for an unknown case, another brand's case, or an update the case's
    status does not take.
    """
    if case is None:
        raise CaseRejected(f"no case {update.case_id} of brand {update.brand!r} on this partition")
    if case.brand != update.brand:
        raise CaseRejected(f"case {case.case_id} is of brand {case.brand!r}, not {update.brand!r}")
    key = update_key(update)
    if key in case.applied_updates:
        return None
    if case.status not in _ALLOWED[update.kind]:
        raise CaseRejected(f"case {case.case_id} is {case.status}: it cannot be {update.kind}")
    changes: dict[str, object] = {
        "change": update.kind,
        "status": update.kind,
        "updated_at": update.at,
        "updated_by": update.by,
        # Free text from a service may name the customer: masked like every stored text.
        "note": mask_pii(update.note),
    }
    if update.kind in ("acknowledged", "contacted"):
        changes["first_response_at"] = case.first_response_at or update.at
        if update.kind == "acknowledged":
            changes["acknowledged_at"] = update.at
    elif update.kind == "resolved":
        changes |= {"resolved_at": update.at, "outcome": update.outcome}
        changes["first_response_at"] = case.first_response_at or update.at
    else:  # reopened by a service
        changes |= {
            "reopen_count": case.reopen_count + 1,
            "sla_due_at": update.at + _sla(rules, case.severity, case.route),
            "acknowledged_at": None,
            "first_response_at": None,
            "resolved_at": None,
            "outcome": "",
            "sla_breached": False,
        }
    applied = (*case.applied_updates, key)[-MAX_LINKED:]
    return case.model_copy(update={**changes, "version": case.version + 1, "applied_updates": applied})


def due_breach(case: Case, now: datetime) -> Case | None:
    """The case marked as past its SLA, if it waits for a first response beyond it."""
    if case.status not in OPEN_STATUSES or case.sla_breached or now < case.sla_due_at:
        return None
    return case.model_copy(
        update={
            "change": "sla_breached",
            "sla_breached": True,
            "version": case.version + 1,
            "updated_at": now,
            "updated_by": "pipeline",
            "note": "",
        }
    )


@dataclass(frozen=True, slots=True)
class Expiry:
    """What to do with a case that left its useful life: publish ``final`` (or nothing), forget it."""

    final: Case | None


def expiry(case: Case, rules: CaseRules, now: datetime) -> Expiry | None:
    """Whether the stream's state may forget ``case``: a resolved case once its repeat
    window is over (nothing to publish), any other once untouched for the expiry period
    (published as ``expired``)."""
    if case.status == "resolved":
        last = max(case.resolved_at or case.updated_at, case.last_complaint_at)
        return Expiry(None) if now - last > timedelta(days=rules.repeat_window_days) else None
    if now - case.updated_at <= timedelta(days=rules.expiry_days):
        return None
    return Expiry(
        case.model_copy(
            update={
                "change": "expired",
                "status": "expired",
                "version": case.version + 1,
                "updated_at": now,
                "updated_by": "pipeline",
                "note": f"untouched for {rules.expiry_days:g} days",
            }
        )
    )


def sla_breach_alert(case: Case, rules: CaseRules, now: datetime) -> Alert:
    """The ``sla_breached`` alert for a case nobody acknowledged in time, routed like it."""
    sla_minutes = rules.sla_minutes_for(case.severity, case.route)
    waited = (now - case.opened_at).total_seconds() / 60
    return Alert(
        alert_id=hashed_id(f"sla_breached|{case.case_id}|{case.reopen_count}"),
        kind="sla_breached",
        rule="case_sla",
        severity=case.severity,
        scope=AlertScope(brand=case.brand, product=case.product),
        metric="minutes_without_response",
        observed=round(waited, 1),
        expected=sla_minutes,
        mentions=len(case.feedback_ids),
        window_start=case.opened_at,
        window_end=case.sla_due_at,
        sample_feedback_ids=case.feedback_ids[:5],
        verbatims=case.verbatims[:5],
        reason=f"case {case.case_id}: no response {waited:.0f} min after opening (SLA {sla_minutes:g} min)",
        created_at=now,
        routing_key=case.route,
        customer_ref=case.customer_ref,
        case_id=case.case_id,
    )


def _add_complaint(case: Case, alert: Alert) -> Case:
    room = MAX_LINKED - len(case.alert_ids)
    return case.model_copy(
        update={
            "version": case.version + 1,
            "alert_ids": (*case.alert_ids, alert.alert_id)[:MAX_LINKED],
            "feedback_ids": (*case.feedback_ids, *alert.sample_feedback_ids[:1])[:MAX_LINKED]
            if room
            else case.feedback_ids,
            "verbatims": (*case.verbatims, *alert.verbatims[:1])[:MAX_LINKED] if room else case.verbatims,
            "last_complaint_at": max(case.last_complaint_at, alert.window_start),
            "complaints": case.complaints + 1,
        }
    )


def _sla(rules: CaseRules, severity: str, route: str) -> timedelta:
    return timedelta(minutes=rules.sla_minutes_for(severity, route))
