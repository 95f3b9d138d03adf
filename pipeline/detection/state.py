r"""The detector's state, typed, and its one codec: how it is kept in a key-value table.

One detector scope (a product, ``brand|product``; or a brand) has a :class:`DetectorState`:
its open windows, the baselines of the closed ones, the alerts still open, cooldowns and
hourly counts, the watermark, and the highest input offset counted per source. A batch
changes only some of it, so the state is kept in parts, each under a key of its own, and a
batch writes only the parts it changed (:class:`Changes`):

============================================  ==================================================
key                                           value (compact JSON, UTF-8)
============================================  ==================================================
``<scope>``                                   the head: watermark, offsets, open alerts,
                                              cooldowns, hourly counts, and which window groups
                                              exist. Written every batch (a few hundred bytes).
``<scope>\x1fbaselines``                      the baselines, by ``<size>|<dimension>``. Written
                                              when a window closed.
``<scope>\x1fw\x1f<size>|<start>``            the counts of every dimension of one window (one
                                              size, one start), and the rules it alerted on.
                                              Written when a feedback touched the window.
``<scope>\x1fs\x1f<size>|<start>``            the sample verbatims of that window's dimensions.
                                              Written when one was added (at most five per list,
                                              so after the first few feedback, no more).
============================================  ==================================================

A window group's two keys are deleted (tombstones: log compaction drops them) when the window
closes, so the table holds the open windows of each scope and nothing that grows with traffic.
All keys of a scope share the part before ``\x1f`` and so its partition
(pipeline.runtime.faust_tables.CoPartitionedTable).

A head without ``"v"`` is a state written before this layout (one JSON dict holding all of
it, issue #15): it is read as such, and the next save writes it out in parts.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping, MutableMapping
from dataclasses import dataclass, field
from typing import Any

from pipeline.detection.dedup import KEY_SEPARATOR

__all__ = [
    "Baseline",
    "Changes",
    "DetectorState",
    "DetectorStateStore",
    "OpenAlert",
    "Window",
    "group_of",
]

#: Counts a window keeps, in the order the codec writes them.
COUNT_FIELDS = (
    "mentions", "positive", "neutral", "negative", "score_sum", "rating_sum", "rated",
    "promoters", "passives", "detractors",
)  # fmt: skip

_FORMAT = 2

Sample = list[str]
"""(feedback id, short masked verbatim)."""
Group = tuple[int, int]
"""(window size, window start): the windows of all dimensions that share both."""


@dataclass(slots=True)
class Window:
    """Counts and samples of one window of one dimension (an aspect path or ``@<channel>``)."""

    mentions: int = 0
    positive: int = 0
    neutral: int = 0
    negative: int = 0
    score_sum: float = 0.0
    rating_sum: int = 0
    rated: int = 0
    promoters: int = 0
    passives: int = 0
    detractors: int = 0
    alerted: list[str] = field(default_factory=list)
    """Rules judged to fire on this window (each at most once per window)."""
    samples: list[Sample] = field(default_factory=list)
    negative_samples: list[Sample] = field(default_factory=list)

    def copy(self) -> Window:
        """A copy whose lists can be changed without changing this one."""
        return Window(
            self.mentions, self.positive, self.neutral, self.negative, self.score_sum,
            self.rating_sum, self.rated, self.promoters, self.passives, self.detractors,
            list(self.alerted), list(self.samples), list(self.negative_samples),
        )  # fmt: skip


@dataclass(slots=True)
class Baseline:
    """Closed windows of one size and dimension, folded: how many, the latest start, and
    the exponentially weighted means of mentions and negatives (pipeline.detection.rules)."""

    windows: int = 0
    last: int = 0
    mentions: float = 0.0
    negative: float = 0.0


@dataclass(slots=True)
class OpenAlert:
    """An alert that resolves once its scope has been back inside for some closed windows."""

    alert_id: str
    calm: int = 0


@dataclass(slots=True)
class DetectorState:
    """Everything one detector scope keeps between batches."""

    watermark: float = 0.0
    """The latest event time counted (epoch seconds)."""
    offsets: dict[str, int] = field(default_factory=dict)
    """Highest input offset counted per source: a product's raw ``topic|partition``, or a
    brand's ``delta source|product``. Anything at or below it is a replay."""
    windows: dict[str, Window] = field(default_factory=dict)
    """Open windows by ``<size>|<start>|<dimension>``."""
    baselines: dict[str, Baseline] = field(default_factory=dict)
    """By ``<size>|<dimension>``."""
    open_alerts: dict[str, OpenAlert] = field(default_factory=dict)
    """By ``<rule>|<dimension>``."""
    cooldown: dict[str, int] = field(default_factory=dict)
    """``<rule>|<dimension>`` → start of the window that last alerted."""
    hourly: dict[str, int] = field(default_factory=dict)
    """Hour start (event time) → window alerts emitted in that hour."""
    legacy_fingerprints: dict[str, float] = field(default_factory=dict)
    """Fingerprints a state written before issue #15 kept inline (handed to the store)."""

    def copy(self) -> DetectorState:
        """A deep copy: the detector never changes the state it was given."""
        return DetectorState(
            watermark=self.watermark,
            offsets=dict(self.offsets),
            windows={k: w.copy() for k, w in self.windows.items()},
            baselines={
                k: Baseline(b.windows, b.last, b.mentions, b.negative) for k, b in self.baselines.items()
            },
            open_alerts={k: OpenAlert(a.alert_id, a.calm) for k, a in self.open_alerts.items()},
            cooldown=dict(self.cooldown),
            hourly=dict(self.hourly),
        )

    def groups(self) -> set[Group]:
        """The (size, start) of every open window."""
        return {group_of(key) for key in self.windows}


