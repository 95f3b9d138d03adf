"""``voc forget``: erase one customer from ClickHouse (PIPL Art. 47, GDPR Art. 17).

What it removes, for one ``customer_ref`` (the salted hash the pipeline stores, or computed
from the raw customer id with the configured salt):

- ``feedback``: every row of the customer (text, ids, scores);
- ``aspect_mentions``: every mention of those feedback (the evidence is a clause of the text);
- ``customer_experience_state``: the customer's profile (``customer_experience`` reads it);
- ``alerts``: the verbatims quoted from the customer's feedback become ``<ERASED>``, and a
  critical alert routed to the customer (``customer:<ref>``) loses its routing key. The alert
  itself, its counts and the feedback ids it cites stay: they describe a product, and an id
  whose feedback row is gone points at nothing;
- ``case_events`` and ``cases``: every case of the customer (its verbatims, route, notes);
- ``conversations``: how the customer's chats ended.

What it does not reach, by design or by nature (docs: README "Personal data"):

- the rollups (``*_rollup_*``) hold counts per product and period without a customer: the
  erased feedback still counts there, anonymously;
- Kafka topics (raw, scored, alerts, cases, dead letters) keep the records until their
  retention, and the cases table of the stream keeps an open case until it expires;
  a replay from them (offsets reset, ``voc dlq replay``, a backfill) stores them again, so run
  ``voc forget`` again after one;
- detector windows in the workers' Faust tables keep their few masked samples until the
  window expires.

Every request is written to ``erasure_log`` (who, when, how many rows per table) once the
deletion has finished, so it can be shown later. ClickHouse runs ``ALTER ... DELETE/UPDATE``
as asynchronous mutations: :func:`forget_customer` waits for them and then counts again, and
an erasure that did not finish in time raises :class:`ErasureIncomplete` without logging.
The statements are idempotent: running a request again finishes what a failed one left.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

from pipeline.errors import VocError
from pipeline.ingest import customer_ref
from sinks.cluster_layout import ClusterLayout

__all__ = [
    "ERASED",
    "ErasureIncomplete",
    "ErasureReport",
    "SqlClient",
    "customer_ref",
    "find_customer",
    "forget_customer",
]

ERASED = "<ERASED>"
"""What an erased verbatim reads as: an analyst sees that something was there, and why not."""

_POLL_S = 0.5


class SqlClient(Protocol):
    """The slice of clickhouse-driver's ``Client`` this module uses."""

    def execute(self, query: str, params: Any = None) -> Any:
        """Run ``query`` with ``params`` substituted; rows as tuples."""


class ErasureIncomplete(VocError):
    """The mutations did not finish in time, or rows of the customer are still there."""


@dataclass(frozen=True, slots=True)
class CustomerRows:
    """How many rows of one customer each table holds (alerts: alerts that quote them)."""

    feedback: int
    aspect_mentions: int
    customer_profile: int
    alerts: int
    cases: int
    """Case events of the customer's cases (the ``cases`` table holds their latest)."""
    conversations: int
    """Chat conversation outcomes of the customer."""

    @property
    def total(self) -> int:
        """Every row counted."""
        return (
            self.feedback + self.aspect_mentions + self.customer_profile + self.alerts + self.cases
            + self.conversations
        )  # fmt: skip


@dataclass(frozen=True, slots=True)
class ErasureReport:
    """One finished erasure: what was there before, and the audit record's id."""

    request_id: str
    customer_ref: str
    requested_by: str
    requested_at: datetime
    completed_at: datetime
    erased: CustomerRows

    def as_dict(self) -> dict[str, Any]:
        """JSON-friendly form for ``voc forget --json``."""
        data = asdict(self)
        data["requested_at"] = self.requested_at.isoformat()
        data["completed_at"] = self.completed_at.isoformat()
        return data


