"""Faust's aiokafka transport with a configurable ``fetch.max.wait.ms``, and two fixes that keep
the worker from skipping records.

**fetch.max.wait.ms.** Faust hard-codes ``fetch_max_wait_ms=1500`` for its worker consumer.
That is how long the broker may hold a fetch when fewer than ``fetch.min.bytes`` (1) are
available. Apache Kafka answers as soon as a record arrives, so the setting costs nothing
there; a broker that holds every fetch until the limit (Tansu does: 423 ms p50 per hop at
1500 ms, 3 ms at 100 ms, measured here) adds it to every hop of the pipeline.
``VOC_CONSUMER_FETCH_MAX_WAIT_MS`` sets it.

**Never-committed partitions are sought too.** Faust seeks the stream partitions to their
committed offsets after every assignment, to undo whatever its fetcher consumed while they
were paused. aiokafka's ``seek_to_committed`` leaves a partition *without* a committed offset
where it is, although the fetcher may have consumed ahead (next fix); Faust then delivers from
there and, since it commits the first run of consecutive acked offsets, commits past what it
never delivered. Here such a partition is sought to where the group's reset policy puts it
(``earliest``: the first record). Measured on Apache Kafka 4.1: a worker killed before its
first commit of ``feedback.scored``, restarted, began that topic one fetch in (offset ~1,437
of partition 0) instead of 0, and 3,590 to 4,775 of 12,000 feedback were never stored while
every offset was committed (7 of 23 runs).

**An empty partition set means none, not all.** Faust passes its live set of active partitions
to aiokafka's ``fetched_records``, which reads an *empty* set as "every partition": when
recovery pauses the last active partitions while a fetch waits, aiokafka hands over (and
counts as consumed) the buffered records of the paused stream partitions, and Faust drops
them because they are not active. Here an empty set returns nothing.

**The producer is idempotent** (``enable.idempotence``, acks=all), so the Kafka client's
retries of a produce request never duplicate or reorder records. A delivery that still fails
(the broker away for longer than the request timeout) is sent again by
``sinks.kafka.KafkaPublisher`` after a backoff; the stages after it drop what they already
counted or stored.

**The producer buffer is drained before the producer closes.** Table changelog updates wait
in Faust's producer buffer; Faust's flush gives up after 0.1 s without a send, and the
producer then closes the Kafka client while the buffer still sends: the buffer crashed with
``ProducerClosed`` and the worker exited 1 after a SIGTERM (1 of 10 checked stops here), the updates
lost although their input offsets were committed. :func:`drain_producer_buffer` waits until
the buffer is empty; the worker calls it before its last commit and the producer before it
closes.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Iterator, Mapping, Set
from typing import Any, cast

import aiokafka
from aiokafka.structs import TopicPartition
from faust.transport.drivers import TRANSPORTS
from faust.transport.drivers import aiokafka as faust_aiokafka

__all__ = ["drain_producer_buffer", "transport_scheme"]

log = logging.getLogger(__name__)


async def drain_producer_buffer(producer: Any, timeout_s: float = 15.0) -> int:
    """Wait until Faust's producer buffer has handed every message to the Kafka client (which
    flushes what it holds when it stops), at most ``timeout_s``; returns how many were left
    (logged: they are lost)."""
    buffer = producer.buffer
    deadline = time.monotonic() + timeout_s
    while buffer.size and time.monotonic() < deadline:
        await asyncio.sleep(0.02)
    if buffer.size:
        log.error("%d buffered messages (table changelog updates) not sent at shutdown", buffer.size)
    return int(buffer.size)


class _NonEmptyView(Set[Any]):
    """A live view of Faust's active partitions that is never falsy (aiokafka reads an empty
    partition set as "all partitions"); membership follows the set as Faust changes it."""

    def __init__(self, partitions: Set[Any]):
        self._partitions = partitions

    def __contains__(self, tp: object) -> bool:
        return tp in self._partitions

    def __iter__(self) -> Iterator[Any]:
        return iter(list(self._partitions))

    def __len__(self) -> int:
        return len(self._partitions)

    def __bool__(self) -> bool:
        return True


class _ConsumerThread(faust_aiokafka.AIOKafkaConsumerThread):
    def _create_worker_consumer(self, transport: Any) -> aiokafka.AIOKafkaConsumer:
        consumer = super()._create_worker_consumer(transport)
        # Read when the consumer starts its fetcher; AIOKafkaConsumer has no setter.
        consumer._fetch_max_wait_ms = type(transport).fetch_max_wait_ms
        return consumer

    async def _fetch_records(
        self,
        consumer: aiokafka.AIOKafkaConsumer,
        active_partitions: Set[TopicPartition],
        timeout: float | None = None,
        max_records: int | None = None,
    ) -> Any:
        if not active_partitions:
            return {}
        live = cast(Any, _NonEmptyView(active_partitions))
        return await super()._fetch_records(consumer, live, timeout=timeout, max_records=max_records)

    async def seek_to_committed(self) -> Mapping[TopicPartition, int]:
        """Seek every assigned partition to its committed offset, and one without a committed
        offset to where the reset policy puts it; returns the committed offsets (None where
        there is none), as aiokafka's does."""
        return cast(Mapping[TopicPartition, int], await self.call_thread(self._seek_to_committed_or_reset))

    async def _seek_to_committed_or_reset(self) -> Mapping[TopicPartition, int]:
        consumer = self._ensure_consumer()
        committed: Mapping[TopicPartition, int] = await consumer.seek_to_committed()
        # aiokafka seeks only offsets > 0; the others stay wherever the fetcher got to.
        never = [tp for tp, offset in committed.items() if not offset or offset <= 0]
        if never:
            policy = self.app.conf.consumer_auto_offset_reset
            if policy == "earliest":
                await consumer.seek_to_beginning(*never)
            elif policy == "latest":
                await consumer.seek_to_end(*never)
        return committed


class _Consumer(faust_aiokafka.Consumer):
    def _new_consumer_thread(self) -> faust_aiokafka.AIOKafkaConsumerThread:
        return _ConsumerThread(self, loop=self.loop, beacon=self.beacon)


class _Producer(faust_aiokafka.Producer):
    def _settings_extra(self) -> Mapping[str, Any]:
        # Idempotent delivery: the client's own retries of a produce request (a lost
        # response, a leader change) can no longer write a record twice or out of order.
        # Requires acks=all, which is Faust's default (producer_acks -1).
        return {**super()._settings_extra(), "acks": "all", "enable_idempotence": True}

    async def on_stop(self) -> None:
        await drain_producer_buffer(self)
        await super().on_stop()


class _Transport(faust_aiokafka.Transport):
    Consumer = _Consumer
    Producer = _Producer
    fetch_max_wait_ms = 1500


def transport_scheme(fetch_max_wait_ms: int) -> str:
    """Register a transport whose consumers use ``fetch_max_wait_ms`` and return the URL
    scheme that selects it (``voc-kafka-<ms>://host:port``)."""
    scheme = f"voc-kafka-{fetch_max_wait_ms}"
    if scheme not in TRANSPORTS.aliases:
        # Faust resolves a transport by import path ("module:attribute"), so each wait gets
        # a module attribute of its own.
        name = f"Transport{fetch_max_wait_ms}"
        globals()[name] = type(name, (_Transport,), {"fetch_max_wait_ms": fetch_max_wait_ms})
        TRANSPORTS.aliases[scheme] = f"{__name__}:{name}"
    return scheme
