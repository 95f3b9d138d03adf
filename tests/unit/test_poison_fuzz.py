"""Fuzz: whatever arrives on a raw topic ends stored or dead-lettered, never raising (issue #12).

Random JSON, and reviews, chats and surveys with random field values (dates from year 1 to
9999, numbers far outside their columns, lone surrogates, control characters), go through
ingest → analysis → rows → the record store on current ClickHouse (chdb). Every record must
end in exactly one place: stored in every table, a dead letter with a reason, or skipped.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pipeline.ingest import IngestContext, ingest_chat, ingest_review, ingest_survey
from pipeline.stages import decode_batch, score_batch
from pipeline.text.analysis import Analyzer
from schemas.feedback import ScoredFeedback
from schemas.records import RawRecord
from tests.unit.chdb_engine import ChdbClient
from tests.unit.test_record_store import Recorder, store

NOW = datetime(2026, 12, 2, tzinfo=UTC)

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=30),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=12,
)
texts = st.text(max_size=60) | st.sampled_from(
    ["包装破了，东西压坏了", "味道很好", "\u202e反转\u202c", "a\x00b"]
)
numbers = st.integers(min_value=-(2**70), max_value=2**70) | st.none()
# ISO dates across every year Python knows, naive and with offsets, and broken ones.
dates = st.datetimes(min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30)).map(
    lambda d: d.isoformat()
) | st.sampled_from(["0001-01-01T00:00:00Z", "2200-01-01T00:00:00Z", "1969-12-31T23:59:59Z", "nope", ""])
products = st.fixed_dictionaries({"sku": st.text(max_size=10)}, optional={"name": texts, "variant": texts})


def review() -> st.SearchStrategy[dict[str, Any]]:
    return st.fixed_dictionaries(
        {"review_id": st.text(min_size=1, max_size=10), "platform": st.sampled_from(["jd", "tmall", ""]),
         "brand": st.text(max_size=6), "product": products, "text": texts, "created_at": dates},
        optional={"rating": numbers, "follow_up_text": texts, "customer_id": st.text(max_size=10)},
    )  # fmt: skip


def chat() -> st.SearchStrategy[dict[str, Any]]:
    return st.fixed_dictionaries(
        {"conversation_id": st.text(min_size=1, max_size=10), "turn_index": numbers,
         "role": st.sampled_from(["customer", "agent", "x"]), "text": texts, "ts": dates,
         "channel": st.just("wechat"), "brand": st.text(max_size=6)},
        optional={"product": products, "store_id": st.text(max_size=8), "agent_id": st.text(max_size=8)},
    )  # fmt: skip


def survey() -> st.SearchStrategy[dict[str, Any]]:
    answers = st.lists(st.fixed_dictionaries({"question": texts, "answer": texts}), max_size=3)
    return st.fixed_dictionaries(
        {"survey_id": st.text(min_size=1, max_size=6), "response_id": st.text(min_size=1, max_size=6),
         "brand": st.text(max_size=6), "ts": dates, "touchpoint": st.just("app")},
        optional={"nps": numbers, "csat": numbers, "answers": answers, "product": products},
    )  # fmt: skip


def encoded(value: Any) -> bytes:
    try:
        return orjson.dumps(value)
    except TypeError:  # lone surrogates, integers past 64 bits: the producer's JSON encoder
        return repr(value).encode("utf-8", "surrogatepass")


@pytest.fixture(scope="module")
def engine() -> ChdbClient:
    client = ChdbClient()
    client.migrate()
    return client


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    messages=st.lists(
        st.one_of(
            st.tuples(st.just("reviews"), review().map(encoded)),
            st.tuples(st.just("chats"), chat().map(encoded)),
            st.tuples(st.just("surveys"), survey().map(encoded)),
            st.tuples(st.sampled_from(["reviews", "chats", "surveys"]), json_values.map(encoded)),
            st.tuples(st.sampled_from(["reviews", "chats", "surveys"]), st.binary(max_size=40)),
        ),
        min_size=1,
        max_size=12,
    )
)
def test_every_raw_record_ends_stored_dead_lettered_or_skipped(
    messages: list[tuple[str, bytes]], analyzer: Analyzer, engine: ChdbClient
) -> None:
    ctx = IngestContext(max_message_bytes=65_536, customer_ref_salt=b"fuzz")
    ingestors = {"reviews": ingest_review, "chats": ingest_chat, "surveys": ingest_survey}
    topic = f"fuzz{abs(hash(tuple(messages)))}"
    dead = skipped = 0
    scored: list[RawRecord] = []
    for offset, (source, value) in enumerate(messages):
        raw = RawRecord(f"{topic}.{source}.raw", 0, offset, 0, None, value)
        outcome = score_batch([raw], ingestors[source], ctx, analyzer, "scored", "dlq", now=NOW)
        dead, skipped = dead + len(outcome.dead_letters), skipped + outcome.skipped
        scored += [RawRecord(f"{topic}.scored", 0, offset, 0, o.key, o.value) for o in outcome.outputs]
    decoded, outcome = decode_batch(scored, ScoredFeedback, "sink", "dlq")
    assert not outcome.dead_letters, "the pipeline's own messages must decode"
    rejected = store(engine, Recorder(engine), [item for _, item in decoded])
    [(stored,)] = engine.execute(
        "SELECT count() FROM feedback WHERE kafka_topic = %(t)s", {"t": f"{topic}.scored"}
    )
    # Ingest validated every range: nothing it let through is rejected by the store.
    assert rejected == {}
    assert stored + dead + skipped == len(messages)
