"""The floor of ``voc bench``: the least a loop from the raw topic to ClickHouse can cost.

One process, one aiokafka consumer with the worker's client options and batch size:

    getmany (up to VOC_BATCH_MAX_MESSAGES) → orjson-decode each review → one columnar INSERT
    of its raw fields into ``feedback`` (the worker's ClickHouseWriter) → commit

No validation, text stage, detection, topic publishing or state. Whatever the worker spends
per feedback above this figure is its own work and its runtime's; this much no design of the
worker can save on these clients. Not a runtime: a record it cannot decode stops it.

Run as ``python -m pipeline.tools.bench_floor`` with the worker's VOC_* environment; stops on
SIGTERM or SIGINT after the batch in hand.
"""

from __future__ import annotations

import asyncio
import logging
import signal
import time
from datetime import datetime
from typing import Any

import orjson
from aiokafka import AIOKafkaConsumer, ConsumerRecord
from prometheus_client import CollectorRegistry

from config import Settings
from pipeline.runtime.context import clickhouse_config, retry_policy
from pipeline.runtime.kafka_connection import KafkaConnection
from pipeline.runtime.metrics import PipelineMetrics
from pipeline.runtime.topics import TopicNames
from schemas.records import Columns
from sinks.clickhouse import ClickHouseWriter

__all__ = ["floor_columns", "run_floor"]

log = logging.getLogger(__name__)


def floor_columns(records: list[ConsumerRecord[bytes, bytes]], stored_at_ms: int) -> Columns:
    """The raw review fields of ``records`` as ``feedback`` columns (the rest take defaults)."""
    columns: Columns = {
        name: []
        for name in (
            "feedback_id", "source", "brand", "product_sku", "event_time", "text", "rating",
            "produced_at_ms", "kafka_topic", "kafka_partition", "kafka_offset", "stored_at_ms",
        )
    }  # fmt: skip
    for record in records:
        review = orjson.loads(record.value or b"{}")
        columns["feedback_id"].append(f"review:{review['platform']}:{review['review_id']}")
        columns["source"].append("review")
        columns["brand"].append(review["brand"])
        columns["product_sku"].append(review["product"]["sku"])
        columns["event_time"].append(datetime.fromisoformat(review["created_at"]))
        columns["text"].append(review["text"])
        columns["rating"].append(review.get("rating"))
        columns["produced_at_ms"].append(record.timestamp)
        columns["kafka_topic"].append(record.topic)
        columns["kafka_partition"].append(record.partition)
        columns["kafka_offset"].append(record.offset)
        columns["stored_at_ms"].append(stored_at_ms)
    return columns


async def run_floor(settings: Settings) -> None:
    """Run the loop until SIGTERM/SIGINT; commits after every inserted batch."""
    kafka = KafkaConnection.from_settings(settings)
    topic = TopicNames.in_namespace(settings.topic_namespace).reviews_raw
    consumer: AIOKafkaConsumer = AIOKafkaConsumer(
        topic, **kafka.client_options(), group_id=f"{settings.app_id}-floor",
        enable_auto_commit=False, auto_offset_reset="earliest",
        fetch_max_wait_ms=settings.consumer_fetch_max_wait_ms,
    )  # fmt: skip
    writer = ClickHouseWriter(
        clickhouse_config(settings), PipelineMetrics.create(CollectorRegistry()), retry_policy(settings)
    )
    stopping = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stopping.set)
    await consumer.start()
    stored = 0
    try:
        while not stopping.is_set():
            fetched: dict[Any, list[ConsumerRecord[bytes, bytes]]] = await consumer.getmany(
                timeout_ms=int(settings.batch_max_wait_s * 1000), max_records=settings.batch_max_messages
            )
            records = [record for batch in fetched.values() for record in batch]
            if not records:
                continue
            await writer.insert("feedback", floor_columns(records, int(time.time() * 1000)))
            await consumer.commit()  # only after ClickHouse has the rows
            stored += len(records)
    finally:
        log.warning("floor loop stopping after %d stored feedback", stored)
        await consumer.stop()
        writer.close()


def main() -> None:
    """Entry point: settings from the environment, read once."""
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    asyncio.run(run_floor(Settings()))


if __name__ == "__main__":
    main()
