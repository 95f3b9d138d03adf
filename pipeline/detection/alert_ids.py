"""Deterministic alert ids: a replayed batch raises alerts with the ids it raised before, so
consumers and the alert sink can drop the repeats."""

from __future__ import annotations

import hashlib
from datetime import datetime

from schemas.alerts import AlertScope

__all__ = ["alert_id", "hashed_id"]


def alert_id(rule: str, scope: AlertScope, window_start: datetime) -> str:
    """Deterministic id: the same rule, scope and window always give the same id."""
    basis = f"{rule}|{scope.brand}|{scope.product}|{scope.aspect}|{int(window_start.timestamp())}"
    if scope.channel:  # appended only when set, so product and brand ids stay as they were
        basis += f"|{scope.channel}"
    return hashlib.sha256(basis.encode()).hexdigest()[:32]


def hashed_id(basis: str) -> str:
    """A 32-hex-digit id derived from ``basis`` (the same basis, the same id)."""
    return hashlib.sha256(basis.encode()).hexdigest()[:32]
