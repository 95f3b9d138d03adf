"""``voc demo``: replay the demo data through a real worker and print what came out."""

from __future__ import annotations

import asyncio
import os
import re
import subprocess
import time
import urllib.request
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import orjson
from clickhouse_driver import Client

from config import Settings
from pipeline.dead_letters import PAYLOAD_HEADER
from pipeline.ingest import IngestContext, ingest_chat, ingest_review, ingest_social, ingest_survey
from pipeline.ops.kafka_io import PRODUCT_KEY, iter_jsonl_lines, produce_lines, read_topic
from pipeline.reporting.report import format_table, render_cases, render_report
from pipeline.runtime.context import ingest_context, load_sentiment_scorer
from pipeline.runtime.kafka_connection import KafkaConnection
from pipeline.runtime.topics import TopicNames
from pipeline.tools.case_service import respond_to_cases
from pipeline.tools.demo_data import COMPETITORS, OWN_BRAND, DemoManifest, write_demo_files
from pipeline.tools.worker_process import start_worker, stop_worker
from schemas.alerts import Alert
from schemas.cases import Case
from schemas.dead_letters import DeadLetterReason
from schemas.feedback import Feedback
from schemas.records import RawRecord

__all__ = ["demo_feedback", "format_alerts", "format_dead_letters", "run_demo"]

_POLL_S = 2.0
_SETTLE_S = 6.0
# One-minute SLAs, so that the case the simulated store service leaves unanswered breaches
# while the demo runs; VOC_CASE_RULES_PATH, when set, wins.
DEMO_CASE_RULES = Path(__file__).resolve().parent.parent.parent / "config" / "case_rules_demo.yaml"
_BREACH_TIMEOUT_S = 180.0


def format_alerts(records: list[bytes], critical_shown: int = 8) -> str:
    """Alerts from the alert topic, deduplicated on alert id: every window alert, then the
    first critical-feedback alerts with where they are routed and why."""
    seen: dict[str, Alert] = {}
    for value in records:
        alert = Alert.model_validate_json(value)
        seen.setdefault(alert.alert_id, alert)
    ordered = sorted(seen.values(), key=lambda a: (a.window_start, a.rule, a.scope.product))
    window = [a for a in ordered if a.kind != "critical_feedback"]
    critical = [a for a in ordered if a.kind == "critical_feedback"]
    rows = [
        (
            a.window_start.strftime("%Y-%m-%d %H:%M"),
            a.kind,
            a.rule,
            a.severity,
            f"{a.scope.brand}/{a.scope.product}/{a.scope.aspect}",
            f"{a.observed:.2f}",
            a.mentions,
            " | ".join(a.verbatims[:2]),
        )
        for a in window
    ]
    critical_rows = [
        (
            a.window_start.strftime("%Y-%m-%d %H:%M"),
            a.routing_key,
            a.reason,
            a.verbatims[0] if a.verbatims else "",
        )
        for a in critical[:critical_shown]
    ]
    return (
        f"{len(seen)} distinct alerts: {len(window)} window alerts, {len(critical)} critical feedback\n"
        + format_table(
            ["window start", "kind", "rule", "severity", "scope", "observed", "mentions", "verbatims"],
            rows,
            48,
        )
        + f"\nCritical feedback (first {min(critical_shown, len(critical))} of {len(critical)}):\n"
        + format_table(["time", "route to", "reason", "verbatim (masked)"], critical_rows, 48)
    )


def format_dead_letters(records: list[RawRecord]) -> str:
    """Dead letters with their reasons and the first bytes of their value (the message as
    ``VOC_DLQ_PAYLOAD`` kept it: masked, original or none, in the ``value`` column's title)."""
    rows = []
    for record in records:
        reason, value = DeadLetterReason.from_headers(record.headers), record.value
        rows.append(
            (
                reason.stage,
                reason.reason,
                reason.source_topic,
                reason.source_offset,
                reason.error_message[:60],
                repr(value[:24]),
            )
        )
    kinds = sorted({dict(r.headers).get(PAYLOAD_HEADER, b"original").decode() for r in records})
    payloads = "/".join(kinds) or "masked"
    return f"{len(rows)} dead letters\n" + format_table(
        ["stage", "reason", "source topic", "offset", "error", f"value ({payloads})"], rows, 62
    )


