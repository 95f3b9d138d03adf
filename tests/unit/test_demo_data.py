from pathlib import Path

import orjson

from pipeline.ops.kafka_io import iter_jsonl_lines
from pipeline.tools.demo_data import write_demo_files


def test_demo_files_are_deterministic_and_counted(tmp_path: Path) -> None:
    first = write_demo_files(tmp_path / "a")
    second = write_demo_files(tmp_path / "b")
    for name in first.files:
        assert first.files[name].read_bytes() == second.files[name].read_bytes()
    lines = {name: list(iter_jsonl_lines(path)) for name, path in first.files.items()}
    total = sum(len(v) for v in lines.values())
    assert total == (
        first.expected_feedback + first.agent_turns + first.invalid_messages + first.social_without_brand
    )
    roles = [orjson.loads(line)["role"] for line in lines["chats"]]
    assert roles.count("agent") == first.agent_turns
