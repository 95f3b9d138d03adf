"""A small simulated store service for the demo: it answers the cases the pipeline opened.

What a front-line system does with ``{ns}.cases``, in a few lines: read the opened cases,
acknowledge most of them (and resolve some with an outcome), and leave a few unanswered so
that the demo shows an SLA breach. Deterministic: the cases it leaves and the ones it
resolves follow from their order, so a demo run says the same every time.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from schemas.cases import Case, CaseUpdate

__all__ = ["respond_to_cases"]

UNANSWERED_EVERY = 10
"""One case in this many is left without a response (it breaches its SLA)."""
RESOLVED_EVERY = 2
"""One answered case in this many is resolved as well."""
_OUTCOMES = ("refunded", "replaced", "explained")


def respond_to_cases(
    cases: Sequence[Case], now: datetime, by: str = "demo-store-service"
) -> list[CaseUpdate]:
    """Updates for the cases that wait for a first response (``open``), oldest first."""
    waiting = sorted((c for c in cases if c.status == "open"), key=lambda c: (c.opened_at, c.case_id))
    updates: list[CaseUpdate] = []
    for index, case in enumerate(waiting):
        if index % UNANSWERED_EVERY == UNANSWERED_EVERY - 1:
            continue
        base = {"case_id": case.case_id, "brand": case.brand, "at": now, "by": by}
        updates.append(CaseUpdate.model_validate({**base, "kind": "acknowledged", "note": "已联系门店处理"}))
        if index % RESOLVED_EVERY == 0:
            outcome = _OUTCOMES[index // RESOLVED_EVERY % len(_OUTCOMES)]
            updates.append(CaseUpdate.model_validate({**base, "kind": "resolved", "outcome": outcome}))
    return updates