# Parameters: %(ref)s the customer_ref, %(ids)s the customer's feedback ids (a tuple, never
# empty: clickhouse-driver renders it as a list literal), %(route)s 'customer:<ref>'.
FEEDBACK_IDS_SQL = "SELECT DISTINCT feedback_id FROM feedback WHERE customer_ref = %(ref)s"
COUNT_FEEDBACK_SQL = "SELECT count() FROM feedback WHERE customer_ref = %(ref)s"
COUNT_MENTIONS_SQL = "SELECT count() FROM aspect_mentions WHERE has(%(ids)s, feedback_id)"
# Profiles, not state rows: the AggregatingMergeTree holds one row per insert until a merge,
# so counting rows said 1 or 2 for the same profile depending on how the worker batched.
COUNT_PROFILE_SQL = "SELECT uniqExact(brand) FROM customer_experience_state WHERE customer_ref = %(ref)s"
# An alert quotes the customer while one of its verbatims for their feedback is not erased.
_ALERT_QUOTES = (
    "(arrayExists((v, i) -> has(%(ids)s, i) AND v != %(erased)s, verbatims, sample_feedback_ids)"
    " OR routing_key = %(route)s)"
)
COUNT_ALERTS_SQL = f"SELECT count() FROM alerts WHERE {_ALERT_QUOTES}"
COUNT_CASES_SQL = "SELECT count() FROM case_events WHERE customer_ref = %(ref)s"
COUNT_CONVERSATIONS_SQL = "SELECT count() FROM conversations WHERE customer_ref = %(ref)s"

# Children before the feedback rows: a request cut short is found again by its feedback.
DELETE_MENTIONS_SQL = "ALTER TABLE aspect_mentions DELETE WHERE has(%(ids)s, feedback_id)"
REDACT_ALERTS_SQL = (
    "ALTER TABLE alerts UPDATE "
    "verbatims = arrayMap((v, i) -> if(has(%(ids)s, i), %(erased)s, v), verbatims, sample_feedback_ids), "
    "routing_key = if(routing_key = %(route)s, '', routing_key) "
    f"WHERE {_ALERT_QUOTES}"
)
DELETE_PROFILE_SQL = "ALTER TABLE customer_experience_state DELETE WHERE customer_ref = %(ref)s"
DELETE_CASE_EVENTS_SQL = "ALTER TABLE case_events DELETE WHERE customer_ref = %(ref)s"
DELETE_CASES_SQL = "ALTER TABLE cases DELETE WHERE customer_ref = %(ref)s"
DELETE_CONVERSATIONS_SQL = "ALTER TABLE conversations DELETE WHERE customer_ref = %(ref)s"
DELETE_FEEDBACK_SQL = "ALTER TABLE feedback DELETE WHERE customer_ref = %(ref)s"
_TABLES = (
    "aspect_mentions", "alerts", "customer_experience_state", "case_events", "cases", "conversations",
    "feedback",
)  # fmt: skip

PENDING_MUTATIONS_SQL = (
    "SELECT count() FROM system.mutations "
    "WHERE database = %(database)s AND is_done = 0 AND has(%(tables)s, table)"
)
LOG_SQL = (
    "INSERT INTO erasure_log (request_id, customer_ref, requested_by, requested_at, completed_at, "
    "feedback_rows, mention_rows, profile_rows, alert_rows, case_rows, conversation_rows) SELECT "
    "%(request_id)s, %(customer_ref)s, %(requested_by)s, %(requested_at)s, %(completed_at)s, "
    "%(feedback)s, %(aspect_mentions)s, %(customer_profile)s, %(alerts)s, %(cases)s, %(conversations)s"
)
"""INSERT ... SELECT: one statement both engines take with parameters (clickhouse-driver would
wait for a data block after an inline ``VALUES``)."""


def _params(ref: str, ids: tuple[str, ...]) -> dict[str, Any]:
    # has() over an empty literal list has no element type on 18.16; '' is no feedback id.
    return {"ref": ref, "ids": list(ids) or [""], "route": f"customer:{ref}", "erased": ERASED}


def _scalar(client: SqlClient, sql: str, params: dict[str, Any]) -> int:
    return int(client.execute(sql, params)[0][0])


def _feedback_ids(client: SqlClient, ref: str) -> tuple[str, ...]:
    return tuple(row[0] for row in client.execute(FEEDBACK_IDS_SQL, {"ref": ref}))


