"""Alert rules (``config/alert_rules.yaml``): what raises an alert on ``{ns}.alerts``.

Six kinds, validated when the worker starts:

- ``threshold``: a window's metric (negative share, mentions, average score, average
  rating, NPS) outside a band ``[low, high]`` ("设定一个范围").
- ``spike``: a window's negative share significantly above the scope's own baseline
  (one-sided exact binomial test against the baseline share).
- ``volume``: a window's mentions far above the scope's baseline (Poisson test).
- ``emerging``: a sub-aspect (包装/封口) taking a significantly larger share of its parent's
  mentions than it used to.
- ``critical``: one feedback that needs a person now (safety, legal or media threat, churn
  intent, an NPS detractor with strongly negative text), routed to its store / agent /
  customer.
- Resolution is not a rule of its own: a rule with ``resolve_after_windows`` emits a
  ``resolved`` event when its scope is back inside for that many closed windows.

Scopes are glob patterns on brand, product and aspect (``*`` everything, ``包装*`` packaging
and its sub-aspects).
"""

from __future__ import annotations

from collections.abc import Iterable
from fnmatch import fnmatchcase
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Discriminator, Field, Tag, ValidationError, model_validator

from config._yaml import read_yaml_mapping
from config.errors import ConfigError, describe_validation_error

__all__ = [
    "AlertRule",
    "AlertRules",
    "CriticalRule",
    "EmergingRule",
    "RuleScope",
    "SpikeRule",
    "Suppression",
    "ThresholdMetric",
    "ThresholdRule",
    "VolumeRule",
    "WindowLevel",
    "WindowRule",
    "load_alert_rules",
]

ThresholdMetric = Literal["negative_share", "mentions", "average_score", "average_rating", "nps"]
Severity = Literal["info", "warning", "critical"]


class RuleScope(BaseModel):
    """Which scopes a rule watches: glob patterns (``fnmatch``, case-sensitive)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    brand: str = "*"
    product: str = "*"
    aspect: str = "*"
    channel: str = "*"

    def matches(self, brand: str, product: str, aspect: str, channel: str = "") -> bool:
        """Whether the scope (brand, product, aspect, channel) is watched by this rule."""
        # Called per rule for every feedback and touched window: most patterns are "*".
        return (
            (self.brand == "*" or fnmatchcase(brand, self.brand))
            and (self.product == "*" or fnmatchcase(product, self.product))
            and (self.aspect == "*" or fnmatchcase(aspect, self.aspect))
            and (self.channel == "*" or fnmatchcase(channel, self.channel))
        )


class _Rule(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(min_length=1, pattern=r"^[a-z0-9_]+$")
    severity: Severity = "warning"
    scope: RuleScope = RuleScope()


WindowLevel = Literal["product", "brand", "channel"]


class _WindowRuleBase(_Rule):
    level: WindowLevel = "product"
    """Which windows the rule reads: per (brand, product, aspect), per (brand, aspect) over
    all products, or per (brand, channel) over all feedback of the channel."""
    window_seconds: int = Field(ge=1)
    """The tumbling window the rule reads (one of the window sizes the worker keeps)."""
    min_mentions: int = Field(default=1, ge=1)
    """Sample size below which the window is not judged (no alert on 2 of 3 negative)."""
    cooldown_seconds: int = Field(default=0, ge=0)
    """After an alert, the same rule and scope stay quiet for this long (alert storms)."""
    resolve_after_windows: int = Field(default=0, ge=0)
    """Emit ``resolved`` once this many closed windows in a row are back inside (0: never)."""


class ThresholdRule(_WindowRuleBase):
    """A window's metric outside ``[low, high]``."""

    kind: Literal["threshold"] = "threshold"
    metric: ThresholdMetric
    low: float | None = None
    high: float | None = None

    @model_validator(mode="after")
    def _band_is_set(self) -> ThresholdRule:
        if self.low is None and self.high is None:
            raise ValueError("a threshold rule needs low, high or both")
        if self.low is not None and self.high is not None and self.low > self.high:
            raise ValueError(f"low ({self.low}) is above high ({self.high})")
        return self


class _BaselineRule(_WindowRuleBase):
    p_value: float = Field(default=1e-4, gt=0, lt=1)
    """Significance of the one-sided test against the baseline. The test runs each time a
    window grows, so it is strict by default (false alarms ≤ 1 per 1,000 scope-windows)."""
    min_ratio: float = Field(default=1.5, ge=1)
    """The observed value must also be at least this multiple of the baseline."""
    min_baseline_windows: int = Field(default=4, ge=1)
    """Closed windows a baseline needs before the rule trusts it."""


class SpikeRule(_BaselineRule):
    """Negative share significantly above the scope's baseline share."""

    kind: Literal["spike"] = "spike"
    pool_previous_window: bool = True
    """Also test this window and the previous one pooled: a step rise that one window's
    mentions cannot prove is caught one window later."""


class VolumeRule(_BaselineRule):
    """Mentions far above the scope's baseline mentions per window."""

    kind: Literal["volume"] = "volume"
    min_ratio: float = Field(default=2.0, ge=1)


