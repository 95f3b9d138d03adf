"""Cases: what happens after a critical alert (``{ns}.cases`` and ``{ns}.case_updates``).

Every critical single-feedback alert opens a case for the front line (a store, an agent, or
the customer care team): a contract for the services that work the cases. The pipeline
publishes each case's whole state on ``{ns}.cases`` after every change (``version`` counts
them: keep the highest); services answer on ``{ns}.case_updates``, keyed by brand.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator

from schemas.alerts import Severity
from schemas.inputs import UtcDatetime

__all__ = ["Case", "CaseChange", "CaseStatus", "CaseUpdate", "CaseUpdateKind"]

CaseStatus = Literal["open", "acknowledged", "contacted", "resolved", "reopened", "expired"]
"""``open`` until a service acknowledges it; ``reopened`` when the customer complains again
within the repeat window after it was resolved; ``expired`` when nobody touched it for the
expiry period (the state forgets it; ClickHouse keeps it)."""
CaseUpdateKind = Literal["acknowledged", "contacted", "resolved", "reopened"]
CaseChange = Literal[
    "opened", "linked", "acknowledged", "contacted", "resolved", "reopened", "sla_breached", "expired"
]
"""What the event says happened: ``linked`` is a repeat complaint added to an open case."""


def _known_case_id(value: str) -> str:
    if not value.startswith("case-"):
        raise ValueError("a case id starts with 'case-' (the ids on the cases topic)")
    return value


class Case(BaseModel):
    """A case's whole state after one change (``{ns}.cases``, key: brand)."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    schema_version: Literal[1] = 1
    case_id: str
    """``case-`` and 24 hex digits, from the brand, customer and the alert that opened it."""
    version: int = Field(ge=1)
    """1 when opened, +1 per change: consumers keep the highest."""
    change: CaseChange
    brand: str
    product: str = ""
    customer_ref: str = ""
    """Salted hash of the customer (never the id); empty when the feedback had none."""
    route: str
    """Who must act: ``store:…``, ``agent:…``, or ``customer:…`` (customer care)."""
    severity: Severity
    reason: str
    alert_ids: tuple[str, ...] = Field(max_length=20)
    feedback_ids: tuple[str, ...] = Field(max_length=20)
    verbatims: tuple[str, ...] = Field(max_length=20)
    """Masked excerpts of the complaints, oldest first (the first 20)."""
    complaints: int = Field(default=1, ge=1)
    """Critical feedback of the customer on this case (the first and the repeats)."""
    first_complaint_at: datetime
    """When the customer said what opened the case (feedback time; the other times are when
    the pipeline or a service acted): BI ranges over cases filter on it."""
    last_complaint_at: datetime
    """When the customer last complained (feedback time): the repeat window counts from it."""
    status: CaseStatus
    opened_at: datetime
    sla_due_at: datetime
    """When an acknowledgement is due: opened (or reopened) plus the SLA of its severity and
    route (config/case_rules.yaml)."""
    acknowledged_at: datetime | None = None
    first_response_at: datetime | None = None
    """The first acknowledgement or contact, whichever came first."""
    resolved_at: datetime | None = None
    outcome: str = ""
    sla_breached: bool = False
    reopen_count: int = Field(default=0, ge=0)
    updated_at: datetime
    updated_by: str = ""
    note: str = ""
    applied_updates: tuple[str, ...] = Field(default=(), max_length=20)
    """Keys of the last 20 updates applied (kind, time, who, hashed): one delivered again
    changes nothing, even after later changes."""


class CaseUpdate(BaseModel):
    """A service's answer to a case (``{ns}.case_updates``, key: the case's brand).

    The key matters: the case's state lives on its brand's partition. An update keyed
    otherwise, for an unknown case, or that the case's status does not allow (resolving a
    resolved case, resolving without an outcome) goes to the dead-letter topic with the
    reason ``case_update_rejected``.
    """

    model_config = ConfigDict(frozen=True, extra="ignore", str_strip_whitespace=True)

    schema_version: Literal[1] = 1
    case_id: Annotated[str, Field(min_length=6, max_length=64), AfterValidator(_known_case_id)]
    brand: str = Field(min_length=1, max_length=256)
    kind: CaseUpdateKind
    at: UtcDatetime
    by: str = Field(default="", max_length=256)
    """Who: the store, agent or service that acted."""
    outcome: str = Field(default="", max_length=200)
    """How it was resolved (``refunded``, ``replaced``, ``explained``…); required to resolve."""
    note: str = Field(default="", max_length=2_000)

    @model_validator(mode="after")
    def _resolved_with_outcome(self) -> CaseUpdate:
        if self.kind == "resolved" and not self.outcome:
            raise ValueError("a 'resolved' update needs an outcome")
        return self