def _stored_from(client: Client, first_offsets: dict[tuple[str, int], int], since_ms: int) -> int:
    """Feedback stored during this run from this run's raw records (by lineage: origin
    topic, partition and offset), each counted once. Neither a replay of an earlier run's
    records, nor a duplicate row, nor an old row from before a broker restart (offsets start
    again at 0) can make the demo finish before this run's feedback is all stored."""
    if not first_offsets:
        return 0
    conditions: list[str] = []
    params: dict[str, object] = {"since": since_ms}
    for i, ((topic, partition), offset) in enumerate(sorted(first_offsets.items())):
        conditions.append(
            f"(origin_topic = %(t{i})s AND origin_partition = %(p{i})s AND origin_offset >= %(o{i})s)"
        )
        params.update({f"t{i}": topic, f"p{i}": partition, f"o{i}": offset})
    sql = (
        "SELECT uniqExact(origin_topic, origin_partition, origin_offset) FROM feedback "
        f"WHERE stored_at_ms >= %(since)s AND ({' OR '.join(conditions)})"
    )
    return int(client.execute(sql, params)[0][0])


def demo_feedback(manifest: DemoManifest, ingest: IngestContext) -> list[Feedback]:
    """The demo files as the ingest stage turns them into feedback (in process, no broker);
    the invalid messages and the agents' chat turns are left out, as the pipeline does."""
    ingestors = {
        "reviews": ingest_review,
        "chats": ingest_chat,
        "surveys": ingest_survey,
        "social": ingest_social,
    }
    feedback: list[Feedback] = []
    for name, path in manifest.files.items():
        for offset, line in enumerate(iter_jsonl_lines(path)):
            try:
                one = ingestors[name](RawRecord(f"demo.{name}", 0, offset, 0, None, line), ingest)
            except Exception:  # noqa: BLE001 - the demo's invalid messages, on purpose
                continue
            if one is not None:
                feedback.append(one)
    return feedback


def _already_stored(client: Client, settings: Settings, manifest: DemoManifest) -> int:
    """Feedback of the demo files that ClickHouse holds already with the same text and model
    version (an earlier demo run): the sink leaves them out, so this run will not store them."""
    texts = {f.feedback_id: f.text for f in demo_feedback(manifest, ingest_context(settings))}
    if not texts:
        return 0
    rows = client.execute(
        "SELECT DISTINCT feedback_id, text FROM feedback "
        "WHERE model_version = %(mv)s AND feedback_id IN %(ids)s",
        {"mv": load_sentiment_scorer(settings).version, "ids": tuple(texts)},
    )
    return sum(1 for feedback_id, text in rows if texts.get(feedback_id) == text)


def _left_out(metrics_url: str) -> int:
    """The worker's ``voc_feedback_already_stored_total`` (0 while it does not answer). It
    also counts the previous run's records read again after a restart, so a second run may
    stop waiting a little early; the report reads ClickHouse, which holds them anyway."""
    try:
        with urllib.request.urlopen(metrics_url, timeout=5) as response:
            body = response.read().decode()
    except OSError:
        return 0
    match = re.search(r"^voc_feedback_already_stored_total (\S+)$", body, re.MULTILINE)
    return int(float(match.group(1))) if match else 0


def _wait_for(
    what: str,
    probe: Callable[[], int],
    target: int,
    timeout_s: float,
    worker: subprocess.Popen[bytes],
    log_path: Path,
) -> int:
    deadline = time.monotonic() + timeout_s
    value = probe()
    while value < target and time.monotonic() < deadline:
        if worker.poll() is not None:
            tail = log_path.read_text(errors="replace").splitlines()[-15:]
            raise RuntimeError(
                f"the worker exited with code {worker.returncode}; end of {log_path}:\n" + "\n".join(tail)
            )
        print(f"  {what}: {value}/{target}", flush=True)
        time.sleep(_POLL_S)
        value = probe()
    print(f"  {what}: {value}/{target}", flush=True)
    return value


def run_store_service(settings: Settings, client: Client, topics: TopicNames) -> int:
    """Answer the opened cases as a store service would (pipeline.tools.case_service), wait
    for the one left unanswered to breach its SLA, print the cases; the number breached."""
    connection = KafkaConnection.from_settings(settings)
    published = asyncio.run(read_topic(connection, topics.cases, idle_timeout_s=2))
    latest: dict[str, Case] = {}
    for record in published:
        case = Case.model_validate_json(record.value)
        if case.version >= latest.get(case.case_id, case).version:
            latest[case.case_id] = case
    updates = respond_to_cases(list(latest.values()), datetime.now(UTC))
    lines = [update.model_dump_json().encode() for update in updates]
    asyncio.run(produce_lines(connection, topics.case_updates, lines, "brand"))
    answered = len({u.case_id for u in updates})
    print(
        f"[demo] store service: {len(latest)} cases opened on {topics.cases}; acknowledged {answered}, "
        f"resolved {sum(u.kind == 'resolved' for u in updates)}, left {len(latest) - answered} unanswered; "
        "waiting for the SLA (1 minute in the demo) to pass",
        flush=True,
    )
    deadline = time.monotonic() + _BREACH_TIMEOUT_S
    breached = 0
    while time.monotonic() < deadline:
        breached = int(client.execute("SELECT countIf(sla_breached = 1) FROM cases FINAL")[0][0])
        if breached >= len(latest) - answered:
            break
        time.sleep(_POLL_S)
    time.sleep(_SETTLE_S)  # the last updates and the breach alerts reach ClickHouse
    print("\n" + render_cases(client))
    return breached


