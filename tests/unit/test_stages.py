from datetime import UTC, datetime

import orjson

from pipeline.ingest import IngestContext, ingest_chat
from pipeline.stages import ingest_batch, score_batch
from pipeline.text.analysis import Analyzer
from schemas.dead_letters import DeadLetterReason
from schemas.feedback import ScoredFeedback
from schemas.records import Stored
from sinks.rows import feedback_columns
from tests.unit.conftest import feedback, record

CHAT = {
    "conversation_id": "CV1", "turn_index": 0, "role": "customer", "text": "快递太慢了",
    "ts": "2026-11-01T10:00:00Z", "channel": "wechat", "brand": "云杉",
    "product": {"sku": "P1"},
}  # fmt: skip


def test_every_record_ends_in_exactly_one_place(ingest_ctx: IngestContext) -> None:
    records = [
        record(orjson.dumps(CHAT), offset=1),
        record(orjson.dumps({**CHAT, "role": "agent", "turn_index": 1}), offset=2),
        record(b"garbage", offset=3),
    ]
    outcome = ingest_batch(records, ingest_chat, ingest_ctx, "t.feedback", "t.dlq")
    assert [o.key for o in outcome.outputs] == ["云杉|P1".encode()]
    assert outcome.skipped == 1
    assert outcome.dead_reasons == ["not_json"]
    dead = outcome.dead_letters[0]
    assert (dead.topic, dead.value) == ("t.dlq", b"garbage")
    reason = DeadLetterReason.from_headers(dead.headers or [])
    assert (reason.stage, reason.source_topic, reason.source_partition, reason.source_offset) == (
        "ingest", "t.reviews.raw", 1, 3,
    )  # fmt: skip


def test_event_times_outside_the_window_are_out_of_range_dead_letters(ingest_ctx: IngestContext) -> None:
    # Issue #12: 0001-01-01 blocked the feedback sink forever; 2200-01-01 stored mentions
    # but never the feedback. Both are dead letters at ingest now, with the window in the reason.
    now = datetime(2026, 12, 2, tzinfo=UTC)
    times = [
        "0001-01-01T00:00:00Z", "2200-01-01T00:00:00Z", "1969-12-31T23:59:59Z", "2016-11-01T00:00:00Z",
        "2026-12-03T00:00:01Z", "2016-12-04T00:00:00Z", "2026-12-03T00:00:00Z",
    ]  # fmt: skip
    records = [record(orjson.dumps({**CHAT, "ts": ts}), offset=i) for i, ts in enumerate(times)]
    outcome = ingest_batch(records, ingest_chat, ingest_ctx, "t.feedback", "t.dlq", now=now)
    assert outcome.dead_reasons == ["out_of_range"] * 5
    assert len(outcome.outputs) == 2  # 3,650 days back and one day ahead are still accepted
    reason = DeadLetterReason.from_headers(outcome.dead_letters[0].headers or [])
    assert reason.source_offset == 0 and "0001-01-01" in reason.error_message
    assert "2016-12-04" in reason.error_message and "2026-12-03" in reason.error_message


def test_the_event_time_window_follows_the_settings() -> None:
    ctx = IngestContext(max_message_bytes=4096, customer_ref_salt=b"s", event_time_max_age_s=3_600,
                        event_time_max_future_s=0)  # fmt: skip
    now = datetime(2026, 11, 1, 10, 30, tzinfo=UTC)
    records = [record(orjson.dumps({**CHAT, "ts": ts})) for ts in
               ("2026-11-01T09:29:59Z", "2026-11-01T09:30:00Z", "2026-11-01T10:30:01Z")]  # fmt: skip
    assert ingest_batch(records, ingest_chat, ctx, "t.feedback", "t.dlq", now=now).dead_reasons == [
        "out_of_range", "out_of_range",
    ]  # fmt: skip


def test_unexpected_exception_is_a_processing_error_dead_letter(ingest_ctx: IngestContext) -> None:
    def broken(*_: object) -> None:
        raise ZeroDivisionError("bug")

    outcome = ingest_batch([record(b"{}")], broken, ingest_ctx, "t.feedback", "t.dlq")
    assert outcome.dead_reasons == ["processing_error"]
    reason = DeadLetterReason.from_headers(outcome.dead_letters[0].headers or [])
    assert (reason.error_class, reason.error_message) == ("ZeroDivisionError", "bug")


def test_score_batch_ingests_and_analyzes_in_one_pass(analyzer: Analyzer, ingest_ctx: IngestContext) -> None:
    chats = [
        record(orjson.dumps({**CHAT, "text": "包装破了"}), offset=1),
        record(orjson.dumps({**CHAT, "role": "bot", "turn_index": 1}), offset=2),
        record(b"{}", offset=3),
    ]
    outcome = score_batch(chats, ingest_chat, ingest_ctx, analyzer, "t.scored", "t.dlq")
    [scored] = outcome.outputs
    assert (scored.topic, scored.key) == ("t.scored", "云杉|P1".encode())
    message = ScoredFeedback.model_validate_json(scored.value)
    assert message.aspects[0].aspect == "包装/破损" and message.origin.offset == 1
    assert outcome.skipped == 1 and outcome.dead_reasons == ["schema_invalid"]
    # The feedback, for counting and storing where it was scored: the raw record's
    # coordinates, and the very record that is published.
    [(raw, item, output)] = outcome.scored
    assert raw is chats[0] and output is scored
    assert (item.topic, item.partition, item.offset) == (raw.topic, raw.partition, 1)
    assert item.message == message


def test_an_analyzer_failure_dead_letters_the_raw_record(
    analyzer: Analyzer, ingest_ctx: IngestContext
) -> None:
    class Broken:
        def score(self, _: object) -> None:
            raise RuntimeError("model bug")

    raw = record(orjson.dumps(CHAT), offset=7)
    outcome = score_batch([raw], ingest_chat, ingest_ctx, Broken(), "t.scored", "t.dlq")  # type: ignore[arg-type]
    assert outcome.outputs == [] and outcome.dead_reasons == ["processing_error"]
    dead = outcome.dead_letters[0]
    reason = DeadLetterReason.from_headers(dead.headers or [])
    # The raw bytes, so that `voc dlq replay` sends it back to the raw topic it came from.
    assert (reason.stage, reason.source_topic, reason.source_offset) == ("analyze", "t.reviews.raw", 7)
    assert dead.value == raw.value


def test_feedback_columns_are_aligned() -> None:
    message = ScoredFeedback(
        **feedback("x").model_dump(), polarity=0, score=0.5, taxonomy_version="t", model_version="m"
    )
    item = Stored(message, "t.scored", 2, 40)
    cols = feedback_columns([item], 123)
    assert {len(v) for v in cols.values()} == {1}
    assert (cols["kafka_partition"], cols["kafka_offset"], cols["stored_at_ms"]) == ([2], [40], [123])
    assert cols["event_time"] == [datetime(2026, 11, 1, 10, 0, tzinfo=UTC)]


def test_faust_transport_carries_the_fetch_wait_setting() -> None:
    from faust.transport.drivers import TRANSPORTS

    from pipeline.runtime.faust_transport import transport_scheme

    scheme = transport_scheme(250)
    assert scheme == transport_scheme(250)  # registered once
    transport = TRANSPORTS.by_url(f"{scheme}://127.0.0.1:9092")
    assert transport.fetch_max_wait_ms == 250  # type: ignore[attr-defined]
    assert transport.Consumer.__name__ == "_Consumer"
