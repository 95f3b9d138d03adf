"""The Faust application factory: one worker process runs every stage of the pipeline."""

from __future__ import annotations

import asyncio
import logging
import tempfile
from pathlib import Path
from typing import Any, cast

import faust
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from agents import (
    register_case_agents,
    register_detect_agent,
    register_ingest_agents,
    register_store_agents,
)
from pipeline.runtime.context import WorkerContext
from pipeline.runtime.faust_recovery import SeekFirstTableManager
from pipeline.runtime.faust_transport import drain_producer_buffer, transport_scheme
from pipeline.runtime.kafka_connection import KafkaConnection
from pipeline.runtime.watchdog import ProgressWatchdog
from sinks.kafka import KafkaPublisher

__all__ = ["create_app", "create_worker"]

log = logging.getLogger(__name__)

_METRICS_CONTENT_TYPE = CONTENT_TYPE_LATEST.split(";")[0] + "; version=0.0.4"


def create_app(ctx: WorkerContext) -> faust.App:
    """Build the Faust app with all agents, the windows tables, the progress watchdog and the
    HTTP endpoints ``/metrics`` (Prometheus), ``/livez`` (503 while a stage is stalled) and
    ``/readyz`` (503 until the worker has joined its group and recovered its tables).
    Connects to nothing until the worker starts.
    """
    settings = ctx.settings
    scheme = transport_scheme(settings.consumer_fetch_max_wait_ms)
    # Tables live in memory (recovered from their changelogs): Faust's data directory holds
    # nothing to keep, so it goes to the temp dir rather than the worker's working directory.
    datadir = Path(tempfile.gettempdir()) / "voc-faust"
    datadir.mkdir(exist_ok=True)
    kafka = KafkaConnection.from_settings(settings)
    app = faust.App(
        settings.app_id,
        broker=[f"{scheme}://{host}" for host in kafka.hosts],
        broker_credentials=kafka.faust_credentials(),
        store="memory://",
        # Seeks the stream partitions before resuming them; Faust's own order loses records
        # after every assignment (pipeline/runtime/faust_recovery.py).
        TableManager=SeekFirstTableManager,
        datadir=str(datadir / "{conf.name}"),
        autodiscover=False,
        topic_partitions=settings.topic_partitions,
        topic_replication_factor=settings.topic_replication_factor,
        # No leader election is used; its extra topic would be one more to pre-create.
        topic_disable_leader=True,
        consumer_auto_offset_reset="earliest",
        broker_commit_interval=settings.commit_interval_s,
        broker_session_timeout=settings.session_timeout_s,
        broker_heartbeat_interval=settings.session_timeout_s / 4,
        producer_linger=settings.producer_linger_ms / 1000,
        # Room for two full batches per agent so take() never starves the fetcher.
        stream_buffer_maxsize=max(4_096, 2 * settings.batch_max_messages),
        # On shutdown Faust would wait for every buffered event to be acked, but take() drops
        # its partial buffer once stopping, so that wait never ends. Unacked events are not
        # committed and are simply read again by the next owner of the partition.
        stream_wait_empty=False,
        web_enabled=True,
        web_host=settings.web_host,
        web_bind=settings.web_host,
        web_port=settings.web_port,
    )

    def send(topic: str, key: bytes | None, value: bytes, headers: Any) -> Any:
        return app.producer.send(topic, key, value, None, None, headers)

    publisher = KafkaPublisher(send, ctx.retry)
    detection = register_detect_agent(app, ctx, publisher)
    sink = register_store_agents(app, ctx, publisher)
    register_ingest_agents(app, ctx, publisher, detection, sink)
    register_case_agents(app, ctx, publisher)

    async def commit_on_shutdown(sender: Any, **kwargs: Any) -> None:
        # Faust's own last commit happens while it waits for streams to drain, which is
        # switched off above (stream_wait_empty); without this the work of the last commit
        # interval would be read again by the next worker. The table changelog updates made
        # from those records are sent first, so that committing does not lose them.
        await drain_producer_buffer(app.producer)
        await app.consumer.commit()

    app.on_before_shutdown.connect(cast(Any, commit_on_shutdown))

    @app.page("/metrics")
    async def metrics(web: Any, request: Any) -> Any:
        # aiohttp refuses a charset inside content_type; the exposition format is UTF-8 anyway.
        return web.bytes(generate_latest(ctx.registry), content_type=_METRICS_CONTENT_TYPE)

    watchdog = ctx.watchdog
    joined = False

    async def on_assigned(sender: Any, assigned: Any, **kwargs: Any) -> None:
        nonlocal joined
        joined = True
        watchdog.assigned((tp.topic, tp.partition) for tp in assigned)

    app.on_partitions_assigned.connect(cast(Any, on_assigned))

    @app.timer(watchdog_interval_s(settings.stall_timeout_s))  # type: ignore[untyped-decorator]
    async def watch_progress() -> None:
        try:
            await check_progress(app, watchdog)
        except Exception as exc:  # noqa: BLE001 - the watchdog must never stop the worker
            log.warning("progress check failed (%r); trying again next time", exc)

    @app.page("/livez")
    async def livez(web: Any, request: Any) -> Any:
        # Unhealthy while a stage is stalled on a partition with input: a supervisor that
        # restarts the worker on this hands the partitions to a fresh consumer.
        stalls = watchdog.stalls()
        if stalls:
            body = {"status": "stalled", "app": settings.app_id, "stalls": [s.to_json() for s in stalls]}
            return web.json(body, status=503)
        return web.json({"status": "ok", "app": settings.app_id})

    @app.page("/readyz")
    async def readyz(web: Any, request: Any) -> Any:
        # Ready once the worker has joined its group and rebuilt its tables' state.
        waiting = [
            reason
            for reason, pending in (
                ("joining the consumer group", not joined or app.rebalancing),
                ("recovering table state", app.in_recovery),
            )
            if pending
        ]
        if waiting:
            return web.json(
                {"status": "starting", "app": settings.app_id, "waiting_for": waiting}, status=503
            )
        return web.json({"status": "ready", "app": settings.app_id})

    return app


