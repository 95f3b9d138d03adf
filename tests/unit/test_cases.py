"""Cases (pipeline/cases.py): opened per critical alert, linked and reopened by repeat
complaints, moved by the front line's updates, breached past their SLA, and forgotten."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from pydantic import ValidationError

from agents.cases import CaseTable
from config import load_case_rules
from config.case_rules import CaseRules
from config.resources import REPO_ROOT
from pipeline.cases import CaseRejected, apply_update, case_for_alert, due_breach, expiry, sla_breach_alert
from schemas.alerts import Alert, AlertScope
from schemas.cases import Case, CaseUpdate

T0 = datetime(2026, 11, 1, 9, 0, tzinfo=UTC)
RULES = CaseRules(
    default_sla_minutes=240,
    sla_minutes={"critical": {"store": 30, "default": 60}},
    repeat_window_days=7,
    expiry_days=30,
)


def critical(alert_id: str, at: datetime, customer: str = "cust-1", route: str = "store:S04") -> Alert:
    return Alert(
        alert_id=alert_id, kind="critical_feedback", rule="critical", severity="critical",
        scope=AlertScope(brand="云杉", product="P1", aspect="包装"), metric="feedback_score", observed=0.05,
        mentions=1, window_start=at, window_end=at, sample_feedback_ids=(f"review:t:{alert_id}",),
        verbatims=(f"说了{alert_id}",), reason="churn: 退货", created_at=at, routing_key=route,
        customer_ref=customer,
    )  # fmt: skip


def update(case: Case, kind: str, at: datetime, **more: str) -> CaseUpdate:
    return CaseUpdate.model_validate(
        {"case_id": case.case_id, "brand": case.brand, "kind": kind, "at": at, **more}
    )


def test_a_critical_alert_opens_a_case_with_the_sla_of_its_severity_and_route() -> None:
    case = case_for_alert(critical("a1", T0), None, RULES, T0)
    assert case is not None and case.status == "open" and case.version == 1 and case.change == "opened"
    assert case.sla_due_at == T0 + timedelta(minutes=30)  # critical, store
    assert case.case_id.startswith("case-") and case.feedback_ids == ("review:t:a1",)
    other_route = case_for_alert(critical("a2", T0, route="customer:x"), None, RULES, T0)
    assert other_route is not None and other_route.sla_due_at == T0 + timedelta(minutes=60)  # default
    window = critical("a3", T0).model_copy(update={"kind": "threshold"})
    assert case_for_alert(window, None, RULES, T0) is None


def test_a_replayed_alert_changes_nothing_and_a_repeat_complaint_links_to_the_open_case() -> None:
    case = case_for_alert(critical("a1", T0), None, RULES, T0)
    assert case is not None
    assert case_for_alert(critical("a1", T0), case, RULES, T0 + timedelta(minutes=1)) is None
    later = T0 + timedelta(days=2)
    linked = case_for_alert(critical("a2", later), case, RULES, later)
    assert linked is not None and linked.case_id == case.case_id and linked.change == "linked"
    assert linked.version == 2 and linked.complaints == 2 and linked.alert_ids == ("a1", "a2")
    assert linked.sla_due_at == case.sla_due_at  # the SLA counts from the first complaint
    # Outside the repeat window (from the last complaint) a complaint opens a new case.
    much_later = T0 + timedelta(days=10)  # 8 days after the last complaint
    fresh = case_for_alert(critical("a3", much_later), linked, RULES, much_later)
    assert fresh is not None and fresh.case_id != case.case_id and fresh.change == "opened"


def test_updates_move_a_case_and_a_resolved_case_reopens_on_a_repeat_complaint() -> None:
    case = case_for_alert(critical("a1", T0), None, RULES, T0)
    assert case is not None
    acked = apply_update(case, update(case, "acknowledged", T0 + timedelta(minutes=5), by="S04"), RULES)
    assert acked is not None and acked.status == "acknowledged" and acked.version == 2
    assert acked.first_response_at == acked.acknowledged_at == T0 + timedelta(minutes=5)
    # The same update delivered twice: nothing changes.
    assert (
        apply_update(acked, update(case, "acknowledged", T0 + timedelta(minutes=5), by="S04"), RULES) is None
    )
    resolved = apply_update(
        acked,
        update(case, "resolved", T0 + timedelta(hours=2), outcome="refunded", note="电话13812345678"),
        RULES,
    )
    assert resolved is not None and resolved.status == "resolved" and resolved.outcome == "refunded"
    assert "13812345678" not in resolved.note  # notes are masked like every stored text
    again = T0 + timedelta(days=1)
    reopened = case_for_alert(critical("a2", again), resolved, RULES, again)
    assert reopened is not None and reopened.status == "reopened" and reopened.reopen_count == 1
    assert reopened.first_response_at is None and reopened.sla_due_at == again + timedelta(minutes=30)


def test_updates_a_case_cannot_take_are_rejected_with_a_reason() -> None:
    case = case_for_alert(critical("a1", T0), None, RULES, T0)
    assert case is not None
    with pytest.raises(CaseRejected, match="no case"):
        apply_update(None, update(case, "acknowledged", T0), RULES)
    with pytest.raises(CaseRejected, match="cannot be reopened"):
        apply_update(case, update(case, "reopened", T0), RULES)
    other_brand = CaseUpdate(case_id=case.case_id, brand="北极星", kind="acknowledged", at=T0)
    with pytest.raises(CaseRejected, match="brand"):
        apply_update(case, other_brand, RULES)
    with pytest.raises(ValidationError, match="outcome"):
        update(case, "resolved", T0)
    with pytest.raises(ValidationError, match="case-"):
        CaseUpdate(case_id="not-a-case", brand="云杉", kind="acknowledged", at=T0)


def test_a_case_without_a_response_breaches_its_sla_once_and_raises_an_alert() -> None:
    case = case_for_alert(critical("a1", T0), None, RULES, T0)
    assert case is not None
    assert due_breach(case, T0 + timedelta(minutes=29)) is None
    breached = due_breach(case, T0 + timedelta(minutes=31))
    assert breached is not None and breached.sla_breached and breached.change == "sla_breached"
    assert due_breach(breached, T0 + timedelta(minutes=40)) is None  # once
    alert = sla_breach_alert(breached, RULES, T0 + timedelta(minutes=31))
    assert alert.kind == "sla_breached" and alert.routing_key == "store:S04" and alert.case_id == case.case_id
    assert alert.observed == 31 and alert.expected == 30
    acked = apply_update(case, update(case, "acknowledged", T0 + timedelta(minutes=10)), RULES)
    assert acked is not None and due_breach(acked, T0 + timedelta(hours=5)) is None


def test_cases_leave_the_state_resolved_after_the_repeat_window_or_expired_when_untouched() -> None:
    case = case_for_alert(critical("a1", T0), None, RULES, T0)
    assert case is not None
    assert expiry(case, RULES, T0 + timedelta(days=29)) is None
    leaving = expiry(case, RULES, T0 + timedelta(days=31))
    assert leaving is not None and leaving.final is not None and leaving.final.status == "expired"
    resolved = apply_update(
        case, update(case, "resolved", T0 + timedelta(hours=1), outcome="replaced"), RULES
    )
    assert resolved is not None and expiry(resolved, RULES, T0 + timedelta(days=6)) is None
    gone = expiry(resolved, RULES, T0 + timedelta(days=8))
    assert gone is not None and gone.final is None


def test_the_case_table_finds_a_customers_case_and_forgets_it() -> None:
    table = CaseTable({})
    case = case_for_alert(critical("a1", T0), None, RULES, T0)
    assert case is not None
    table.save(case)
    assert table.customer_case("云杉", "cust-1") == case and table.case("云杉", case.case_id) == case
    assert table.customer_case("云杉", "") is None and table.customer_case("北极星", "cust-1") is None
    assert table.cases(None, 4) == [case]
    table.forget(case)
    assert table.cases(None, 4) == [] and table.customer_case("云杉", "cust-1") is None


def test_the_shipped_case_rules_load() -> None:
    rules = load_case_rules(REPO_ROOT / "config" / "case_rules.yaml")
    assert rules.sla_minutes_for("critical", "agent:A1") == 15
    assert rules.sla_minutes_for("info", "store:S1") == rules.default_sla_minutes


def test_an_update_delivered_again_after_later_changes_changes_nothing() -> None:
    # Review of issue #17: only the latest change was recognised, so a replayed "resolved"
    # resolved a case its customer had reopened since.
    case = case_for_alert(critical("a1", T0), None, RULES, T0)
    assert case is not None
    resolve = update(case, "resolved", T0 + timedelta(hours=1), outcome="refunded", by="S04")
    resolved = apply_update(case, resolve, RULES)
    assert resolved is not None
    again = T0 + timedelta(days=1)
    reopened = case_for_alert(critical("a2", again), resolved, RULES, again)
    assert reopened is not None and reopened.resolved_at is None and reopened.outcome == ""
    assert apply_update(reopened, resolve, RULES) is None
    acked = apply_update(reopened, update(case, "acknowledged", again + timedelta(minutes=5)), RULES)
    assert acked is not None and acked.status == "acknowledged"