@dataclass
class Changes:
    """Which parts of a state a batch changed (the head is always written)."""

    baselines: bool = False
    counts: set[Group] = field(default_factory=set)
    samples: set[Group] = field(default_factory=set)


def group_of(window_key: str) -> Group:
    """The (size, start) of a ``<size>|<start>|<dimension>`` window key."""
    size, start, _ = window_key.split("|", 2)
    return int(size), int(start)


# The codec. Compact JSON, UTF-8 as is (a verbatim's Chinese is 3 bytes a character, not the
# 6 of ``\uXXXX``); windows as positional lists, since their field names would double them.


def _dumps(value: Any) -> bytes:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode()


def encode_head(state: DetectorState, groups: Iterable[Group]) -> bytes:
    """The head part of a state; ``groups`` are its open window groups."""
    return _dumps(
        {
            "v": _FORMAT,
            "watermark": state.watermark,
            "offsets": state.offsets,
            "open": {k: [a.alert_id, a.calm] for k, a in state.open_alerts.items()},
            "cooldown": state.cooldown,
            "hourly": state.hourly,
            "groups": sorted(groups),
        }
    )


def encode_baselines(state: DetectorState) -> bytes:
    """The baselines part of a state."""
    return _dumps({k: [b.windows, b.last, b.mentions, b.negative] for k, b in state.baselines.items()})


def windows_by_group(state: DetectorState) -> dict[Group, dict[str, Window]]:
    """The open windows by (size, start), each group's by dimension."""
    groups: dict[Group, dict[str, Window]] = {}
    for key, window in state.windows.items():
        size, start, dimension = key.split("|", 2)
        groups.setdefault((int(size), int(start)), {})[dimension] = window
    return groups


def encode_counts(windows: Mapping[str, Window]) -> bytes:
    """The counts of one window group: ``{dimension: [count, ..., alerted]}``."""
    return _dumps({d: [*(getattr(w, name) for name in COUNT_FIELDS), w.alerted] for d, w in windows.items()})


def encode_samples(windows: Mapping[str, Window]) -> bytes:
    """The samples of one window group: ``{dimension: [samples, negative samples]}``."""
    return _dumps({d: [w.samples, w.negative_samples] for d, w in windows.items()})


def decode_state(head: bytes, part: Callable[[bytes], bytes | None]) -> tuple[DetectorState, bool]:
    """A state from its head and ``part(suffix)`` for its other parts (None where absent),
    and whether the head was in the one-dict layout of before."""
    raw = json.loads(head)
    if "v" not in raw:
        return _from_legacy(raw), True
    state = DetectorState(
        watermark=float(raw["watermark"]),
        offsets={k: int(v) for k, v in raw["offsets"].items()},
        open_alerts={k: OpenAlert(str(a), int(c)) for k, (a, c) in raw["open"].items()},
        cooldown={k: int(v) for k, v in raw["cooldown"].items()},
        hourly={k: int(v) for k, v in raw["hourly"].items()},
    )
    baselines = part(_BASELINES)
    if baselines is not None:
        state.baselines = {
            k: Baseline(int(w), int(s), m, n) for k, (w, s, m, n) in json.loads(baselines).items()
        }
    for size, start in raw["groups"]:
        counts = part(_counts_suffix((size, start)))
        if counts is None:
            continue  # never written: cannot happen unless the table lost a key
        samples_raw = part(_samples_suffix((size, start)))
        samples = json.loads(samples_raw) if samples_raw is not None else {}
        for dimension, values in json.loads(counts).items():
            window = Window(
                **dict(zip(COUNT_FIELDS, values, strict=False)), alerted=list(values[len(COUNT_FIELDS)])
            )
            kept = samples.get(dimension)
            if kept is not None:
                window.samples, window.negative_samples = kept
            state.windows[f"{size}|{start}|{dimension}"] = window
    return state, False


