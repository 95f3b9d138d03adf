"""Faust's table recovery with the stream partitions sought *before* they are resumed.

After every assignment (a worker starts, a rebalance) Faust's recovery ends with
``Recovery.on_recovery_completed``, which in faust-streaming 0.15 does, in this order:

1. resume the stream partitions (the fetcher starts delivering their records into the
   agents' queues at once, since the flow is already active);
2. ``await consumer.perform_seek()`` (a round trip to the broker, ~0.5 s here), during which
   the fetcher loop keeps delivering and advancing its read offsets;
3. ``app.flow_control.resume()``, which *clears every agent's queue*.

What was delivered in step 2 and cleared in step 3 is never processed and never acked, and
it is not fetched again either: the fetcher drops records below its read offset, which step 2
moved past them. Measured on Apache Kafka 4.1: a worker restarted on a backlog lost 50 to 930
of 12,000 records right after its first batch in most runs, and its commits stopped at the
first lost offset (the records were read again only by the next restart).

Here the seek happens while the stream partitions are still paused, so no stream record is in
a queue when the queues are cleared, and the fetcher starts from the committed offsets with
matching read offsets. The rest is Faust's code, unchanged; the same reorder applies to
``_resume_streams`` (the path for apps without tables).
"""

from __future__ import annotations

from typing import Any, cast

from faust.tables import TableManager
from faust.tables.recovery import Recovery

__all__ = ["SeekFirstRecovery", "SeekFirstTableManager"]


class SeekFirstRecovery(Recovery):
    """Recovery that seeks the stream partitions to their committed offsets before resuming
    them (see the module docstring for the race it closes)."""

    async def on_recovery_completed(self, generation_id: int = 0) -> None:
        """Finish recovery: tables' callbacks, seek, then resume the stream partitions and
        the flow with no await in between, so nothing is delivered before the queues are
        cleared."""
        app = cast(Any, self.app)
        self.log.info("Restore complete!")
        await app.on_rebalance_complete.send()
        self._set_recovery_ended()
        callbacks = [
            table.on_recovery_completed(self.actives_for_table[table], self.standbys_for_table[table])
            for table in self.tables.values()
        ]
        for callback in callbacks:
            await callback
        if app.consumer_generation_id != generation_id:
            self.log.warning(
                "Recovery rebalancing again: generation %r, recovery for %r",
                app.consumer_generation_id,
                generation_id,
            )
            return
        await self._seek_then_resume()
        self.tables.on_actives_ready()
        if not app.assignor.assigned_standbys():
            self.tables.on_standbys_ready()
        app.on_rebalance_end()
        self.log.info("Worker ready")

    async def _resume_streams(self, generation_id: int = 0) -> None:
        """The path Faust takes when the app has no tables, with the same order."""
        app = cast(Any, self.app)
        await app.on_rebalance_complete.send()
        if app.consumer_generation_id != generation_id:
            self.log.warning("Recovery rebalancing again")
            return
        await self._seek_then_resume()
        self.tables.on_actives_ready()
        self.tables.on_standbys_ready()
        app.on_rebalance_end()
        self.log.info("Worker ready")

    async def _seek_then_resume(self) -> None:
        app = cast(Any, self.app)
        consumer = app.consumer
        assignment = consumer.assignment()
        stream_partitions = {tp for tp in assignment if not self._is_changelog_tp(tp)}
        if assignment:
            # The stream partitions are paused since the assignment: the fetcher delivers
            # none of their records while the seek is in flight.
            self.log.info("Seek stream partitions to committed offsets.")
            await self._wait(consumer.perform_seek(), timeout=app.conf.broker_request_timeout)
        # From here to resume_flow() nothing awaits: the fetcher cannot deliver a stream
        # record before flow_control.resume() has cleared the queues.
        consumer.resume_partitions(stream_partitions)
        self.completed.set()
        self.log.info("Resuming flow...")
        app.flow_control.resume()
        consumer.resume_flow()
        await app._fetcher.maybe_start()


class SeekFirstTableManager(TableManager):
    """Faust's table manager with :class:`SeekFirstRecovery` (``App(TableManager=...)``)."""

    @property
    def recovery(self) -> Recovery:
        """The recovery service used by this table manager."""
        if self._recovery is None:
            self._recovery = SeekFirstRecovery(self.app, self, beacon=self.beacon, loop=self.loop)
        return self._recovery
