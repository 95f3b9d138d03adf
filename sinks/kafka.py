"""Publishing records to Kafka (derived topics, alerts, dead letters) with confirmed delivery.

:meth:`KafkaPublisher.publish` returns only when the broker acknowledged every record, so a
batch body that calls it may let its input offsets be committed afterwards.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence

from schemas.records import Headers, OutgoingRecord
from sinks.retry import RetryPolicy

__all__ = ["KafkaPublisher", "SendFn"]


SendFn = Callable[[str, bytes | None, bytes, Headers | None], Awaitable[Awaitable[object]]]
"""``await send(topic, key, value, headers)`` enqueues a record and returns its delivery
future (Faust's ``app.producer.send`` with partition and timestamp left to the producer)."""


class KafkaPublisher:
    """Sends records and waits until the broker has them, retrying failed deliveries."""

    def __init__(self, send: SendFn, retry: RetryPolicy):
        self._send = send
        self._retry = retry

    async def publish(self, records: Sequence[OutgoingRecord]) -> None:
        """Deliver all ``records``; retry the failed ones with backoff until they succeed.

        Order per partition is kept on the first attempt; a retried record may land after
        records sent later (consumers must not rely on strict order across a failure).
        """
        pending = list(records)
        backoff = self._retry.start()
        while pending:
            futures = [await self._send(r.topic, r.key, r.value, r.headers) for r in pending]
            results = await asyncio.gather(*futures, return_exceptions=True)
            failed = [r for r, res in zip(pending, results, strict=True) if isinstance(res, BaseException)]
            if not failed:
                return
            first_error = next(res for res in results if isinstance(res, BaseException))
            await backoff.wait(f"delivery of {len(failed)} of {len(pending)} records", first_error)
            pending = failed