def create_worker(app: faust.App, loop: asyncio.AbstractEventLoop, loglevel: str) -> faust.Worker:
    """The Faust worker that runs ``app``, logging at ``loglevel`` and nothing below it.

    Faust's worker draws a progress spinner on stdout during start-up, and to feed it sets
    the root logger to DEBUG for good (``faust.Worker._setup_spinner_handler``): every debug
    call of aiokafka (one per record sent) then builds a log record that the handlers drop,
    about 6% of the worker's CPU in a py-spy profile of ``voc bench``. A service has no
    terminal to spin on, so the worker runs without the spinner.
    """
    worker = faust.Worker(app, loop=loop, loglevel=loglevel)
    worker.spinner = None
    return worker


def watchdog_interval_s(stall_timeout_s: float) -> float:
    """How often the watchdog compares end offsets with progress: often enough that a stall
    is reported within a quarter of the timeout, never more than every 5 s."""
    return min(5.0, stall_timeout_s / 4)


async def check_progress(app: faust.App, watchdog: ProgressWatchdog) -> None:
    """Feed the watchdog the end offsets of the partitions this worker owns, and where each
    stage that has finished nothing there yet starts (committed offset, else earliest)."""
    owned = [tp for tp in app.consumer.assignment() if watchdog.stages_of(tp.topic)]
    if not owned:
        return
    ends = await app.consumer.highwaters(*owned)
    # Faust keeps the group's committed offsets per partition; it has no public accessor.
    committed: dict[Any, int | None] = getattr(app.consumer, "_committed_offset", {})
    starts = {tp: committed.get(tp) for tp in owned}
    never = [tp for tp, offset in starts.items() if offset is None]
    if never:
        starts.update(await app.consumer.earliest_offsets(*never))
    watchdog.check(
        {(tp.topic, tp.partition): int(end) for tp, end in ends.items() if end is not None},
        {(tp.topic, tp.partition): int(offset) for tp, offset in starts.items() if offset is not None},
    )
