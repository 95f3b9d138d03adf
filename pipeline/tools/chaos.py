"""``voc chaos`` (``make chaos``): failure drills on the running local services, with figures.

Not a test: a benchmark-style run whose numbers go into the README. Each drill runs one or
more workers in a namespace and database of its own (pipeline.tools.bench.isolated_run):

- ``kills``: N reviews, then SIGKILL the worker at K seeded random moments (fractions of the
  stream stored) and start a new one each time. Afterwards every exactly-once figure must
  agree: ``count``, ``uniqExact``, ``FINAL`` and the rollup totals of feedback and mentions,
  and the alert table holds each alert id once after ``FINAL``.
- ``clickhouse``: N reviews; once a fifth is stored, ClickHouse is stopped for
  ``outage_s`` (``deploy/local/services.sh down clickhouse``) while the worker keeps
  consuming; the worker's resident memory and ``/livez`` are sampled meanwhile; then
  ClickHouse starts again and the same figures must agree.
- ``malformed``: a clean run of N reviews, then N reviews with M malformed messages of five
  kinds mixed in; exactly M dead letters with the right reasons, and the stored feedback/s of
  the second run against the first.
"""

from __future__ import annotations

import asyncio
import random
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import orjson

from config import REPO_ROOT, Settings
from pipeline.ops.kafka_io import PRODUCT_KEY, produce_lines, read_topic
from pipeline.runtime.context import clickhouse_config
from pipeline.runtime.kafka_connection import KafkaConnection
from pipeline.runtime.topics import TopicNames
from pipeline.tools.bench import isolated_run, synthetic_reviews
from pipeline.tools.worker_process import start_worker, stop_worker
from schemas.dead_letters import DeadLetterReason
from sinks.clickhouse import connect

__all__ = ["DRILLS", "read_until_settled", "run_chaos"]

_SERVICES = REPO_ROOT / "deploy" / "local" / "services.sh"
_POLL_S = 1.0
# The five kinds of malformed input and their share of the malformed messages.
_MALFORMED_MIX = {"not_json": 25, "not_utf8": 25, "schema_invalid": 25, "out_of_range": 20, "too_large": 5}


def _log(message: str) -> None:
    print(f"[chaos] {message}", file=sys.stderr, flush=True)


class _Run:
    """One drill's namespace, database, workers and log directory."""

    def __init__(
        self, settings: Settings, label: str, log_dir: Path, extra_env: dict[str, str] | None = None
    ):
        self.id, self.settings, self.env = isolated_run(settings, label)
        self.env.update(extra_env or {})
        self.topics = TopicNames.in_namespace(self.settings.topic_namespace)
        self.log_dir = log_dir
        log_dir.mkdir(parents=True, exist_ok=True)
        self.workers: list[subprocess.Popen[bytes]] = []
        self.web_port = 0
        self.restarts = 0
        """Workers restarted because their /livez failed."""

    def start(self) -> subprocess.Popen[bytes]:
        self.web_port = 16_066 + len(self.workers)
        env = {**self.env, "VOC_WEB_PORT": str(self.web_port)}
        worker = start_worker(env, self.log_dir / f"{self.id}-worker{len(self.workers)}.log")
        self.workers.append(worker)
        return worker

    def http(self, path: str) -> int:
        """Status of the current worker's endpoint; 0 if it does not answer."""
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.web_port}{path}", timeout=3) as response:
                return int(response.status)
        except urllib.error.HTTPError as exc:
            return int(exc.code)
        except OSError:
            return 0

    def wait_ready(self, timeout_s: float = 120) -> None:
        deadline = time.monotonic() + timeout_s
        while self.http("/readyz") != 200:
            if time.monotonic() > deadline:
                raise RuntimeError(f"worker not ready after {timeout_s}s; see {self.log_dir}")
            time.sleep(0.5)

    def query(self, sql: str, params: dict[str, Any] | None = None) -> list[tuple[Any, ...]]:
        client = connect(clickhouse_config(self.settings))
        try:
            return list(client.execute(sql, params))
        finally:
            client.disconnect()

    def stored(self) -> int:
        """Distinct feedback stored; -1 while ClickHouse does not answer."""
        try:
            return int(self.query("SELECT uniqExact(feedback_id) FROM feedback")[0][0])
        except Exception:  # noqa: BLE001 - ClickHouse is down on purpose in one drill
            return -1

    def supervise(self) -> None:
        """Restart the current worker if its ``/livez`` fails, as its supervisor would."""
        if self.workers and self.workers[-1].poll() is None and self.http("/livez") == 503:
            self.restarts += 1
            _log(f"/livez failed: restarting the worker ({self.restarts} so far)")
            stop_worker(self.workers[-1])
            self.start()

    def wait_stored(self, target: int, timeout_s: float, supervised: bool = True) -> int:
        deadline = time.monotonic() + timeout_s
        stored = self.stored()
        last_print = 0.0
        while stored < target and time.monotonic() < deadline:
            time.sleep(_POLL_S)
            if supervised:
                self.supervise()
            stored = self.stored()
            if time.monotonic() - last_print > 10:
                _log(f"  stored {stored}/{target}")
                last_print = time.monotonic()
        return stored

    def produce(self, lines: list[bytes]) -> None:
        asyncio.run(
            produce_lines(
                KafkaConnection.from_settings(self.settings), self.topics.reviews_raw, lines, PRODUCT_KEY
            )
        )

    def close(self) -> None:
        for worker in self.workers:
            stop_worker(worker)
        admin = connect(clickhouse_config(self.settings, with_database=False))
        admin.execute(f"DROP DATABASE IF EXISTS `{self.settings.clickhouse_database}`")
        admin.disconnect()