def run_demo(settings: Settings, client: Client, work_dir: Path, timeout_s: float = 300) -> int:
    """Start a worker, produce the demo files, wait for ClickHouse, print the results.

    Returns a process exit code: 0 when every valid message was stored, else 1.
    """
    topics = TopicNames.in_namespace(settings.topic_namespace)
    manifest: DemoManifest = write_demo_files(work_dir / "data")
    log_path = work_dir / "demo-worker.log"
    print(
        f"[demo] data: {manifest.expected_feedback} feedback expected from "
        f"{sum(1 for f in manifest.files.values() for _ in iter_jsonl_lines(f))} messages "
        f"({manifest.agent_turns} agent chat turns and {manifest.social_without_brand} social posts "
        f"naming no brand skipped, {manifest.invalid_messages} invalid)"
    )
    already = _already_stored(client, settings, manifest)
    to_store = manifest.expected_feedback - already
    if already:
        print(f"[demo] {already} of them are stored already (an earlier run): they will not be stored again")
    first_offsets: dict[tuple[str, int], int] = {}
    started_ms = int(time.time() * 1000)
    print(f"[demo] starting a worker (log: {log_path})", flush=True)
    worker = start_worker({"VOC_CASE_RULES_PATH": str(DEMO_CASE_RULES), **os.environ}, log_path)
    try:
        for name, topic, key in (
            ("reviews", topics.reviews_raw, PRODUCT_KEY),
            ("chats", topics.chats_raw, "conversation_id"),
            ("surveys", topics.surveys_raw, "response_id"),
            ("social", topics.social_raw, "post_id"),
        ):
            offsets: dict[int, int] = {}
            lines = iter_jsonl_lines(manifest.files[name])
            sent = asyncio.run(
                produce_lines(
                    KafkaConnection.from_settings(settings), topic, lines, key, first_offsets=offsets
                )
            )
            first_offsets.update({(topic, partition): offset for partition, offset in offsets.items()})
            print(f"[demo] produced {sent} {name} to {topic}", flush=True)
        print("[demo] waiting for the pipeline to store every feedback in ClickHouse", flush=True)
        metrics_url = f"http://{settings.web_host}:{settings.web_port}/metrics"

        def done() -> int:
            # Stored now, or left out by the sink as stored by an earlier run: both are done,
            # once every feedback that is new has been stored.
            stored = _stored_from(client, first_offsets, started_ms)
            return stored + _left_out(metrics_url) if stored >= to_store else stored

        _wait_for(
            "feedback of this run stored or found stored",
            done,
            manifest.expected_feedback,
            timeout_s,
            worker,
            log_path,
        )
        stored = _stored_from(client, first_offsets, started_ms)
        # Alerts travel one more hop (alert topic → sink): give them a moment to land.
        time.sleep(_SETTLE_S)
        # The demo's brands are one group unless the settings name others.
        groups = settings.brand_groups or {OWN_BRAND: COMPETITORS}
        print("\n" + render_report(client, brand_groups=groups) + "\n")
        alerts = asyncio.run(
            read_topic(KafkaConnection.from_settings(settings), topics.alerts, idle_timeout_s=2)
        )
        print(f"Alert events consumed from {topics.alerts}: " + format_alerts([r.value for r in alerts]))
        breached = run_store_service(settings, client, topics)
        dead = asyncio.run(read_topic(KafkaConnection.from_settings(settings), topics.dlq, idle_timeout_s=2))
        print(f"\nDead letters on {topics.dlq}: " + format_dead_letters(dead))
        ok = stored >= to_store and bool(alerts) and breached > 0
        print(
            f"\n[demo] {'done' if ok else 'INCOMPLETE'}: {stored}/{to_store} new feedback of this run "
            f"stored ({already} stored by an earlier run), "
            f"{len({orjson.loads(r.value)['alert_id'] for r in alerts})} "
            f"alerts on the topic, {breached} case(s) past their SLA, {len(dead)} dead letters"
        )
        return 0 if ok else 1
    finally:
        stop_worker(worker)
