"""The malformed-input drill's messages produce exactly the reasons it expects."""

from collections import Counter

from pipeline.ingest import IngestContext, ingest_review
from pipeline.stages import ingest_batch
from pipeline.tools.chaos import malformed_messages
from schemas.records import RawRecord


def test_every_malformed_message_is_the_dead_letter_the_drill_expects() -> None:
    # Regression: truncated JSON cut inside a UTF-8 sequence was not_utf8, not not_json.
    lines, expected = malformed_messages(2_000, 12, 65_536)
    records = [RawRecord("t.reviews.raw", 0, i, 0, None, line) for i, line in enumerate(lines)]
    outcome = ingest_batch(records, ingest_review, IngestContext(65_536, b"salt"), "t.feedback", "t.dlq")
    assert outcome.outputs == []
    assert Counter(outcome.dead_reasons) == expected
    assert sum(expected.values()) == 2_000 and len(expected) == 5
