"""A non-editable install finds its files: the wheel, installed into a fresh virtualenv, migrates
a real ClickHouse database, reads the documented BI queries and the demo sample from its own
copies (config/resources.py), and imports the compiled hot path; no file of the checkout is
on its path. The wheel is built from exactly the files the container image's build stage
copies (deploy/docker/Dockerfile), so the image's build context is tested with it."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
import uuid
from pathlib import Path

import pytest

from config import Settings
from config.resources import REPO_ROOT
from pipeline.reporting.bi_queries import read_bi_queries
from pipeline.runtime.context import clickhouse_config
from sinks.clickhouse import connect

pytestmark = pytest.mark.integration

_PROBE = """
import json, pipeline, config.resources as r, pipeline.text.native._hotpath as hot
from config import Settings
from pipeline.reporting.bi_queries import BI_DOC, read_bi_queries
from pipeline.tools.demo_data import REVIEW_SAMPLE
settings = Settings()
print(json.dumps({
    "pipeline": pipeline.__file__, "hotpath": hot.__file__, "is_checkout": r.IS_CHECKOUT,
    "migrations_dir": str(settings.migrations_dir),
    "migrations": sorted(p.name for p in settings.migrations_dir.glob("*.sql")),
    "bi_doc": str(BI_DOC), "bi_queries": len(read_bi_queries()),
    "demo_sample": str(REVIEW_SAMPLE), "demo_sample_bytes": REVIEW_SAMPLE.stat().st_size,
    "sentiment_model": str(settings.sentiment_model_path),
    "model_exists": settings.sentiment_model_path.is_file(),
}))
"""


def dockerfile_build_sources(dockerfile: Path) -> list[str]:
    """The sources of the COPY instructions of a Dockerfile's first stage (from the context)."""
    sources: list[str] = []
    stages = 0
    for line in dockerfile.read_text().splitlines():
        words = line.split()
        if not words:
            continue
        if words[0] == "FROM":
            stages += 1
        elif words[0] == "COPY" and stages == 1 and not words[1].startswith("--from"):
            sources.extend(word.lstrip("./") or "." for word in words[1:-1])
    assert sources, f"no COPY in the first stage of {dockerfile}"
    missing = [s for s in sources if not (REPO_ROOT / s).exists()]
    assert not missing, f"{dockerfile} copies what the repository does not have: {missing}"
    return sources


def _run(args: list[str | Path], cwd: Path, env: dict[str, str], timeout: float = 120) -> str:
    done = subprocess.run(
        [str(a) for a in args], cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout
    )
    assert done.returncode == 0, f"{args[:3]} failed ({done.returncode}):\n{done.stdout}\n{done.stderr}"
    return done.stdout


def test_wheel_in_a_fresh_venv_finds_its_files_and_migrates(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    # Built from a copy of the files git keeps (committed, or new and not ignored): a build/
    # folder left in the checkout by an earlier build would otherwise slip its files in. Of
    # those, only what the Dockerfile's build stage copies.
    source = tmp_path / "source"
    copied = dockerfile_build_sources(REPO_ROOT / "deploy" / "docker" / "Dockerfile")
    listed = _run(["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z"], REPO_ROOT, env)
    for relative in filter(None, listed.split("\0")):
        if (REPO_ROOT / relative).is_file() and any(
            relative == path or relative.startswith(path.rstrip("/") + "/") for path in copied
        ):
            (source / relative).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(REPO_ROOT / relative, source / relative)
    wheels = tmp_path / "wheels"
    pip_wheel: list[str | Path] = [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q"]
    pip_wheel += ["-w", wheels, source]
    _run(pip_wheel, tmp_path, env, timeout=900)
    (wheel,) = wheels.glob("voc_pipeline-*.whl")

    venv = tmp_path / "venv"
    _run([sys.executable, "-m", "venv", venv], tmp_path, env)
    # The dependencies come from this environment (installing them again would only test PyPI);
    # a path in a .pth file is added without running the .pth files it holds, so this
    # environment's editable hook for the checkout stays out.
    (site_packages,) = venv.glob("lib/python*/site-packages")
    (site_packages / "deps_of_the_test_env.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    _run(
        [venv / "bin" / "python", "-m", "pip", "install", "--no-deps", "--no-index", "-q", wheel],
        tmp_path,
        env,
    )

    work = tmp_path / "elsewhere"  # not the checkout: nothing may resolve relative to the cwd
    work.mkdir()
    probe = json.loads(_run([venv / "bin" / "python", "-c", _PROBE], work, env))
    for key in ("pipeline", "hotpath", "migrations_dir", "bi_doc", "demo_sample", "sentiment_model"):
        assert Path(probe[key]).is_relative_to(site_packages), (key, probe[key])
    assert probe["hotpath"].endswith(".so")
    assert probe["is_checkout"] is False
    assert probe["model_exists"] is True
    checkout_migrations = sorted(p.name for p in (REPO_ROOT / "deploy/clickhouse/migrations").glob("*.sql"))
    assert probe["migrations"] == checkout_migrations
    assert probe["bi_queries"] == len(read_bi_queries()) > 10
    assert probe["demo_sample_bytes"] == (REPO_ROOT / "deploy/demo/reviews_sample.csv").stat().st_size

    database = f"voc_wheel_{uuid.uuid4().hex[:10]}"
    settings = Settings(clickhouse_database=database)
    client = connect(clickhouse_config(settings, with_database=False))
    try:
        voc_env = {**env, "VOC_CLICKHOUSE_DATABASE": database}
        out = _run([venv / "bin" / "voc", "db", "migrate"], work, voc_env)
        assert f"database {database}" in out, out
        versions = client.execute(f"SELECT count() FROM {database}.schema_migrations")[0][0]
        assert versions == len(checkout_migrations)
        _run([venv / "bin" / "voc", "report"], work, voc_env)  # every docs/bi.md query it uses runs
    finally:
        client.execute(f"DROP DATABASE IF EXISTS {database}")