class EmergingRule(_BaselineRule):
    """A sub-aspect's share of its parent's mentions significantly above its usual share."""

    kind: Literal["emerging"] = "emerging"
    min_share: float = Field(default=0.2, gt=0, le=1)
    """The sub-aspect must be at least this share of the parent's mentions in the window."""


class CriticalRule(_Rule):
    """One feedback that needs a person: any term of ``terms`` in its text, or an NPS
    detractor (0-6) with a text and an overall score (text, rating and NPS averaged) of at
    most ``detractor_max_score``."""

    kind: Literal["critical"] = "critical"
    severity: Severity = "critical"
    terms: dict[str, tuple[str, ...]] = Field(default_factory=dict)
    """Category (safety, legal_media, churn...) → terms that put a feedback in it."""
    term_max_score: dict[str, float] = Field(default_factory=dict)
    """Category → the text score (0-1) above which its terms do not count: 退货 in a happy
    review (不用退货了, 很好) is not churn. Categories not listed always count."""
    detractor_max_score: float | None = Field(default=None, ge=0, le=1)
    reported_only: tuple[str, ...] = ()
    """Categories whose terms count only where the text reports them, not where it quotes
    them or supposes them: 喝多了会中毒 (a warning, a joke), “中毒” in quotes, a reposted
    //@ chain do not count; 喝了就中毒了 and 吃了过敏 do (see ``pipeline.detection.critical.is_reported``)."""

    @model_validator(mode="after")
    def _something_to_match(self) -> CriticalRule:
        if not any(self.terms.values()) and self.detractor_max_score is None:
            raise ValueError("a critical rule needs terms, detractor_max_score or both")
        empty = sorted(c for c, words in self.terms.items() if not words or not all(words))
        if empty:
            raise ValueError(f"empty term list or empty term in categories: {', '.join(empty)}")
        for field in ("term_max_score", "reported_only"):
            unknown = sorted(set(getattr(self, field)) - set(self.terms))
            if unknown:
                raise ValueError(f"{field} names categories without terms: {', '.join(unknown)}")
        return self


WindowRule = ThresholdRule | SpikeRule | VolumeRule | EmergingRule


def _rule_kind(value: Any) -> str:
    """The ``kind`` of a rule; rules written before kinds existed are thresholds."""
    kind = value.get("kind", "threshold") if isinstance(value, dict) else getattr(value, "kind", "threshold")
    return str(kind)


AlertRule = Annotated[
    Annotated[ThresholdRule, Tag("threshold")]
    | Annotated[SpikeRule, Tag("spike")]
    | Annotated[VolumeRule, Tag("volume")]
    | Annotated[EmergingRule, Tag("emerging")]
    | Annotated[CriticalRule, Tag("critical")],
    Discriminator(_rule_kind),
]


class Suppression(BaseModel):
    """Limits that keep a broken product from flooding the alert topic."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    max_alerts_per_hour: int = Field(default=20, ge=1)
    """Window alerts per product (brand and product) per hour of event time; more are
    suppressed and counted. Critical-feedback alerts are never suppressed."""


class AlertRules(BaseModel):
    """The rule set a worker runs; names are unique because they are part of alert ids."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    version: int = Field(ge=1)
    suppression: Suppression = Suppression()
    rules: tuple[AlertRule, ...] = ()

    @model_validator(mode="after")
    def _names_unique(self) -> AlertRules:
        names = [r.name for r in self.rules]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise ValueError(f"rule names must be unique; repeated: {', '.join(duplicates)}")
        return self

    @property
    def window_rules(self) -> tuple[WindowRule, ...]:
        """The rules judged on windows."""
        return tuple(r for r in self.rules if not isinstance(r, CriticalRule))

    @property
    def critical_rules(self) -> tuple[CriticalRule, ...]:
        """The rules judged on single feedback."""
        return tuple(r for r in self.rules if isinstance(r, CriticalRule))

    @property
    def window_sizes(self) -> tuple[int, ...]:
        """Every window size some rule reads, ascending."""
        return tuple(sorted({r.window_seconds for r in self.window_rules}))

    @property
    def horizon_s(self) -> int:
        """The longest window size (0 without window rules): how long state and duplicate
        fingerprints are kept."""
        sizes = self.window_sizes
        return sizes[-1] if sizes else 0


def load_alert_rules(path: Path, window_sizes: Iterable[int] | None = None) -> AlertRules:
    """Read and validate an alert rules YAML file; raise ConfigError naming what is wrong.

    With ``window_sizes`` (the worker's ``VOC_WINDOW_SIZES_S``), every window rule must use
    one of them.
    """
    data = read_yaml_mapping(path)
    try:
        rules = AlertRules.model_validate(data)
    except ValidationError as exc:
        raise describe_validation_error(path, exc) from exc
    if window_sizes is not None:
        allowed = sorted(set(window_sizes))
        wrong = [
            f"{r.name} ({r.window_seconds} s)" for r in rules.window_rules if r.window_seconds not in allowed
        ]
        if wrong:
            raise ConfigError(
                f"{path}: window rules use sizes the worker does not keep: {', '.join(wrong)}; "
                f"VOC_WINDOW_SIZES_S is {allowed}"
            )
    return rules
