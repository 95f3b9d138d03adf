"""No personal data leaves the pipeline (issue #13): feedback carrying the seeded PII corpus
goes through a real worker, then every exit is dumped and searched for the corpus's values:
the tables (facts, customer profile, alerts), every topic the worker writes, the dead-letter
topic, the worker's log, its metrics and the HTML report."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson
import pytest

from config import REPO_ROOT
from pipeline.text.normalize import normalize_text
from pipeline.text.pii_eval import PiiCase, generate_corpus
from tests.integration.conftest import Stack

pytestmark = pytest.mark.integration


def review(i: int, text: str, cases: list[PiiCase], now: datetime) -> bytes:
    """A complaint with personal data in its text, product name and variant."""
    product = {
        "sku": f"S{i % 3}",
        "name": f"脐橙 {cases[(i + 1) % len(cases)].value}",
        "variant": cases[(i + 2) % len(cases)].value,
    }
    return orjson.dumps({
        "review_id": f"PII{i}", "platform": "tmall", "brand": "云杉", "product": product, "rating": 1,
        "text": f"{text},我要退货", "customer_id": f"C{i % 5}",
        "created_at": (now - timedelta(minutes=len(cases) - i)).isoformat(),
    })  # fmt: skip


def test_no_corpus_value_reaches_any_exit(make_stack: Callable[..., Stack], tmp_path: Path) -> None:
    stack = make_stack(log_level="info")
    cases = [c for c in generate_corpus(seed=5, per_type=8, negatives=0) if c.positive]
    now = datetime.now(UTC).replace(microsecond=0)
    reviews = [review(i, case.text, cases, now) for i, case in enumerate(cases)]
    # A message that fails ingest keeps its personal data out of the dead-letter topic too.
    broken = orjson.dumps({"review_id": "PIIBAD", "platform": "tmall", "text": cases[0].text})
    worker = stack.start_worker()
    stack.produce(stack.topics.reviews_raw, [*reviews, broken])
    stack.wait_until(
        "every feedback stored",
        lambda: stack.query("SELECT count() FROM feedback")[0][0],
        lambda n: n >= len(reviews),
    )
    stack.wait_until("the dead letter", lambda: stack.read(stack.topics.dlq), lambda r: len(r) >= 1)
    _, metrics = stack.http_get(worker, "/metrics")
    stack.stop_worker(worker)

    exits: dict[str, str] = {"metrics": metrics, "worker log": "".join(
        path.read_text(errors="replace") for path in stack.log_dir.glob("*.log")
    )}  # fmt: skip
    for table in ("feedback", "aspect_mentions", "alerts", "customer_experience"):
        exits[f"table {table}"] = repr(stack.query(f"SELECT * FROM {table}"))
    for topic in (stack.topics.scored, stack.topics.alerts,
                  stack.topics.brand_windows, stack.topics.dlq):  # fmt: skip
        exits[f"topic {topic}"] = "".join(
            r.value.decode(errors="replace") + repr(r.headers) for r in stack.read(topic)
        )
    report = tmp_path / "report.html"
    subprocess.run(
        [sys.executable, "-m", "pipeline.cli", "report", "--html", str(report)],
        env=stack.env, cwd=REPO_ROOT, check=True, capture_output=True, timeout=120,
    )  # fmt: skip
    exits["html report"] = report.read_text()
    assert "<PHONE>" in exits["table feedback"] and "<QQ>" in exits["table feedback"]
    assert exits[f"topic {stack.topics.alerts}"], "no alert was raised: the alert exits were not tried"

    leaks = {
        where: value
        for case in cases
        for value in {case.value, normalize_text(case.value)}
        for where, dump in exits.items()
        if value in dump
    }
    assert not leaks, leaks
