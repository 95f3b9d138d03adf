"""``voc bench``: end-to-end throughput and latency of the worker on the running services,
beside the Faust-free baseline loop (pipeline.tools.bench_baseline) on the same data.

Produces N synthetic reviews (real review texts from the demo sample, unique ids, event times
advancing at ``--feedback-per-hour`` and ending now, so that windows close and fingerprints
expire as in production) into a fresh namespace, as fast as possible or at ``--rate``, with
the worker processes running, and reads the result back from ClickHouse; then the same for the
baseline loop in another fresh namespace. Topics and databases of a run are deleted after it.
Every feedback row carries the raw record's Kafka timestamp (``produced_at_ms``) and the time
its batch was stored (``stored_at_ms``). Figures:

- throughput: N / (last stored - first produced), i.e. sustained feedback/s end to end;
- latency: quantiles of stored - produced per feedback (includes queueing when saturated);
- critical-alert latency: for each ``critical_feedback`` alert on ``{ns}.alerts`` (the demo
  texts include safety, complaint and churn wording), the alert record's Kafka timestamp
  minus the raw review's, i.e. from the input being produced to the alert being on the topic;
- memory: each process's resident and peak resident MB once the last feedback is stored;
- state: bytes of the table changelogs on the broker (DescribeLogDirs), in all and per feedback;
- growth: RSS and changelog bytes per feedback each time another tenth of the run (at least
  10,000 feedback) is stored, so a long run shows whether either grows with traffic.
"""

from __future__ import annotations

import asyncio
import csv
import os
import random
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson

from config import Settings
from pipeline.ops.kafka_io import PRODUCT_KEY, key_of, new_producer, produce_lines, read_topic
from pipeline.runtime.context import clickhouse_config, ensure_pipeline_topics
from pipeline.runtime.kafka_admin import admin_client, delete_topics
from pipeline.runtime.kafka_connection import KafkaConnection
from pipeline.runtime.topics import TABLES, TopicNames, changelog_topic
from pipeline.tools.demo_data import BRANDS, CATEGORIES, REVIEW_SAMPLE
from pipeline.tools.proc_cpu import CpuMeter, service_pids
from pipeline.tools.worker_process import start_worker, stop_worker
from schemas.alerts import Alert
from sinks.clickhouse import connect
from sinks.migrations import apply_migrations

__all__ = ["isolated_run", "run_bench", "synthetic_reviews"]

_WARMUP = 200
_IDS_PER_QUERY = 2_000


def synthetic_reviews(
    count: int,
    prefix: str,
    seed: int = 7,
    *,
    first_event: datetime | None = None,
    per_hour: float | None = None,
) -> list[bytes]:
    """``count`` reviews (``review:tmall:{prefix}{i}``) with the demo sample's real texts,
    random brands, ratings and customers. Event time: now for all, or, with ``per_hour``,
    ``first_event`` (default now) plus ``i / per_hour`` hours for the i-th."""
    rng = random.Random(seed)
    with REVIEW_SAMPLE.open(encoding="utf-8") as handle:
        texts = [(row["cat"], row["review"]) for row in csv.DictReader(handle)]
    start = first_event or datetime.now(UTC)
    step = timedelta(hours=1 / per_hour) if per_hour else timedelta(0)
    lines = []
    for i in range(count):
        cat, text = texts[i % len(texts)]
        brand = rng.choice(BRANDS)
        lines.append(orjson.dumps({
            "review_id": f"{prefix}{i}", "platform": "tmall", "brand": brand,
            "product": {"sku": f"{brand}-{CATEGORIES[cat][0]}"}, "rating": rng.randint(1, 5),
            "text": text, "created_at": (start + i * step).isoformat(),
            "customer_id": f"C{rng.randrange(10_000)}",
        }))  # fmt: skip
    return lines


async def _produce_paced(kafka: KafkaConnection, topic: str, lines: list[bytes], rate: float | None) -> None:
    if not rate:
        await produce_lines(kafka, topic, lines, PRODUCT_KEY)
        return
    chunk = max(1, int(rate / 20))  # 20 chunks a second
    started = time.monotonic()
    # One producer for the whole run; sleep between chunks to hold the rate.
    producer = new_producer(kafka)
    await producer.start()
    try:
        for i in range(0, len(lines), chunk):
            futures = [
                await producer.send(topic, line, key=key_of(line, PRODUCT_KEY))
                for line in lines[i : i + chunk]
            ]
            await asyncio.gather(*futures)
            ahead = started + (i + chunk) / rate - time.monotonic()
            if ahead > 0:
                await asyncio.sleep(ahead)
    finally:
        await producer.stop()


