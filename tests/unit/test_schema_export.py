import json
from datetime import UTC, datetime
from pathlib import Path

import jsonschema
import pytest
from click.testing import CliRunner

from config import REPO_ROOT
from config.alert_rules import AlertRules, CriticalRule
from pipeline.cli import main
from pipeline.detection.critical import critical_alerts
from pipeline.text.analysis import Analyzer
from schemas.dead_letters import DeadLetterReason
from schemas.registry import TOPIC_MESSAGES, topic_json_schemas
from tests.unit.conftest import feedback

SHIPPED = REPO_ROOT / "schemas" / "json"


def test_shipped_schemas_match_the_models() -> None:
    # schemas/json is what consumers read; regenerate with `voc schema export` after a change.
    for topic, expected in topic_json_schemas().items():
        shipped = json.loads((SHIPPED / f"{topic}.schema.json").read_text(encoding="utf-8"))
        assert shipped == expected, f"schemas/json/{topic}.schema.json is stale: run `voc schema export`"
    assert sorted(p.name for p in SHIPPED.iterdir()) == sorted(f"{t}.schema.json" for t in TOPIC_MESSAGES)


def test_export_command_writes_every_topic(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["schema", "export", "--out", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert {p.name for p in tmp_path.iterdir()} == {f"{t}.schema.json" for t in TOPIC_MESSAGES}


def _validator(topic: str) -> jsonschema.Draft202012Validator:
    schema = json.loads((SHIPPED / f"{topic}.schema.json").read_text(encoding="utf-8"))
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


def test_real_messages_validate_against_the_exported_schemas(analyzer: Analyzer) -> None:
    item = feedback("吃完过敏了", store_id="S1")
    scored = analyzer.score(item)
    _validator("feedback.scored").validate(json.loads(scored.model_dump_json()))
    rule = CriticalRule(name="c", terms={"safety": ("过敏",)})
    [alert] = critical_alerts(scored, AlertRules(version=1, rules=(rule,)).critical_rules, datetime.now(UTC))
    _validator("alerts").validate(json.loads(alert.model_dump_json()))
    reason = DeadLetterReason(
        stage="ingest", reason="not_json", error_class="E", error_message="m",
        source_topic="t", source_partition=0, source_offset=1,
    )  # fmt: skip
    _validator("dlq").validate(dict(reason))


def test_schemas_reject_what_the_models_reject() -> None:
    with pytest.raises(jsonschema.ValidationError):
        _validator("alerts").validate({"alert_id": "x"})
    with pytest.raises(jsonschema.ValidationError):
        _validator("dlq").validate({"stage": "elsewhere", "reason": "not_json"})
