from pathlib import Path

import pytest

from config import ConfigError, Settings, load_alert_rules, load_taxonomy


def test_shipped_files_are_valid() -> None:
    settings = Settings()
    assert load_taxonomy(settings.taxonomy_path).aspects
    assert load_alert_rules(settings.alert_rules_path).rules


def test_rule_errors_name_the_file_and_field(tmp_path: Path) -> None:
    path = tmp_path / "rules.yaml"
    path.write_text(
        "version: 1\nrules:\n  - name: x\n    metric: nps_share\n    window_seconds: 60\n    high: 1\n"
    )
    # The location names the kind the rule was read as (threshold when it says none).
    with pytest.raises(ConfigError, match=r"rules.yaml: rules.0.threshold.metric: Input should be"):
        load_alert_rules(path)


def test_unknown_rule_kind_and_empty_critical_rule(tmp_path: Path) -> None:
    path = tmp_path / "rules.yaml"
    path.write_text("version: 1\nrules:\n  - {name: x, kind: sigma, window_seconds: 60}\n")
    with pytest.raises(ConfigError, match=r"rules.0: .*'sigma'.*'threshold', 'spike', 'volume'"):
        load_alert_rules(path)
    path.write_text("version: 1\nrules:\n  - {name: x, kind: critical, terms: {safety: []}}\n")
    with pytest.raises(ConfigError, match="needs terms, detractor_max_score or both"):
        load_alert_rules(path)


def test_rule_needs_a_band(tmp_path: Path) -> None:
    path = tmp_path / "rules.yaml"
    path.write_text("version: 1\nrules:\n  - {name: x, metric: mentions, window_seconds: 60}\n")
    with pytest.raises(ConfigError, match="needs low, high or both"):
        load_alert_rules(path)


def test_duplicate_rule_names_rejected(tmp_path: Path) -> None:
    rule = "{name: x, metric: mentions, window_seconds: 60, high: 1}"
    path = tmp_path / "rules.yaml"
    path.write_text(f"version: 1\nrules: [{rule}, {rule}]\n")
    with pytest.raises(ConfigError, match="repeated: x"):
        load_alert_rules(path)


def test_not_yaml_and_missing_file(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("version: [1\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_alert_rules(bad)
    with pytest.raises(ConfigError, match="cannot read"):
        load_taxonomy(tmp_path / "missing.yaml")


def test_taxonomy_term_in_two_aspects_is_rejected(tmp_path: Path) -> None:
    path = tmp_path / "tax.yaml"
    path.write_text(
        "industry: x\nversion: '1'\naspects:\n"
        "  - {name: 包装, label: packaging, terms: [盒子]}\n"
        "  - {name: 外观, label: look, terms: [盒子]}\n"
    )
    with pytest.raises(ConfigError, match="term '盒子' belongs to both 包装 and 外观"):
        load_taxonomy(path)


def test_settings_read_voc_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VOC_TOPIC_NAMESPACE", "acme")
    monkeypatch.setenv("VOC_CLICKHOUSE_PASSWORD", "s3cret")
    settings = Settings()
    assert settings.topic_namespace == "acme"
    assert "s3cret" not in repr(settings)


def test_rules_must_use_the_window_sizes_the_worker_keeps(tmp_path: Path) -> None:
    path = tmp_path / "rules.yaml"
    path.write_text("version: 1\nrules:\n  - {name: day, metric: mentions, window_seconds: 86400, high: 9}\n")
    with pytest.raises(ConfigError, match=r"day \(86400 s\).*VOC_WINDOW_SIZES_S is \[60, 3600\]"):
        load_alert_rules(path, Settings().window_sizes_s)
    assert load_alert_rules(path, [60, 86400]).rules


def test_window_sizes_and_brand_groups_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VOC_WINDOW_SIZES_S", "[60, 86400]")
    monkeypatch.setenv("VOC_BRAND_GROUPS", '{"云杉": ["北极星", "青禾"]}')
    settings = Settings()
    assert settings.window_sizes_s == (60, 86400)
    assert settings.brand_groups == {"云杉": ("北极星", "青禾")}
    monkeypatch.setenv("VOC_WINDOW_SIZES_S", "[0]")
    with pytest.raises(ValueError, match="greater than 0"):
        Settings()
