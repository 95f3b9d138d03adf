from pathlib import Path

import pytest

from config.alert_rules import AlertRules
from pipeline.tools.scenarios import evaluate_alerts, generate_scenario, read_scenario, write_scenario


def test_scenario_round_trips_through_its_directory(tmp_path: Path) -> None:
    scenario = generate_scenario(seed=3, products=30, windows=30)
    assert {i.kind for i in scenario.injections} >= {"step", "spike", "volume", "critical"}
    write_scenario(scenario, tmp_path)
    assert read_scenario(tmp_path) == scenario
    assert generate_scenario(seed=3, products=30, windows=30) == scenario  # seeded


def test_reading_something_else_says_what_is_wrong(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"scenario\.json is missing"):
        read_scenario(tmp_path)
    (tmp_path / "scenario.json").write_text('{"format": 9}')
    (tmp_path / "truth.jsonl").write_text("")
    with pytest.raises(ValueError, match="scenario format 9"):
        read_scenario(tmp_path)


def test_the_shipped_rules_find_surges_and_critical_messages(shipped_rules: AlertRules) -> None:
    scenario = generate_scenario(seed=3, products=14, windows=26)  # every kind is injected
    assert {i.kind for i in scenario.injections} == {
        "step",
        "spike",
        "drift",
        "emerging",
        "volume",
        "critical",
    }
    report = evaluate_alerts(scenario, shipped_rules)
    assert report["recall"]["critical"] == 1.0
    assert report["recall"]["volume"] == 1.0
    assert report["false_alarms_per_1000_scope_windows"] <= 2.0


def test_no_rules_find_nothing() -> None:
    scenario = generate_scenario(seed=5, products=6, windows=24)
    report = evaluate_alerts(scenario, AlertRules(version=1))
    assert report["alerts"] == 0 and report["false_alarms"] == 0
    assert all(recall in (0.0, None) for recall in report["recall"].values())
