"""Dead letters hold no personal data by default, expire, and can be replayed once their
cause is fixed (issue #13), on the real broker and ClickHouse."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import orjson
import pytest
from kafka.admin import ConfigResource, ConfigResourceType

from config import REPO_ROOT
from pipeline.dead_letters import PAYLOAD_HEADER
from pipeline.ops.dlq_replay import REPLAYED_FROM_HEADER
from pipeline.runtime.kafka_admin import admin_client
from pipeline.runtime.kafka_connection import KafkaConnection
from schemas.dead_letters import DeadLetterReason
from tests.integration.conftest import Stack

pytestmark = pytest.mark.integration

PHONE = "13912340010"


def voc(stack: Stack, *args: str) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "pipeline.cli", *args], env=stack.env, cwd=REPO_ROOT,
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, f"voc {' '.join(args)} failed:\n{done.stderr[-3000:]}"
    return done.stdout


def review(i: int, created_at: datetime) -> bytes:
    return orjson.dumps({
        "review_id": f"D{i}", "platform": "jd", "brand": "云杉", "product": {"sku": "S1"},
        "text": f"快递太慢了,打我电话{PHONE}", "customer_id": f"C{i}", "created_at": created_at.isoformat(),
    })  # fmt: skip


def test_a_dead_letter_is_masked_expires_and_replays_once_its_cause_is_fixed(
    make_stack: Callable[..., Stack],
) -> None:
    stack = make_stack(dlq_retention_days="2")
    # Three days ahead: out of range under the default (one day ahead at most).
    ahead = datetime.now(UTC).replace(microsecond=0) + timedelta(days=3)
    first = stack.start_worker("first")
    stack.produce(stack.topics.reviews_raw, [review(i, ahead) for i in range(3)], key_field="review_id")
    letters = stack.wait_until("3 dead letters", lambda: stack.read(stack.topics.dlq), lambda r: len(r) >= 3)
    for letter in letters:
        assert DeadLetterReason.from_headers(letter.headers).reason == "out_of_range"
        assert dict(letter.headers)[PAYLOAD_HEADER] == b"masked"
        assert PHONE.encode() not in letter.value
        assert orjson.loads(letter.value)["text"] == "快递太慢了,打我电话<PHONE>"
    with admin_client(KafkaConnection.from_settings(stack.settings)) as admin:
        configs = admin.describe_configs(
            [ConfigResource(ConfigResourceType.TOPIC, stack.topics.dlq, {"retention.ms": None})]
        )
    assert configs["topic"][stack.topics.dlq]["retention.ms"]["value"] == str(2 * 86_400_000)
    stack.stop_worker(first)

    # The cause is fixed (the accepted window widened); a dry run sends nothing.
    stack.env["VOC_EVENT_TIME_MAX_FUTURE_S"] = str(7 * 86_400)
    dry = orjson.loads(voc(stack, "dlq", "replay", "--reason", "out_of_range", "--dry-run", "--json"))
    assert dry["replayed"] == {stack.topics.reviews_raw: 3}
    assert len(stack.read(stack.topics.reviews_raw)) == 3
    done = orjson.loads(voc(stack, "dlq", "replay", "--reason", "out_of_range", "--json"))
    assert done["replayed"] == {stack.topics.reviews_raw: 3}
    raw = stack.read(stack.topics.reviews_raw)
    replayed = [r for r in raw if REPLAYED_FROM_HEADER in dict(r.headers)]
    assert (len(raw), len(replayed)) == (6, 3)
    assert all(PHONE.encode() not in r.value for r in replayed)
    assert orjson.loads(voc(stack, "dlq", "replay", "--reason", "schema_invalid", "--json"))["replayed"] == {}

    stack.start_worker("fixed")
    stack.wait_until(
        "the replayed feedback stored",
        lambda: stack.query("SELECT count(), countIf(position(text, %(p)s) > 0) FROM feedback", {"p": PHONE})[
            0
        ],
        lambda row: row[0] >= 3,
    )
    assert stack.query("SELECT count(), countIf(position(text, %(p)s) > 0) FROM feedback", {"p": PHONE})[
        0
    ] == (3, 0)