_FIGURES_SQL = (
    "SELECT count(), uniqExact(feedback_id), (SELECT count() FROM feedback FINAL), "
    "(SELECT sum(feedback) FROM feedback_rollup_day), (SELECT count() FROM aspect_mentions), "
    "(SELECT sum(mentions) FROM aspect_rollup_day), (SELECT sum(aspect_count) FROM feedback FINAL), "
    "(SELECT count() FROM alerts FINAL), (SELECT uniqExact(alert_id) FROM alerts) FROM feedback"
)
_SETTLE_S = 30.0

T = TypeVar("T")


def read_until_settled(read: Callable[[], T], quiet_s: float = _POLL_S, timeout_s: float = _SETTLE_S) -> T:
    """``read()`` once two calls ``quiet_s`` apart agree (or the last one after ``timeout_s``).

    ClickHouse shows an insert's fact rows before it has written its materialized views' rows,
    so a read right after the facts reached the expected count can see the rollups one insert
    behind (issue #12: 11,815 of 12,000); figures that stay unequal once nothing changes are a
    loss.
    """
    deadline = time.monotonic() + timeout_s
    last = read()
    while True:
        time.sleep(quiet_s)
        value = read()
        if value == last or time.monotonic() > deadline:
            return value
        last = value


def _exactly_once(run: _Run, expected: int) -> dict[str, Any]:
    """Every way of counting the facts, and whether they all agree with ``expected``."""
    row = read_until_settled(lambda: tuple(run.query(_FIGURES_SQL)[0]))
    names = ("rows", "distinct", "final", "rollup_feedback", "mentions", "rollup_mentions",
             "mentions_expected", "alerts_final", "alert_ids")  # fmt: skip
    figures: dict[str, Any] = {name: int(value or 0) for name, value in zip(names, row, strict=True)}
    alert_events = asyncio.run(
        read_topic(KafkaConnection.from_settings(run.settings), run.topics.alerts, 3.0, 120.0)
    )
    ids = Counter(orjson.loads(r.value)["alert_id"] for r in alert_events)
    figures["alert_events_on_topic"] = len(alert_events)
    figures["alert_ids_on_topic"] = len(ids)
    figures["exact"] = (
        figures["rows"] == figures["distinct"] == figures["final"] == figures["rollup_feedback"] == expected
        and figures["mentions"] == figures["rollup_mentions"] == figures["mentions_expected"]
        and figures["alerts_final"] == figures["alert_ids"] == len(ids)
    )
    figures["lost"] = expected - figures["distinct"]
    figures["duplicate_rows"] = figures["rows"] - figures["distinct"]
    return figures


