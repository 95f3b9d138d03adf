"""CPU time of processes from Linux ``/proc``, for the benchmark's per-feedback CPU figures.

Wall time on a shared 2-core machine says little about where the cost is: the worker, the
broker, ClickHouse and the producer share the cores. utime + stime of each process (all its
threads) over the same interval does: divided by the feedback stored in it, it is the CPU
each part spends per feedback, whatever the others do.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

__all__ = ["CpuMeter", "cpu_seconds", "find_pids", "service_pids"]

_TICKS_PER_S = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float | None:
    """Utime + stime of ``pid`` and all its threads, in seconds; None if it is gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # The command name (field 2) is in parentheses and may hold spaces: split after it.
    fields = stat[stat.rindex(")") + 2 :].split()
    # Fields 14 and 15 of stat(5) are utime and stime; fields[0] here is field 3.
    return (int(fields[11]) + int(fields[12])) / _TICKS_PER_S


def find_pids(matches: Callable[[list[str]], bool]) -> list[int]:
    """Pids of the processes whose argv ``matches`` (this user's view of /proc)."""
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            argv = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        args = [a.decode(errors="replace") for a in argv if a]
        if args and matches(args):
            pids.append(int(entry.name))
    return pids


def _is_kafka_broker(args: list[str]) -> bool:
    return "java" in os.path.basename(args[0]) and "kafka.Kafka" in args


def _is_clickhouse_server(args: list[str]) -> bool:
    name = os.path.basename(args[0])
    return name == "clickhouse-server" or (name == "clickhouse" and len(args) > 1 and args[1] == "server")


def service_pids() -> dict[str, list[int]]:
    """The local Kafka brokers' and ClickHouse servers' pids (empty lists where none runs here,
    e.g. remote services: their CPU is then not measured)."""
    return {"broker": find_pids(_is_kafka_broker), "clickhouse": find_pids(_is_clickhouse_server)}


@dataclass
class CpuMeter:
    """CPU seconds of named groups of processes between :meth:`start` and :meth:`stop`."""

    groups: Mapping[str, list[int]]

    def __post_init__(self) -> None:
        self._started: dict[str, float] = {}
        self._stopped: dict[str, float] = {}

    def _read(self) -> dict[str, float]:
        return {
            name: sum(cpu_seconds(pid) or 0.0 for pid in pids) for name, pids in self.groups.items() if pids
        }

    def start(self) -> None:
        """Take the first reading."""
        self._started = self._read()

    def stop(self) -> None:
        """Take the second reading (call while the processes still run)."""
        self._stopped = self._read()

    def seconds(self) -> dict[str, float]:
        """CPU seconds per group between the readings."""
        return {name: self._stopped[name] - self._started[name] for name in self._stopped}

    def per_item_us(self, items: int) -> dict[str, float]:
        """CPU µs per item (feedback) per group between the readings."""
        return {name: round(s * 1e6 / max(1, items), 1) for name, s in self.seconds().items()}
