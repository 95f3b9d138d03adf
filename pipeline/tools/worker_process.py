"""A worker as a child process, for the demo, the benchmark and the integration tests."""

from __future__ import annotations

import signal
import subprocess
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

from config.settings import REPO_ROOT

__all__ = ["start_worker", "stop_worker"]

#: A worker stops within a second or two; after this long it is killed.
STOP_TIMEOUT_S = 30.0


def start_worker(
    env: Mapping[str, str], log_path: Path, command: Sequence[str] = ("pipeline.cli", "worker")
) -> subprocess.Popen[bytes]:
    """Start ``voc worker`` (or another ``python -m`` ``command``) with ``env`` (its VOC_*
    settings), appending its output to ``log_path``. Returns at once; the worker joins its
    group in the background."""
    with log_path.open("ab") as log:
        return subprocess.Popen(
            [sys.executable, "-m", *command],
            env=dict(env),
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=REPO_ROOT,
        )


def stop_worker(proc: subprocess.Popen[bytes], sig: int = signal.SIGTERM) -> None:
    """Send ``sig`` (SIGTERM: a clean stop that commits) and wait; kill after the timeout."""
    if proc.poll() is None:
        proc.send_signal(sig)
        try:
            proc.wait(STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
