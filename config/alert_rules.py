"""Alert rules: which windowed metric, over which scope, outside which band, raises an alert."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from config._yaml import read_yaml_mapping
from config.errors import describe_validation_error

__all__ = ["AlertRule", "AlertRules", "load_alert_rules"]


class AlertRule(BaseModel):
    """A threshold band on a metric of one tumbling window per (brand, product, aspect).

    The rule fires once per scope and window, the first time the window holds at least
    ``min_mentions`` mentions and the metric lies outside ``[low, high]``.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(min_length=1, pattern=r"^[a-z0-9_]+$")
    kind: Literal["threshold"] = "threshold"
    metric: Literal["negative_share", "mentions"]
    window_seconds: int = Field(ge=1)
    min_mentions: int = Field(default=1, ge=1)
    """Sample size below which the metric is not trusted (no alert on 2 of 3 negative)."""
    low: float | None = None
    high: float | None = None
    severity: Literal["info", "warning", "critical"] = "warning"

    @model_validator(mode="after")
    def _band_is_set(self) -> AlertRule:
        if self.low is None and self.high is None:
            raise ValueError("a threshold rule needs low, high or both")
        if self.low is not None and self.high is not None and self.low > self.high:
            raise ValueError(f"low ({self.low}) is above high ({self.high})")
        return self


class AlertRules(BaseModel):
    """The rule set a worker runs; names are unique because they are part of alert ids."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    version: int = Field(ge=1)
    rules: tuple[AlertRule, ...] = ()

    @model_validator(mode="after")
    def _names_unique(self) -> AlertRules:
        names = [r.name for r in self.rules]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise ValueError(f"rule names must be unique; repeated: {', '.join(duplicates)}")
        return self


def load_alert_rules(path: Path) -> AlertRules:
    """Read and validate an alert rules YAML file; raise ConfigError naming what is wrong."""
    data = read_yaml_mapping(path)
    try:
        return AlertRules.model_validate(data)
    except ValidationError as exc:
        raise describe_validation_error(path, exc) from exc