def _count(client: Any, prefix: str) -> int:
    sql = "SELECT count() FROM feedback WHERE startsWith(feedback_id, %(p)s)"
    return int(client.execute(sql, {"p": f"review:tmall:{prefix}"})[0][0])


def _wait(
    client: Any,
    prefix: str,
    target: int,
    timeout_s: float,
    processes: list[subprocess.Popen[bytes]],
    on_progress: Callable[[int], None] | None = None,
) -> int:
    """Poll until ``target`` feedback of the prefix are stored, the time is up or a process
    died; ``on_progress(stored)`` after every poll."""
    deadline = time.monotonic() + timeout_s
    stored = _count(client, prefix)
    while stored < target and time.monotonic() < deadline and all(p.poll() is None for p in processes):
        time.sleep(0.5)
        stored = _count(client, prefix)
        print(f"  stored {stored}/{target}", file=sys.stderr, flush=True)
        if on_progress is not None:
            on_progress(stored)
    return stored


class _Growth:
    """RSS of each process and changelog bytes per feedback, sampled each time another
    ``every`` feedback are stored."""

    def __init__(self, settings: Settings, processes: list[subprocess.Popen[bytes]], every: int):
        self.settings = settings
        self.processes = processes
        self.every = every
        self.next_mark = every
        self.samples: list[dict[str, Any]] = []

    def __call__(self, stored: int) -> None:
        if stored < self.next_mark:
            return
        self.next_mark = (stored // self.every + 1) * self.every
        changelog = _changelog_bytes(KafkaConnection.from_settings(self.settings), self.settings.app_id)
        sample = {
            "stored": stored,
            "rss_mb": [(_rss_mb(p.pid) or {}).get("rss") for p in self.processes],
            "changelog_bytes_per_feedback": round(changelog / (stored + _WARMUP), 1),
        }
        self.samples.append(sample)
        # Also on stderr at once: a long run that fails later still leaves its growth figures.
        print(f"  growth {orjson.dumps(sample).decode()}", file=sys.stderr, flush=True)


def _critical_alert_latencies(settings: Settings, topics: TopicNames, client: Any) -> list[int]:
    """Alert record timestamp minus raw review timestamp, per critical alert of the run."""
    records = asyncio.run(
        read_topic(KafkaConnection.from_settings(settings), topics.alerts, idle_timeout_s=3.0)
    )
    alerted_at: dict[str, int] = {}
    for record in records:
        alert = Alert.model_validate_json(record.value)
        if alert.kind == "critical_feedback" and alert.sample_feedback_ids[0].startswith("review:tmall:B"):
            alerted_at[alert.sample_feedback_ids[0]] = record.timestamp_ms
    if not alerted_at:
        return []
    produced: dict[str, int] = {}
    ids = sorted(alerted_at)
    # In chunks: a 1M run raises ~16,000 critical alerts, and their ids in one IN list passed
    # ClickHouse's max_query_size (256 KiB), which failed the run after it had finished.
    for first in range(0, len(ids), _IDS_PER_QUERY):
        chunk = tuple(ids[first : first + _IDS_PER_QUERY])  # a tuple renders as (..) for IN
        produced.update(
            client.execute(
                "SELECT feedback_id, any(produced_at_ms) FROM feedback "
                "WHERE feedback_id IN %(ids)s GROUP BY feedback_id",
                {"ids": chunk},
            )
        )
    return sorted(alerted_at[i] - produced[i] for i in alerted_at if i in produced)


def _quantiles(values: list[int]) -> dict[str, int] | None:
    if not values:
        return None
    return {
        "n": len(values),
        "p50": values[len(values) // 2],
        "p99": values[min(len(values) - 1, int(len(values) * 0.99))],
        "max": values[-1],
    }


def isolated_run(settings: Settings, label: str) -> tuple[str, Settings, dict[str, str]]:
    """A run id, settings for a namespace, group and database of its own (topics created,
    migrations applied) and the environment a worker of that run starts with."""
    run = uuid.uuid4().hex[:8]
    settings = settings.model_copy(update={
        "topic_namespace": f"{label}{run}", "app_id": f"voc-{label}-{run}",
        "clickhouse_database": f"voc_{label}_{run}",
    })  # fmt: skip
    ensure_pipeline_topics(settings)
    admin = connect(clickhouse_config(settings, with_database=False))
    apply_migrations(admin, settings.clickhouse_database, settings.migrations_dir)
    admin.disconnect()
    env = {
        **os.environ,
        "VOC_TOPIC_NAMESPACE": settings.topic_namespace,
        "VOC_APP_ID": settings.app_id,
        "VOC_CLICKHOUSE_DATABASE": settings.clickhouse_database,
        "VOC_LOG_LEVEL": "warning",
    }
    return run, settings, env


def _rss_mb(pid: int) -> dict[str, float] | None:
    """Resident and peak resident memory of a running process (Linux /proc), in MB."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return None
    fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
    return {
        name: round(int(fields[key].split()[0]) / 1024, 1)
        for name, key in (("rss", "VmRSS"), ("peak", "VmHWM"))
    }


def _changelog_bytes(kafka: KafkaConnection, app_id: str) -> int:
    """Bytes on the broker's disks of the app's table changelogs (DescribeLogDirs)."""
    return sum(_changelog_bytes_by_table(kafka, app_id).values())


def _changelog_bytes_by_table(kafka: KafkaConnection, app_id: str) -> dict[str, int]:
    """Bytes on the broker's disks of each of the app's table changelogs, by table name."""
    prefix, suffix = f"{app_id}-", "-changelog"
    with admin_client(kafka) as admin:
        described = admin.describe_log_dirs()
    sizes: dict[str, int] = {}
    for broker in described:
        for log_dir in broker["log_dirs"]:
            for topic in log_dir["topics"]:
                name = topic["name"]
                if name.startswith(prefix) and name.endswith(suffix):
                    table = name[len(prefix) : -len(suffix)]
                    sizes[table] = sizes.get(table, 0) + sum(p["partition_size"] for p in topic["partitions"])
    return sizes


def _measure(
    settings: Settings,
    label: str,
    commands: list[tuple[str, ...]],
    count: int,
    rate: float | None,
    log_dir: Path,
    timeout_s: float,
    per_hour: float,
) -> dict[str, Any]:
    """Start ``commands`` (worker processes, or the baseline) in a fresh namespace and
    database, push a warm-up and then ``count`` reviews through, and read the figures back."""
    run, settings, env = isolated_run(settings, label)
    topics = TopicNames.in_namespace(settings.topic_namespace)
    admin = connect(clickhouse_config(settings, with_database=False))
    client = connect(clickhouse_config(settings))
    log_dir.mkdir(parents=True, exist_ok=True)
    log_path = log_dir / f"{label}-{run}.log"
    processes = []
    for i, command in enumerate(commands):
        # Each worker process serves its own metrics port.
        processes.append(start_worker({**env, "VOC_WEB_PORT": str(settings.web_port + i)}, log_path, command))
    # Event times end now: the warm-up first, then the run, at per_hour feedback an hour.
    first_event = datetime.now(UTC) - timedelta(hours=(count + _WARMUP) / per_hour)
    try:
        warmup = synthetic_reviews(_WARMUP, "W", first_event=first_event, per_hour=per_hour)
        asyncio.run(
            produce_lines(KafkaConnection.from_settings(settings), topics.reviews_raw, warmup, PRODUCT_KEY)
        )
        if _wait(client, "W", _WARMUP, timeout_s, processes) < _WARMUP:
            raise RuntimeError(f"warm-up did not complete; see {log_path}")
        run_start = first_event + timedelta(hours=_WARMUP / per_hour)
        lines = synthetic_reviews(count, "B", first_event=run_start, per_hour=per_hour)
        growth = _Growth(settings, processes, every=max(count // 10, 10_000))
        # CPU from here (warm-up stored, models loaded) to the last feedback stored.
        cpu = CpuMeter({"process": [p.pid for p in processes], **service_pids()})
        cpu.start()
        produce_started, producer_cpu = time.monotonic(), time.process_time()
        asyncio.run(_produce_paced(KafkaConnection.from_settings(settings), topics.reviews_raw, lines, rate))
        produce_s, producer_cpu_s = time.monotonic() - produce_started, time.process_time() - producer_cpu
        stored = _wait(client, "B", count, timeout_s, processes, on_progress=growth)
        cpu.stop()
        memory = [_rss_mb(p.pid) for p in processes]
        row = client.execute(
            "SELECT count(), min(produced_at_ms), max(produced_at_ms), max(stored_at_ms), "
            "quantileExact(0.5)(stored_at_ms - produced_at_ms), "
            "quantileExact(0.99)(stored_at_ms - produced_at_ms), max(stored_at_ms - produced_at_ms) "
            "FROM feedback WHERE startsWith(feedback_id, 'review:tmall:B')"
        )[0]
        n, first_produced, _, last_stored, p50, p99, worst = row
        critical = _critical_alert_latencies(settings, topics, client)
        by_table = _changelog_bytes_by_table(KafkaConnection.from_settings(settings), settings.app_id)
        changelog = sum(by_table.values())
        throughput = n / max(1e-3, (last_stored - first_produced) / 1000)
        return {
            "processes": len(processes),
            "count": count,
            "stored": stored,
            "rows": n,
            "target_rate": rate,
            "produce_rate": round(count / produce_s, 1),
            "throughput_per_s": round(throughput, 1),
            "throughput_per_process_per_s": round(throughput / len(processes), 1),
            "latency_ms": {"p50": p50, "p99": p99, "max": worst},
            "cpu_us_per_feedback": {
                **cpu.per_item_us(stored),
                "producer": round(producer_cpu_s * 1e6 / max(1, count), 1),
            },
            "critical_alert_latency_ms": _quantiles(critical),
            "rss_mb": memory,
            "changelog_bytes": changelog,
            "changelog_bytes_per_feedback": round(changelog / (count + _WARMUP), 1),
            "changelog_bytes_per_feedback_by_table": {
                table: round(size / (count + _WARMUP), 1) for table, size in sorted(by_table.items())
            },
            "growth": growth.samples,
            "feedback_per_hour_of_event_time": per_hour,
            "partitions": settings.topic_partitions,
            "batch_max_messages": settings.batch_max_messages,
            "log": str(log_path),
        }
    finally:
        for process in processes:
            stop_worker(process)
        admin.execute(f"DROP DATABASE IF EXISTS `{settings.clickhouse_database}`")
        delete_topics(KafkaConnection.from_settings(settings), [*topics.all(), *_changelogs(settings.app_id)])


def _changelogs(app_id: str) -> list[str]:
    return [changelog_topic(app_id, table) for table in TABLES]


WORKER = ("pipeline.cli", "worker")
BASELINE = ("pipeline.tools.bench_baseline",)
FLOOR = ("pipeline.tools.bench_floor",)


def run_bench(
    settings: Settings,
    count: int,
    rate: float | None,
    log_dir: Path,
    timeout_s: float,
    workers: int = 1,
    baseline: bool = True,
    per_hour: float = 100_000,
    floor: bool = True,
) -> dict[str, Any]:
    """One benchmark of ``workers`` worker processes and, on the same data and services, one
    of the Faust-free baseline loop (pipeline.tools.bench_baseline) and one of the floor
    (pipeline.tools.bench_floor: raw topic → JSON → ClickHouse, nothing else); each in a
    fresh namespace and database. Returns each run, the worker / baseline throughput ratio,
    and the CPU µs per feedback of the worker processes, the baseline and the floor, with the
    worker / floor ratio."""
    result: dict[str, Any] = {
        "worker": _measure(settings, "bench", [WORKER] * workers, count, rate, log_dir, timeout_s, per_hour)
    }
    result["worker_cpu_us_per_feedback"] = result["worker"]["cpu_us_per_feedback"]["process"]
    if baseline:
        result["baseline"] = _measure(
            settings, "benchbase", [BASELINE], count, rate, log_dir, timeout_s, per_hour
        )
        result["worker_to_baseline"] = round(
            result["worker"]["throughput_per_process_per_s"] / result["baseline"]["throughput_per_s"], 3
        )
        result["baseline_cpu_us_per_feedback"] = result["baseline"]["cpu_us_per_feedback"]["process"]
    if floor:
        result["floor"] = _measure(settings, "benchfloor", [FLOOR], count, rate, log_dir, timeout_s, per_hour)
        result["floor_cpu_us_per_feedback"] = result["floor"]["cpu_us_per_feedback"]["process"]
        result["worker_to_floor_cpu"] = round(
            result["worker_cpu_us_per_feedback"] / max(0.1, result["floor_cpu_us_per_feedback"]), 2
        )
    return result
