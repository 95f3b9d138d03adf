"""The one retry policy of the sinks: exponential backoff with jitter, never giving up.

ClickHouse inserts and Kafka deliveries are retried until they succeed (the caller's offsets
stay uncommitted meanwhile: that is the backpressure) or the caller is cancelled; what can
never succeed (rows ClickHouse rejects) is not retried but dead-lettered by the caller.
Waits are ``first_s · 2^k`` capped at ``max_s``, each shortened by up to ``jitter`` of itself
at random, so that the workers of a group that lost the same server do not come back in
step.
"""

from __future__ import annotations

import asyncio
import logging
import random
from dataclasses import dataclass, field

__all__ = ["Backoff", "RetryPolicy"]

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How long to wait between attempts (see the module doc)."""

    first_s: float = 0.5
    max_s: float = 30.0
    jitter: float = 0.2

    def __post_init__(self) -> None:
        if not (0 < self.first_s <= self.max_s) or not 0 <= self.jitter < 1:
            raise ValueError(f"invalid retry policy {self}: need 0 < first_s <= max_s and 0 <= jitter < 1")

    def start(self, rng: random.Random | None = None) -> Backoff:
        """A fresh sequence of waits for one operation."""
        return Backoff(self, rng or random.Random())


@dataclass(slots=True)
class Backoff:
    """The waits of one operation's retries; :meth:`wait` sleeps the next one."""

    policy: RetryPolicy
    rng: random.Random
    attempts: int = 0
    _next_s: float = field(init=False)

    def __post_init__(self) -> None:
        self._next_s = self.policy.first_s

    def next_delay(self) -> float:
        """The next wait in seconds (advances the sequence)."""
        delay = self._next_s * (1 - self.policy.jitter * self.rng.random())
        self._next_s = min(self._next_s * 2, self.policy.max_s)
        self.attempts += 1
        return delay

    async def wait(self, what: str, error: BaseException | str) -> None:
        """Log that ``what`` failed with ``error`` and sleep the next wait."""
        delay = self.next_delay()
        log.warning(
            "%s failed (%s); retrying in %.1fs (attempt %d)", what, _describe(error), delay, self.attempts
        )
        await asyncio.sleep(delay)


def _describe(error: BaseException | str) -> str:
    return error if isinstance(error, str) else f"{type(error).__name__}: {error}"
