"""``voc forget``'s SQL erases one customer and no one else, on current ClickHouse (chdb);
tests/integration/test_forget.py runs it on 18.16 through a real worker's rows."""

from __future__ import annotations

import pytest

from pipeline.ingest import customer_ref
from pipeline.ops.erasure import ERASED, ErasureIncomplete, find_customer, forget_customer
from tests.unit.chdb_engine import ChdbClient

T = "2026-11-05 12:00:00"


@pytest.fixture
def db() -> ChdbClient:
    client = ChdbClient()
    client.migrate()
    client.execute(
        "INSERT INTO feedback (feedback_id, source, channel, brand, customer_ref, event_time, text, "
        f"polarity) VALUES ('f1', 'review', 'tmall', 'b', 'R1', '{T}', '盒子破了', -1), "
        f"('f2', 'review', 'tmall', 'b', 'R2', '{T}', '很好', 1), "
        f"('f3', 'chat', 'app', 'b', 'R1', '{T}', '还没到', -1)"
    )
    client.execute(
        "INSERT INTO aspect_mentions (feedback_id, brand, event_time, aspect, evidence) VALUES "
        f"('f1', 'b', '{T}', '包装', '盒子破了'), ('f2', 'b', '{T}', '包装', '很好'), "
        f"('f3', 'b', '{T}', '物流', '还没到')"
    )
    client.execute(
        "INSERT INTO alerts (alert_id, brand, window_start, window_end, created_at, sample_feedback_ids, "
        f"verbatims, routing_key) VALUES ('a1', 'b', '{T}', '{T}', '{T}', ['f1', 'f2'], "
        f"['盒子破了', '很好'], 'b|s'), ('a2', 'b', '{T}', '{T}', '{T}', ['f3'], ['还没到'], 'customer:R1'), "
        f"('a3', 'b', '{T}', '{T}', '{T}', ['f2'], ['很好'], 'customer:R2')"
    )
    return client


def _database(db: ChdbClient) -> str:
    return str(db.execute("SELECT currentDatabase()")[0][0])


def test_forget_erases_the_customer_everywhere_and_logs_it(db: ChdbClient) -> None:
    before = find_customer(db, "R1")
    assert (before.feedback, before.aspect_mentions, before.customer_profile, before.alerts) == (2, 2, 1, 2)

    report = forget_customer(db, _database(db), "R1", "ticket-7")

    assert report.erased == before
    assert db.execute("SELECT feedback_id FROM feedback ORDER BY feedback_id") == [("f2",)]
    assert db.execute("SELECT feedback_id FROM aspect_mentions") == [("f2",)]
    assert db.execute("SELECT customer_ref FROM customer_experience") == [("R2",)]
    alerts = db.execute(
        "SELECT alert_id, arrayStringConcat(verbatims, '|'), routing_key FROM alerts ORDER BY alert_id"
    )
    assert alerts == [("a1", f"{ERASED}|很好", "b|s"), ("a2", ERASED, ""), ("a3", "很好", "customer:R2")]
    assert db.execute(
        "SELECT request_id, customer_ref, requested_by, feedback_rows, mention_rows, profile_rows, "
        "alert_rows FROM erasure_log"
    ) == [(report.request_id, "R1", "ticket-7", 2, 2, 1, 2)]
    assert find_customer(db, "R2").feedback == 1


def test_forgetting_twice_finds_nothing_the_second_time(db: ChdbClient) -> None:
    forget_customer(db, _database(db), "R1", "")
    again = forget_customer(db, _database(db), "R1", "")
    assert again.erased.total == 0
    assert db.execute("SELECT count() FROM erasure_log") == [(2,)]


def test_the_empty_ref_of_unknown_customers_is_refused(db: ChdbClient) -> None:
    with pytest.raises(ValueError, match="unknown customer"):
        forget_customer(db, _database(db), "", "")


def test_unfinished_mutations_raise_and_log_nothing(db: ChdbClient, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("pipeline.ops.erasure._POLL_S", 0.0)
    ticks = iter(range(100))
    real_execute = db.execute

    def pending(sql: str, params: object = None) -> object:
        if "system.mutations" in sql:
            return [(1,)]
        return real_execute(sql, params)  # type: ignore[arg-type]

    monkeypatch.setattr(db, "execute", pending)
    with pytest.raises(ErasureIncomplete, match="still running"):
        forget_customer(db, _database(db), "R1", "", timeout_s=3, clock=lambda: float(next(ticks)))
    assert real_execute("SELECT count() FROM erasure_log") == [(0,)]


def test_customer_id_maps_to_the_ref_ingest_stores() -> None:
    assert customer_ref("C1", b"salt") == customer_ref("C1", b"salt") != customer_ref("C1", b"other")
    assert customer_ref(None, b"salt") == customer_ref("", b"salt") == ""
    assert len(customer_ref("C1", b"salt")) == 32


def test_on_a_cluster_the_check_waits_for_the_other_shards_mutations(monkeypatch: pytest.MonkeyPatch) -> None:
    # CI, two shards: system.mutations of the server voc forget talks to showed nothing
    # pending while the other shard still held the row, and the erasure failed.
    from pipeline.ops.erasure import COUNT_FEEDBACK_SQL, FEEDBACK_IDS_SQL

    feedback_counts = iter([1, 1, 1, 0])  # before, then three checks: the last one clean

    class Cluster:
        def __init__(self) -> None:
            self.statements: list[str] = []

        def execute(self, query: str, params: object = None) -> list[tuple[object, ...]]:
            self.statements.append(query)
            if query == FEEDBACK_IDS_SQL:
                return [("review:t:1",)]
            if query == COUNT_FEEDBACK_SQL:
                return [(next(feedback_counts),)]
            return [(0,)]

    monkeypatch.setattr("pipeline.ops.erasure._POLL_S", 0.0)
    client = Cluster()
    ticks = iter(range(1000))
    report = forget_customer(
        client, "voc", "R1", "test", timeout_s=100, clock=lambda: float(next(ticks)), cluster="voc"
    )
    assert report.erased.feedback == 1
    assert any(s.startswith("INSERT INTO erasure_log") for s in client.statements)
