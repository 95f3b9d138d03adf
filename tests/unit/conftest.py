from datetime import UTC, datetime

import pytest

from config import Settings, load_alert_rules
from config.alert_rules import AlertRules
from pipeline.ingest import IngestContext
from pipeline.runtime.context import build_analyzer
from pipeline.text.analysis import Analyzer
from schemas.feedback import Feedback, Origin
from schemas.records import RawRecord

T0 = datetime(2026, 11, 1, 10, 0, tzinfo=UTC)


@pytest.fixture(scope="session")
def analyzer() -> Analyzer:
    return build_analyzer(Settings())


@pytest.fixture(scope="session")
def shipped_rules() -> AlertRules:
    return load_alert_rules(Settings().alert_rules_path)


@pytest.fixture
def ingest_ctx() -> IngestContext:
    return IngestContext(max_message_bytes=4096, customer_ref_salt=b"test-salt")


def record(
    value: bytes, topic: str = "t.reviews.raw", offset: int = 7, key: bytes | None = None
) -> RawRecord:
    return RawRecord(
        topic=topic, partition=1, offset=offset, timestamp_ms=1_700_000_000_000, key=key, value=value
    )


def feedback(text: str, **overrides: object) -> Feedback:
    fields: dict[str, object] = {
        "feedback_id": "review:tmall:1",
        "source": "review",
        "channel": "tmall",
        "brand": "云杉",
        "product_sku": "P1",
        "text": text,
        "event_time": T0,
        "origin": Origin(topic="t", partition=0, offset=0, timestamp_ms=0),
    }
    fields.update(overrides)
    return Feedback.model_validate(fields)