def find_customer(client: SqlClient, ref: str, ids: tuple[str, ...] | None = None) -> CustomerRows:
    """What the database holds of customer ``ref`` now (the client is bound to the database);
    ``ids`` are their feedback ids when known (after an erasure the feedback rows are gone)."""
    params = _params(ref, _feedback_ids(client, ref) if ids is None else ids)
    return CustomerRows(
        feedback=_scalar(client, COUNT_FEEDBACK_SQL, params),
        aspect_mentions=_scalar(client, COUNT_MENTIONS_SQL, params),
        customer_profile=_scalar(client, COUNT_PROFILE_SQL, params),
        alerts=_scalar(client, COUNT_ALERTS_SQL, params),
        cases=_scalar(client, COUNT_CASES_SQL, params),
        conversations=_scalar(client, COUNT_CONVERSATIONS_SQL, params),
    )


def _wait_for_mutations(
    client: SqlClient, database: str, timeout_s: float, clock: Callable[[], float], local: bool = False
) -> None:
    deadline = clock() + timeout_s
    tables = [f"{t}_local" for t in _TABLES] if local else list(_TABLES)
    params = {"database": database, "tables": tables}
    while _scalar(client, PENDING_MUTATIONS_SQL, params):
        if clock() > deadline:
            raise ErasureIncomplete(
                f"ClickHouse mutations in {database} still running after {timeout_s:.0f} s "
                "(see system.mutations); run voc forget again to finish"
            )
        time.sleep(_POLL_S)


def forget_customer(
    client: SqlClient,
    database: str,
    ref: str,
    requested_by: str,
    timeout_s: float = 300.0,
    clock: Callable[[], float] = time.monotonic,
    cluster: str = "",
) -> ErasureReport:
    """Erase customer ``ref`` from ``database`` (the client is bound to it), wait until
    ClickHouse has done it, check that nothing is left and log the request.

    With ``cluster`` (the tables laid out by sinks.cluster_layout) the deletions run on the
    replicated ``_local`` tables of every host (``ON CLUSTER``); the checks read the
    distributed tables, so they see every shard.

    Raises :class:`ErasureIncomplete` if the mutations outlast ``timeout_s`` or a row is
    left (a worker storing the customer's feedback meanwhile); nothing is logged then.
    """
    if not ref:
        raise ValueError("customer_ref is empty: '' means 'unknown customer', not one person")
    requested_at = datetime.now(UTC).replace(tzinfo=None, microsecond=0)
    ids = _feedback_ids(client, ref)
    before = find_customer(client, ref, ids)
    params = _params(ref, ids)
    deletions = (
        DELETE_MENTIONS_SQL, REDACT_ALERTS_SQL, DELETE_PROFILE_SQL, DELETE_CASE_EVENTS_SQL, DELETE_CASES_SQL,
        DELETE_CONVERSATIONS_SQL, DELETE_FEEDBACK_SQL,
    )  # fmt: skip
    for statement in deletions:
        client.execute(ClusterLayout(cluster, database).mutation(statement) if cluster else statement, params)
    deadline = clock() + timeout_s
    _wait_for_mutations(client, database, timeout_s, clock, local=bool(cluster))
    after = find_customer(client, ref, ids)
    # On a cluster system.mutations shows this server's mutations only; another shard's may
    # still run (seen in CI: 1 feedback row left on the second shard), so the check through
    # the distributed tables is repeated until it holds or the time is up.
    while cluster and after.total and clock() < deadline:
        time.sleep(_POLL_S)
        after = find_customer(client, ref, ids)
    if after.total:
        raise ErasureIncomplete(f"rows of customer {ref} are still stored after the erasure: {after}")
    report = ErasureReport(
        request_id=uuid.uuid4().hex,
        customer_ref=ref,
        requested_by=requested_by,
        requested_at=requested_at,
        completed_at=datetime.now(UTC).replace(tzinfo=None, microsecond=0),
        erased=before,
    )
    client.execute(
        LOG_SQL,
        {
            "request_id": report.request_id,
            "customer_ref": ref,
            "requested_by": requested_by,
            "requested_at": report.requested_at,
            "completed_at": report.completed_at,
            **asdict(before),
        },
    )
    return report
