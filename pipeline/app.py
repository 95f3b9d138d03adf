"""The Faust application factory: one worker process runs every stage of the pipeline."""

from __future__ import annotations

from typing import Any, cast

import faust
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from agents import (
    register_analyze_agent,
    register_detect_agent,
    register_ingest_agents,
    register_store_agents,
)
from pipeline.context import WorkerContext
from pipeline.faust_transport import transport_scheme
from sinks.kafka import KafkaPublisher

__all__ = ["create_app"]

_METRICS_CONTENT_TYPE = CONTENT_TYPE_LATEST.split(";")[0] + "; version=0.0.4"


def create_app(ctx: WorkerContext) -> faust.App:
    """Build the Faust app with all agents, the windows table and the HTTP endpoints
    ``/metrics`` (Prometheus) and ``/livez``. Connects to nothing until the worker starts.
    """
    settings = ctx.settings
    scheme = transport_scheme(settings.consumer_fetch_max_wait_ms)
    app = faust.App(
        settings.app_id,
        broker=[f"{scheme}://{host.strip()}" for host in settings.kafka_bootstrap.split(",")],
        store="memory://",
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

    publisher = KafkaPublisher(send)
    register_ingest_agents(app, ctx, publisher)
    register_analyze_agent(app, ctx, publisher)
    register_detect_agent(app, ctx, publisher)
    register_store_agents(app, ctx, publisher)

    async def commit_on_shutdown(sender: Any, **kwargs: Any) -> None:
        # Faust's own last commit happens while it waits for streams to drain, which is
        # switched off above (stream_wait_empty); without this the work of the last commit
        # interval would be read again by the next worker.
        await app.consumer.commit()

    app.on_before_shutdown.connect(cast(Any, commit_on_shutdown))

    @app.page("/metrics")
    async def metrics(web: Any, request: Any) -> Any:
        # aiohttp refuses a charset inside content_type; the exposition format is UTF-8 anyway.
        return web.bytes(generate_latest(ctx.registry), content_type=_METRICS_CONTENT_TYPE)

    @app.page("/livez")
    async def livez(web: Any, request: Any) -> Any:
        return web.json({"status": "ok", "app": settings.app_id})

    return app
