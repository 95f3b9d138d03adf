"""The order in which the recovery resumes the stream partitions (pipeline/runtime/faust_recovery.py).

Faust's own order resumed the stream partitions, awaited the seek while the fetcher delivered
their records into the agents' queues, then cleared those queues: records lost after every
restart. The integration tests (tests/integration/test_exactly_once.py, test_rebalance.py)
catch the loss on a real broker when the race fires; this test pins the order itself.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from config import Settings
from pipeline.runtime.app import create_app
from pipeline.runtime.context import WorkerContext
from pipeline.runtime.faust_recovery import SeekFirstRecovery, SeekFirstTableManager

STREAM = ("feedback.scored", 0)
CHANGELOG = ("voc-pipeline-brand_windows-changelog", 0)


class Recorder:
    """Stands in for the consumer, flow control and fetcher; records what happens, and a
    ``tick`` for every pass of the event loop while the recovery runs."""

    def __init__(self) -> None:
        self.calls: list[str] = []
        self.resumed: set[tuple[str, int]] = set()

    # consumer
    def assignment(self) -> set[tuple[str, int]]:
        return {STREAM, CHANGELOG}

    async def perform_seek(self) -> None:
        self.calls.append("seek starts")
        await asyncio.sleep(0.01)  # a broker round trip: the event loop runs meanwhile
        self.calls.append(f"seek ends (stream resumed: {STREAM in self.resumed})")

    def resume_partitions(self, tps: set[tuple[str, int]]) -> None:
        self.resumed |= tps
        self.calls.append("resume partitions " + ",".join(sorted(t for t, _ in tps)))

    def resume_flow(self) -> None:
        self.calls.append("resume consumer flow")

    # app.flow_control
    def resume(self) -> None:
        self.calls.append("resume flow control (clears the queues)")

    # app._fetcher
    async def maybe_start(self) -> None:
        self.calls.append("fetcher started")


class RecoveryUnderTest:
    """The attributes ``SeekFirstRecovery._seek_then_resume`` reads from its Recovery."""

    def __init__(self, recorder: Recorder) -> None:
        conf = type("Conf", (), {"broker_request_timeout": 5.0})()
        self.app = type(
            "App", (), {"consumer": recorder, "flow_control": recorder, "_fetcher": recorder, "conf": conf}
        )()
        self.completed = asyncio.Event()
        self.log = logging.getLogger("test")

    def _is_changelog_tp(self, tp: tuple[str, int]) -> bool:
        return tp == CHANGELOG

    async def _wait(self, coro: Any, timeout: float) -> None:
        await asyncio.wait_for(coro, timeout)


def run_recovery_end() -> list[str]:
    recorder = Recorder()

    async def scenario() -> None:
        recovery = RecoveryUnderTest(recorder)
        done = False

        async def ticks() -> None:
            while not done:
                recorder.calls.append("tick")
                await asyncio.sleep(0)

        ticker = asyncio.create_task(ticks())
        await asyncio.sleep(0)
        await SeekFirstRecovery._seek_then_resume(recovery)  # type: ignore[arg-type]
        done = True
        await ticker

    asyncio.run(scenario())
    return recorder.calls


def test_the_stream_partitions_are_sought_before_they_are_resumed() -> None:
    calls = [c for c in run_recovery_end() if c != "tick"]
    assert calls[:2] == ["seek starts", "seek ends (stream resumed: False)"]
    assert calls[2] == "resume partitions feedback.scored"  # the changelog stays paused
    assert calls[3:] == [
        "resume flow control (clears the queues)",
        "resume consumer flow",
        "fetcher started",
    ]


def test_nothing_runs_between_resuming_the_partitions_and_clearing_the_queues() -> None:
    calls = run_recovery_end()
    resumed = calls.index("resume partitions feedback.scored")
    cleared = calls.index("resume flow control (clears the queues)")
    # The fetcher loop is one more task: had the event loop run in between, it could have
    # put records in the queues that the clear then drops.
    assert "tick" in calls[: calls.index("seek ends (stream resumed: False)")], "the ticker never ran"
    assert calls[resumed + 1 : cleared] == []


def test_the_worker_app_recovers_with_the_reordered_recovery() -> None:
    app = create_app(WorkerContext.build(Settings()))  # connects to nothing
    assert isinstance(app.tables, SeekFirstTableManager)
    assert isinstance(app.tables.recovery, SeekFirstRecovery)
