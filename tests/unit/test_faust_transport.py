"""The consumer fixes of pipeline/runtime/faust_transport.py, on stand-ins for aiokafka's consumer.

Both caused records to be skipped for good after a restart (the integration test
tests/integration/test_exactly_once.py::test_worker_killed_between_insert_and_commit... lost
45 of 3,000 in CI); these tests pin the behaviour itself.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from aiokafka.structs import TopicPartition
from faust.transport.drivers import aiokafka as faust_aiokafka

from pipeline.runtime.faust_transport import _ConsumerThread, _NonEmptyView

SCORED = [TopicPartition("feedback.scored", p) for p in range(3)]


class StandInConsumer:
    """What ``_seek_to_committed_or_reset`` calls on aiokafka's consumer."""

    def __init__(self, committed: dict[TopicPartition, int | None]):
        self.committed = committed
        self.calls: list[tuple[str, tuple[TopicPartition, ...]]] = []

    async def seek_to_committed(self) -> dict[TopicPartition, int | None]:
        # aiokafka seeks only the partitions with an offset > 0.
        self.calls.append(("committed", tuple(tp for tp, o in self.committed.items() if o and o > 0)))
        return dict(self.committed)

    async def seek_to_beginning(self, *tps: TopicPartition) -> None:
        self.calls.append(("beginning", tps))

    async def seek_to_end(self, *tps: TopicPartition) -> None:
        self.calls.append(("end", tps))


def seek_with(committed: dict[TopicPartition, int | None], policy: str = "earliest") -> StandInConsumer:
    consumer = StandInConsumer(committed)
    thread = object.__new__(_ConsumerThread)  # no Faust service machinery needed here
    thread._consumer = consumer
    conf = type("Conf", (), {"consumer_auto_offset_reset": policy})()
    thread.app = type("App", (), {"conf": conf})()
    returned = asyncio.run(thread._seek_to_committed_or_reset())
    assert returned == committed
    return consumer


def test_a_partition_never_committed_is_sought_to_its_first_record() -> None:
    consumer = seek_with({SCORED[0]: 158, SCORED[1]: None, SCORED[2]: None})
    assert consumer.calls == [("committed", (SCORED[0],)), ("beginning", (SCORED[1], SCORED[2]))]


def test_every_partition_committed_needs_no_reset() -> None:
    consumer = seek_with({tp: 40 for tp in SCORED})
    assert consumer.calls == [("committed", tuple(SCORED))]


def test_the_reset_follows_the_groups_policy() -> None:
    assert seek_with({SCORED[0]: None}, policy="latest").calls[-1] == ("end", (SCORED[0],))


def test_the_active_partitions_view_is_never_falsy_and_follows_the_live_set() -> None:
    live: set[TopicPartition] = {SCORED[0]}
    view = _NonEmptyView(live)
    live.clear()  # recovery pauses the last active partitions while a fetch waits
    assert view  # aiokafka reads a falsy set as "every partition"
    assert SCORED[0] not in view and len(view) == 0 and list(view) == []
    live.add(SCORED[1])
    assert SCORED[1] in view


def test_no_active_partition_fetches_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    fetched: list[Any] = []

    async def parent_fetch(self: Any, consumer: Any, active: Any, **kwargs: Any) -> dict[Any, Any]:
        fetched.append(active)
        return {"records": True}

    monkeypatch.setattr(faust_aiokafka.AIOKafkaConsumerThread, "_fetch_records", parent_fetch)
    thread = object.__new__(_ConsumerThread)
    assert asyncio.run(thread._fetch_records(object(), set(), timeout=1.0)) == {}
    assert fetched == []
    assert asyncio.run(thread._fetch_records(object(), {SCORED[0]}, timeout=1.0)) == {"records": True}
    assert isinstance(fetched[0], _NonEmptyView)


class StandInBuffer:
    """Faust's producer buffer, sending one message per pass of the event loop."""

    def __init__(self, pending: int, stuck: bool = False):
        self.size = pending
        self.stuck = stuck

    async def send_all(self) -> None:
        while self.size and not self.stuck:
            await asyncio.sleep(0)
            self.size -= 1


def test_the_producer_buffer_is_drained_before_the_producer_closes() -> None:
    from pipeline.runtime.faust_transport import drain_producer_buffer

    async def scenario(buffer: StandInBuffer, timeout_s: float) -> int:
        sender = asyncio.create_task(buffer.send_all())
        left = await drain_producer_buffer(type("Producer", (), {"buffer": buffer})(), timeout_s)
        await sender if not buffer.stuck else sender.cancel()
        return left

    buffer = StandInBuffer(pending=250)
    assert asyncio.run(scenario(buffer, timeout_s=5)) == 0
    assert buffer.size == 0
    # A broker that takes nothing: the wait ends, and says how many are lost.
    assert asyncio.run(scenario(StandInBuffer(pending=7, stuck=True), timeout_s=0.1)) == 7


def test_the_worker_producer_is_idempotent() -> None:
    import faust

    from pipeline.runtime.faust_transport import transport_scheme

    app = faust.App("idempotence-test", broker=f"{transport_scheme(100)}://127.0.0.1:9092")
    extra = app.producer._settings_extra()  # type: ignore[attr-defined]
    assert extra["enable_idempotence"] is True and extra["acks"] == "all"
