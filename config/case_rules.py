"""Case rules (``config/case_rules.yaml``): how fast a case must be acknowledged, when a
repeat complaint reopens a case, and when an untouched case is forgotten.

The SLA is chosen by the case's severity and the kind of its route (``store``, ``agent``,
``customer``): the most specific entry wins (severity and route, then the severity's
``default``, then the top-level ``default``).
"""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from config._yaml import load_yaml_model

__all__ = ["CaseRules", "load_case_rules"]


class CaseRules(BaseModel):
    """Validated case rules."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    default_sla_minutes: float = Field(gt=0)
    sla_minutes: dict[str, dict[str, float]] = Field(default_factory=dict)
    """severity → route kind (or ``default``) → minutes to acknowledge."""
    repeat_window_days: float = Field(default=7, gt=0)
    """A complaint from the same customer of the same brand within this many days of the
    last case's latest complaint joins it (open) or reopens it (resolved)."""
    expiry_days: float = Field(default=30, gt=0)
    """A case untouched this long leaves the stream's state (``expired``); a resolved case
    leaves once its repeat window is over."""
    sla_check_seconds: float = Field(default=15, gt=0)
    """How often each worker looks for cases past their SLA."""

    def sla_minutes_for(self, severity: str, route: str) -> float:
        """Minutes to acknowledge a case of ``severity`` routed to ``route`` (``store:S04``)."""
        kind = route.split(":", 1)[0]
        by_route = self.sla_minutes.get(severity, {})
        return by_route.get(kind, by_route.get("default", self.default_sla_minutes))


def load_case_rules(path: Path) -> CaseRules:
    """Read and validate a case rules YAML file; raise ConfigError naming what is wrong."""
    return load_yaml_model(path, CaseRules)