def _from_legacy(raw: dict[str, Any]) -> DetectorState:
    """A state in the one-dict layout written before the parts (plain window dicts)."""
    windows = {}
    for key, w in raw.get("windows", {}).items():
        windows[key] = Window(
            **{name: w[name] for name in COUNT_FIELDS},
            alerted=list(w.get("alerted", [])),
            samples=[list(s) for s in w.get("samples", [])],
            negative_samples=[list(s) for s in w.get("negative_samples", [])],
        )
    return DetectorState(
        watermark=float(raw.get("watermark", 0.0)),
        offsets=dict(raw.get("origins", raw.get("merged", {}))),
        windows=windows,
        baselines={
            k: Baseline(int(b["windows"]), int(b["last"]), float(b["mentions"]), float(b["negative"]))
            for k, b in raw.get("baselines", {}).items()
        },
        open_alerts={k: OpenAlert(a["alert_id"], int(a["calm"])) for k, a in raw.get("open", {}).items()},
        cooldown=dict(raw.get("cooldown", {})),
        hourly=dict(raw.get("hourly", {})),
        legacy_fingerprints=dict(raw.get("texts", {})),
    )


_BASELINES = b"baselines"


def _counts_suffix(group: Group) -> bytes:
    return b"w" + KEY_SEPARATOR + f"{group[0]}|{group[1]}".encode()


def _samples_suffix(group: Group) -> bytes:
    return b"s" + KEY_SEPARATOR + f"{group[0]}|{group[1]}".encode()


class DetectorStateStore:
    r"""Detector states in ``table`` (bytes keys and values; a Faust table whose changelog
    makes them durable), decoded once and kept decoded until :meth:`forget`.

    A scope's key is its table key (``brand|product``, or a brand); its parts are under
    ``<scope>\x1f...`` (see the module docstring).
    """

    def __init__(self, table: MutableMapping[bytes, bytes]):
        self._table = table
        self._states: dict[bytes, DetectorState | None] = {}
        self._legacy: set[bytes] = set()

    def forget(self) -> None:
        """Drop the decoded states (call on every rebalance: the table's content changes)."""
        self._states.clear()
        self._legacy.clear()

    def load(self, scope: bytes) -> DetectorState | None:
        """The state of ``scope``, or None if it has none. Do not change it: the detector
        returns a new one, for :meth:`save`."""
        if scope in self._states:
            return self._states[scope]
        head = self._table.get(scope)
        state = None
        if head is not None:
            state, legacy = decode_state(head, lambda suffix: self._table.get(scope + KEY_SEPARATOR + suffix))
            if legacy:
                self._legacy.add(scope)
        self._states[scope] = state
        return state

    def save(self, scope: bytes, state: DetectorState, changes: Changes) -> None:
        """Write the parts of ``state`` that ``changes`` names, and the head; delete the
        parts of window groups that are no longer open."""
        before = self.load(scope)
        # A state read in the old one-dict layout has no parts yet: write them all.
        everything = scope in self._legacy
        by_group = windows_by_group(state)
        gone = (before.groups() if before is not None else set()) - by_group.keys()
        prefix = scope + KEY_SEPARATOR
        for group in sorted(by_group if everything else changes.counts & by_group.keys()):
            self._table[prefix + _counts_suffix(group)] = encode_counts(by_group[group])
        for group in sorted(by_group if everything else changes.samples & by_group.keys()):
            self._table[prefix + _samples_suffix(group)] = encode_samples(by_group[group])
        for group in sorted(gone):
            for suffix in (_counts_suffix(group), _samples_suffix(group)):
                if prefix + suffix in self._table:
                    del self._table[prefix + suffix]
        if everything or changes.baselines:
            self._table[prefix + _BASELINES] = encode_baselines(state)
        self._table[scope] = encode_head(state, by_group)
        self._legacy.discard(scope)
        self._states[scope] = state
