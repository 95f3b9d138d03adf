"""The detector state's parts in a key-value table (pipeline.detection.state): what a batch
writes, what a worker that recovers the table reads back, and that closed windows leave."""

import json
from datetime import UTC, datetime, timedelta

from config.alert_rules import AlertRules, SpikeRule, ThresholdRule
from pipeline.detection.state import DetectorState, DetectorStateStore
from pipeline.detection.windows import update_product_windows
from schemas.feedback import AspectMention, Origin, Polarity, ScoredFeedback
from tests.unit.conftest import T0, feedback

NOW = datetime(2026, 11, 22, tzinfo=UTC)
P = "云杉|P1".encode()
RULES = AlertRules(
    version=1,
    rules=(
        ThresholdRule(name="neg", metric="negative_share", window_seconds=3600, min_mentions=3, high=0.5),
        ThresholdRule(name="neg_1m", metric="negative_share", window_seconds=60, min_mentions=3, high=0.5),
        SpikeRule(name="spike", window_seconds=3600, min_mentions=5, min_baseline_windows=2),
    ),
)


def _feedback(n: int, minutes: float, aspect: str = "包装/封口", polarity: Polarity = -1) -> ScoredFeedback:
    origin = Origin(topic="raw", partition=0, offset=n, timestamp_ms=0)
    when = T0 + timedelta(minutes=minutes)
    base = feedback(f"第{n}条", feedback_id=f"f{n}", event_time=when, origin=origin)
    mention = AspectMention(
        aspect=aspect, polarity=polarity, score=0.1, evidence=f"第{n}条", evidence_start=0, evidence_end=3
    )
    return ScoredFeedback(
        **base.model_dump(), polarity=polarity, score=0.1, aspects=(mention,),
        taxonomy_version="t", model_version="m",
    )  # fmt: skip


class _Recording(dict[bytes, bytes]):
    """A table that remembers what each batch wrote and deleted."""

    def __init__(self) -> None:
        super().__init__()
        self.written: list[bytes] = []
        self.deleted: list[bytes] = []

    def __setitem__(self, key: bytes, value: bytes) -> None:
        self.written.append(key)
        super().__setitem__(key, value)

    def __delitem__(self, key: bytes) -> None:
        self.deleted.append(key)
        super().__delitem__(key)


def _run(store: DetectorStateStore, batch: list[ScoredFeedback]) -> DetectorState:
    result = update_product_windows(store.load(P), batch, RULES, NOW)
    store.save(P, result.state, result.changes)
    return result.state


def test_a_recovered_table_gives_back_the_same_state_after_every_batch() -> None:
    table = _Recording()
    store = DetectorStateStore(table)
    n = 0
    for step in range(40):  # 40 batches, 10 minutes of event time each: windows open and close
        batch = []
        for i in range(7):
            n += 1
            batch.append(_feedback(n, step * 10 + i, "包装/封口" if i % 2 else "物流", -1 if i % 3 else 1))
        state = _run(store, batch)
        recovered = DetectorStateStore(dict(table)).load(P)
        assert recovered == state, f"batch {step}"
    assert (state.baselines and any(w.alerted for w in state.windows.values())) or state.cooldown


def test_a_batch_writes_the_head_and_only_the_windows_it_touched() -> None:
    table = _Recording()
    store = DetectorStateStore(table)
    _run(store, [_feedback(i, 5 + 0.05 * i) for i in range(1, 11)])  # fills the samples of both sizes
    table.written.clear()
    _run(store, [_feedback(11, 5.5)])
    start = int(T0.timestamp())
    minute = start + 5 * 60
    assert sorted(table.written) == sorted(
        [P, P + f"\x1fw\x1f60|{minute}".encode(), P + f"\x1fw\x1f3600|{start}".encode()]
    )  # no samples (full), no baselines (nothing closed), no other window
    assert len(table[P]) < 300


def test_closed_windows_leave_the_table_and_its_size_stays_bounded() -> None:
    table = _Recording()
    store = DetectorStateStore(table)
    sizes = []
    for hour in range(30):
        _run(store, [_feedback(hour * 10 + i, hour * 60 + i) for i in range(10)])
        sizes.append((len(table), sum(len(v) for v in table.values())))
    assert table.deleted  # tombstones for the closed windows
    # At most the head, the baselines and two parts for each of the few open windows.
    assert max(keys for keys, _ in sizes) <= 2 + 2 * 4
    assert sizes[-1][1] <= 1.2 * sizes[10][1]  # bytes: flat once the baselines exist


def test_a_state_in_the_old_one_dict_layout_is_read_and_written_out_in_parts() -> None:
    modern = _Recording()
    state = _run(DetectorStateStore(modern), [_feedback(i, i) for i in range(1, 6)])
    # The layout before issue #15: one dict, plain window dicts, fingerprints inline.
    legacy = {
        "watermark": state.watermark,
        "origins": state.offsets,
        "windows": {
            key: {
                **{name: getattr(w, name) for name in ("mentions", "positive", "neutral", "negative")},
                **{name: getattr(w, name) for name in ("score_sum", "rating_sum", "rated")},
                **{name: getattr(w, name) for name in ("promoters", "passives", "detractors")},
                "alerted": w.alerted,
                "samples": w.samples,
                "negative_samples": w.negative_samples,
            }
            for key, w in state.windows.items()
        },
        "baselines": {},
        "open": {},
        "cooldown": state.cooldown,
        "hourly": state.hourly,
        "texts": {"id:abc": state.watermark},
    }
    table = _Recording()
    table[P] = json.dumps(legacy).encode()
    store = DetectorStateStore(table)
    loaded = store.load(P)
    assert loaded is not None and loaded.windows == state.windows
    assert loaded.legacy_fingerprints == {"id:abc": state.watermark}
    result = update_product_windows(loaded, [_feedback(99, 50)], RULES, NOW)
    assert "id:abc" in result.counted  # handed to the fingerprint store
    store.save(P, result.state, result.changes)
    # Every part was written out, not only the ones this batch touched.
    assert len([k for k in table if k.startswith(P + b"\x1fs\x1f")]) == len(result.state.groups())
    assert DetectorStateStore(dict(table)).load(P) == result.state


def test_verbatims_are_stored_as_utf8_not_escaped() -> None:
    table = _Recording()
    _run(DetectorStateStore(table), [_feedback(1, 0)])
    samples = [v for k, v in table.items() if b"\x1fs\x1f" in k]
    assert samples and all("第1条".encode() in v for v in samples)
