"""Stall detection: every stage must make progress on every partition that has input.

A stage *progresses* on a partition when it finishes a batch there (the batch's effect is
durable and it is acked). A stage is *stalled* on a partition when records are waiting
there (its lag is above zero) and it has finished no batch on it for ``stall_timeout_s``:
a consumer that stopped fetching, an agent stuck in a retry loop, a sink whose database is
gone. The worker's ``/livez`` fails while anything is stalled, so that a supervisor restarts
it; ``voc_partition_stalled`` and ``voc_consumer_lag_messages`` say where.

Pure bookkeeping with an injectable clock; the Faust app feeds it (pipeline.runtime.app).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

from pipeline.runtime.metrics import PipelineMetrics

__all__ = ["ProgressWatchdog", "Stall", "TopicPartitionKey"]

log = logging.getLogger(__name__)

TopicPartitionKey = tuple[str, int]
"""(topic, partition)."""


@dataclass(frozen=True, slots=True)
class Stall:
    """One stage stalled on one partition."""

    stage: str
    topic: str
    partition: int
    lag: int
    idle_s: float
    kind: str = "stalled"
    """``stalled`` (no progress with input waiting) or ``skipped`` (records never delivered)."""

    def to_json(self) -> dict[str, object]:
        """For ``/livez``."""
        return {
            "kind": self.kind,
            "stage": self.stage,
            "topic": self.topic,
            "partition": self.partition,
            "lag": self.lag,
            "idle_s": round(self.idle_s, 1),
        }


@dataclass(slots=True)
class _Progress:
    next_offset: int | None
    """The offset after the last one finished; None until a batch finished here."""
    since: float
    """When the stage last finished a batch here, or when it got the partition."""


class ProgressWatchdog:
    """Tracks, per stage and partition, the last finished offset and when it was finished.

    Call :meth:`register` once per stage, :meth:`finished` after each acked batch,
    :meth:`assigned` on every rebalance, and :meth:`check` periodically with the partitions'
    end offsets; :meth:`stalls` is what ``/livez`` reports.
    """

    def __init__(
        self,
        stall_timeout_s: float,
        metrics: PipelineMetrics,
        clock: Callable[[], float] = time.monotonic,
    ):
        self._timeout_s = stall_timeout_s
        self._metrics = metrics
        self._clock = clock
        self._topics_of: dict[str, tuple[str, ...]] = {}
        self._progress: dict[tuple[str, str, int], _Progress] = {}
        self._stalls: list[Stall] = []
        self._skipped: list[Stall] = []

    def register(self, stage: str, topics: Iterable[str]) -> None:
        """``stage`` consumes ``topics``."""
        self._topics_of[stage] = tuple(topics)

    def stages_of(self, topic: str) -> list[str]:
        """The registered stages that consume ``topic``."""
        return [stage for stage, topics in self._topics_of.items() if topic in topics]

    def position(self, stage: str, topic: str, partition: int) -> int | None:
        """The offset after the last one ``stage`` finished on the partition since it got it,
        or None."""
        progress = self._progress.get((stage, topic, partition))
        return None if progress is None else progress.next_offset

    def finished(self, stage: str, batch_last_offsets: Mapping[TopicPartitionKey, int]) -> None:
        """A batch of ``stage`` is done; it held records up to these offsets per partition."""
        now = self._clock()
        for (topic, partition), offset in batch_last_offsets.items():
            progress = self._progress.get((stage, topic, partition))
            if progress is None:
                self._progress[(stage, topic, partition)] = _Progress(offset + 1, now)
            else:
                progress.next_offset = max(progress.next_offset or 0, offset + 1)
                progress.since = now

    def assigned(self, partitions: Iterable[TopicPartitionKey]) -> None:
        """The worker now owns ``partitions`` (after a rebalance): progress on the others is
        forgotten, and the stall clock of every owned partition starts again."""
        owned = set(partitions)
        now = self._clock()
        for key in list(self._progress):
            if (key[1], key[2]) not in owned:
                del self._progress[key]
        for progress in self._progress.values():
            progress.since = now
        for topic, partition in owned:
            for stage in self.stages_of(topic):
                self._progress.setdefault((stage, topic, partition), _Progress(None, now))
        self._clear_metrics()
        self._stalls = []

    def check(
        self,
        end_offsets: Mapping[TopicPartitionKey, int],
        start_offsets: Mapping[TopicPartitionKey, int],
    ) -> list[Stall]:
        """Compare each owned partition's end offset with each stage's progress there.

        ``start_offsets``: where a stage that has finished nothing yet on a partition starts
        (the group's committed offset, else the earliest offset). Updates the metrics and
        returns the stalls.
        """
        now = self._clock()
        stalls: list[Stall] = []
        for (stage, topic, partition), progress in self._progress.items():
            end = end_offsets.get((topic, partition))
            if end is None:
                continue
            position = progress.next_offset
            if position is None:
                position = start_offsets.get((topic, partition), end)
            lag = max(0, end - position)
            idle_s = now - progress.since
            if lag == 0:
                # Nothing waiting: an idle partition is not a stalled one.
                progress.since = now
            stalled = lag > 0 and idle_s >= self._timeout_s
            labels = (stage, topic, str(partition))
            self._metrics.consumer_lag.labels(*labels).set(lag)
            self._metrics.partition_stalled.labels(*labels).set(1 if stalled else 0)
            if stalled:
                stalls.append(Stall(stage, topic, partition, lag, idle_s))
        known = {(s.stage, s.topic, s.partition) for s in self._stalls}
        for stall in stalls:
            if (stall.stage, stall.topic, stall.partition) not in known:
                log.warning(
                    "stage %s stalled on %s[%d]: %d records waiting, no batch finished for %.0f s",
                    stall.stage, stall.topic, stall.partition, stall.lag, stall.idle_s,
                )  # fmt: skip
        self._stalls = stalls
        return stalls

    def skipped(self, stage: str, topic: str, partition: int, hole: tuple[int, int]) -> None:
        """``stage``'s stream skipped the offsets ``[hole[0], hole[1])``: they will never be
        delivered to this worker, and the partition's commits cannot pass them. Reported as a
        stall (lag = the records skipped) until the worker restarts."""
        self._skipped.append(Stall(stage, topic, partition, hole[1] - hole[0], 0.0, "skipped"))

    def stalls(self) -> list[Stall]:
        """The stalls found by the last :meth:`check`, and every skipped range."""
        return [*self._stalls, *self._skipped]

    def _clear_metrics(self) -> None:
        self._metrics.consumer_lag.clear()
        self._metrics.partition_stalled.clear()