def _rss_mb(worker: subprocess.Popen[bytes]) -> float | None:
    try:
        for line in Path(f"/proc/{worker.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return round(int(line.split()[1]) / 1024, 1)
    except OSError:
        return None
    return None


def drill_kills(
    settings: Settings, count: int, kills: int, seed: int, log_dir: Path, timeout_s: float
) -> dict[str, Any]:
    """SIGKILL the worker ``kills`` times at random points of the stream."""
    run = _Run(settings, "chaoskill", log_dir)
    try:
        rng = random.Random(seed)
        points = sorted(int(count * rng.uniform(0.05, 0.9)) for _ in range(kills))
        run.produce(synthetic_reviews(count, "K", seed))
        started = time.monotonic()
        run.start()
        killed_at = []
        for point in points:
            run.wait_stored(point, timeout_s)
            stored = run.stored()
            run.workers[-1].send_signal(signal.SIGKILL)
            run.workers[-1].wait()
            killed_at.append(stored)
            _log(f"kill {len(killed_at)}/{kills}: SIGKILL at {stored} stored; starting another worker")
            run.start()
        stored = run.wait_stored(count, timeout_s)
        elapsed = time.monotonic() - started
        time.sleep(3)  # alerts and windows trail the feedback sink by a batch
        return {"count": count, "killed_at_stored": killed_at, "stored": stored,
                "seconds": round(elapsed, 1), "livez_restarts": run.restarts,
                **_exactly_once(run, count)}  # fmt: skip
    finally:
        run.close()


def drill_clickhouse_outage(
    settings: Settings, count: int, outage_s: float, log_dir: Path, timeout_s: float
) -> dict[str, Any]:
    """Stop ClickHouse for ``outage_s`` under load, then start it again."""
    run = _Run(settings, "chaosch", log_dir)
    try:
        worker = run.start()
        run.wait_ready()
        run.produce(synthetic_reviews(count, "O", 11))
        run.wait_stored(count // 5, timeout_s)
        worker = run.workers[-1]
        before_mb = _rss_mb(worker)
        _log(f"stopping ClickHouse for {outage_s:.0f}s (worker RSS {before_mb} MB)")
        subprocess.run(["bash", str(_SERVICES), "down", "clickhouse"], check=True)
        stopped = time.monotonic()
        rss: list[float] = []
        livez: Counter[int] = Counter()
        while time.monotonic() - stopped < outage_s:
            if worker.poll() is not None:
                raise RuntimeError(f"the worker exited during the outage (code {worker.returncode})")
            if (mb := _rss_mb(worker)) is not None:
                rss.append(mb)
            livez[run.http("/livez")] += 1
            time.sleep(5)
        _log(f"starting ClickHouse again (worker RSS {rss[-1] if rss else None} MB)")
        subprocess.run(["bash", str(_SERVICES), "up", "clickhouse"], check=True)
        restarted = time.monotonic()
        # Unsupervised: /livez still reports the outage's stall until the sink's retry (up to
        # VOC_SINK_RETRY_MAX_BACKOFF_S away) finishes a batch; the worker recovers by itself.
        stored = run.wait_stored(count, timeout_s, supervised=False)
        caught_up_s = time.monotonic() - restarted
        time.sleep(3)
        return {
            "count": count, "outage_s": outage_s, "stored": stored,
            "worker_alive_through_outage": worker.poll() is None,
            "rss_mb_before": before_mb, "rss_mb_during_min": min(rss, default=None),
            "rss_mb_during_max": max(rss, default=None), "rss_mb_after": _rss_mb(worker),
            "livez_during_outage": {str(code): n for code, n in sorted(livez.items())},
            "livez_after": run.http("/livez"), "catch_up_s": round(caught_up_s, 1),
            **_exactly_once(run, count),
        }  # fmt: skip
    finally:
        subprocess.run(["bash", str(_SERVICES), "up", "clickhouse"], check=False)
        run.close()


def malformed_messages(count: int, seed: int, max_message_bytes: int) -> tuple[list[bytes], Counter[str]]:
    """``count`` malformed raw reviews in the mix of :data:`_MALFORMED_MIX`, and how many of
    each reason they must produce."""
    rng = random.Random(seed)
    valid = synthetic_reviews(1, "M", seed)[0]
    kinds: list[str] = []
    for kind, share in _MALFORMED_MIX.items():
        kinds += [kind] * (count * share // 100)
    kinds += ["not_json"] * (count - len(kinds))
    lines: list[bytes] = []
    for i, kind in enumerate(kinds):
        review = orjson.loads(valid) | {"review_id": f"BAD{i}"}
        if kind == "not_json":
            # Cut on a character boundary: a cut inside a UTF-8 sequence would be not_utf8.
            line = orjson.dumps(review).decode()[: rng.randrange(5, 60)].encode()
        elif kind == "not_utf8":
            line = orjson.dumps(review).replace("好".encode(), b"\xff\xfe", 1) + b"\xc3\x28"
        elif kind == "schema_invalid":
            line = orjson.dumps(
                {**review, "rating": 9} if i % 2 else {k: v for k, v in review.items() if k != "brand"}
            )
        elif kind == "out_of_range":
            line = orjson.dumps({**review, "created_at": "0001-01-01T00:00:00Z"})
        else:
            line = orjson.dumps({**review, "text": "长" * (max_message_bytes // 3 + 1)})
        lines.append(line)
    return lines, Counter(kinds)


def _throughput(run: _Run) -> float:
    n, first_produced, last_stored = run.query(
        "SELECT count(), min(produced_at_ms), max(stored_at_ms) FROM feedback"
    )[0]
    return round(int(n) / max(1e-3, (int(last_stored) - int(first_produced)) / 1000), 1)


def drill_malformed(
    settings: Settings, count: int, malformed: int, seed: int, log_dir: Path, timeout_s: float
) -> dict[str, Any]:
    """A clean run, then the same with ``malformed`` bad messages mixed in."""
    results: dict[str, Any] = {}
    for label, bad in (("clean", 0), ("malformed", malformed)):
        run = _Run(settings, f"chaos{label}", log_dir)
        try:
            run.start()
            run.wait_ready()
            lines = synthetic_reviews(count, "V", seed)
            poison, expected = malformed_messages(bad, seed, settings.max_message_bytes)
            rng = random.Random(seed)
            for line in poison:  # spread over the stream
                lines.insert(rng.randrange(len(lines) + 1), line)
            _log(f"{label}: {count} reviews and {bad} malformed messages")
            run.produce(lines)
            run.wait_stored(count, timeout_s)
            figures: dict[str, Any] = {"throughput_per_s": _throughput(run), "livez_restarts": run.restarts}
            figures.update(_exactly_once(run, count))
            if bad:
                dead = asyncio.run(
                    read_topic(KafkaConnection.from_settings(run.settings), run.topics.dlq, 5.0, 300.0)
                )
                reasons = Counter(DeadLetterReason.from_headers(r.headers).reason for r in dead)
                figures.update(dead_letters=len(dead), reasons=dict(reasons), reasons_expected=dict(expected),
                               reasons_right=reasons == expected)  # fmt: skip
            results[label] = figures
        finally:
            run.close()
    clean, dirty = results["clean"]["throughput_per_s"], results["malformed"]["throughput_per_s"]
    results["throughput_ratio"] = round(dirty / clean, 3) if clean else None
    return results


DRILLS = ("kills", "clickhouse", "malformed")


def run_chaos(
    settings: Settings,
    drills: tuple[str, ...],
    count: int,
    kills: int,
    outage_s: float,
    malformed: int,
    seed: int,
    log_dir: Path,
    timeout_s: float,
) -> dict[str, Any]:
    """Run the chosen drills one after another; returns their figures by drill."""
    result: dict[str, Any] = {}
    for drill in drills:
        _log(f"drill {drill}")
        if drill == "kills":
            result[drill] = drill_kills(settings, count, kills, seed, log_dir, timeout_s)
        elif drill == "clickhouse":
            result[drill] = drill_clickhouse_outage(settings, count, outage_s, log_dir, timeout_s)
        else:
            result[drill] = drill_malformed(settings, count, malformed, seed, log_dir, timeout_s)
        _log(f"{drill}: {orjson.dumps(result[drill]).decode()}")
    return result
