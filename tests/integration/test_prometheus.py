"""The operators' monitoring, run for real with Debian's Prometheus: promtool checks the scrape
configs and the alerting rules and runs their unit tests (deploy/prometheus/rules_test.yaml);
a Prometheus server started with the project's scrape config scrapes a running worker, its
series come back through the HTTP API, and killing the worker turns ``VocWorkerDown`` on."""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from config.resources import REPO_ROOT
from tests.integration.conftest import Stack, free_port
from tests.integration.test_end_to_end import VALID_REVIEWS

pytestmark = pytest.mark.integration

PROMETHEUS_DIR = REPO_ROOT / "deploy" / "prometheus"


def _binary(name: str) -> str:
    found = shutil.which(name)
    if found is None:
        pytest.fail(f"{name} is not installed: run 'make prometheus' (or 'make test')", pytrace=False)
    return found


def _promtool(*args: str, cwd: Path = PROMETHEUS_DIR) -> str:
    done = subprocess.run([_binary("promtool"), *args], cwd=cwd, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, f"promtool {' '.join(args)}:\n{done.stdout}\n{done.stderr}"
    return done.stdout + done.stderr


def test_promtool_accepts_the_configs_and_the_rules_pass_their_tests(tmp_path: Path) -> None:
    checked = _promtool("check", "rules", "rules.yaml")
    assert "8 rules found" in checked
    _promtool("check", "config", "prometheus.yml")
    # The compose file mounts rules.yaml next to its own scrape config (DNS discovery).
    shutil.copy(REPO_ROOT / "deploy" / "compose" / "prometheus.yml", tmp_path / "prometheus.yml")
    shutil.copy(PROMETHEUS_DIR / "rules.yaml", tmp_path / "rules.yaml")
    _promtool("check", "config", "prometheus.yml", cwd=tmp_path)
    tested = _promtool("test", "rules", "rules_test.yaml")
    assert "SUCCESS" in tested


class _Prometheus:
    def __init__(self, port: int):
        self.base = f"http://127.0.0.1:{port}"

    def get(self, path: str, **params: str) -> Any:
        url = f"{self.base}{path}?{urllib.parse.urlencode(params)}"
        try:
            with urllib.request.urlopen(url, timeout=5) as response:
                body = json.loads(response.read())
        except OSError:  # not listening yet
            return None
        assert body["status"] == "success", body
        return body["data"]

    def query(self, expr: str) -> list[dict[str, Any]]:
        data = self.get("/api/v1/query", query=expr)
        return [] if data is None else list(data["result"])


@pytest.fixture
def prometheus_for(tmp_path: Path) -> Iterator[Any]:
    """Start Prometheus with the project's config, aimed at one worker; stopped afterwards."""
    started: list[subprocess.Popen[bytes]] = []

    def start(worker_port: int) -> _Prometheus:
        config = yaml.safe_load((PROMETHEUS_DIR / "prometheus.yml").read_text())
        # What a deployment changes: where the workers are; and, for the test, how often.
        config["scrape_configs"][0]["static_configs"] = [{"targets": [f"127.0.0.1:{worker_port}"]}]
        config["global"] = {"scrape_interval": "1s", "evaluation_interval": "1s"}
        config["rule_files"] = [str(PROMETHEUS_DIR / "rules.yaml")]
        path = tmp_path / "prometheus.yml"
        path.write_text(yaml.safe_dump(config))
        port = free_port()
        log = (tmp_path / "prometheus.log").open("wb")
        proc = subprocess.Popen(
            [
                _binary("prometheus"), f"--config.file={path}", f"--storage.tsdb.path={tmp_path / 'tsdb'}",
                f"--web.listen-address=127.0.0.1:{port}",
            ],
            stdout=log, stderr=subprocess.STDOUT,
        )  # fmt: skip
        started.append(proc)
        return _Prometheus(port)

    yield start
    for proc in started:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()


def test_prometheus_scrapes_a_worker_and_sees_it_go_down(
    make_stack: Any, prometheus_for: Any, tmp_path: Path
) -> None:
    stack: Stack = make_stack()
    worker = stack.start_worker()
    stack.wait_until(
        "the worker to be ready", lambda: stack.http_get(worker, "/readyz")[0], lambda s: s == 200
    )
    prometheus = prometheus_for(stack.web_ports[worker.pid])
    up = stack.wait_until(
        "Prometheus to scrape the worker", lambda: prometheus.query('up{job="voc-worker"}'),
        lambda r: len(r) == 1 and r[0]["value"][1] == "1", timeout_s=60,
    )  # fmt: skip
    assert up[0]["metric"]["instance"] == f"127.0.0.1:{stack.web_ports[worker.pid]}"

    stack.produce(stack.topics.reviews_raw, VALID_REVIEWS)
    consumed = stack.wait_until(
        "the worker's counters in Prometheus",
        lambda: prometheus.query('sum(voc_messages_in_total{job="voc-worker"})'),
        lambda r: bool(r) and float(r[0]["value"][1]) >= len(VALID_REVIEWS), timeout_s=90,
    )  # fmt: skip
    assert float(consumed[0]["value"][1]) >= len(VALID_REVIEWS)

    # Every operator rule loaded and evaluated without error against the real series.
    groups = stack.wait_until(
        "the rules to be evaluated", lambda: (prometheus.get("/api/v1/rules") or {}).get("groups", []),
        lambda g: bool(g) and all(r.get("lastEvaluation", "").startswith("2") for r in g[0]["rules"]),
        timeout_s=30,
    )  # fmt: skip
    rules = {rule["name"]: rule for group in groups for rule in group["rules"]}
    assert len(rules) == 8 and all(rule["health"] == "ok" for rule in rules.values()), rules
    assert rules["VocWorkerDown"]["state"] == "inactive"

    worker.send_signal(signal.SIGKILL)
    worker.wait(timeout=10)
    pending = stack.wait_until(
        "VocWorkerDown to be pending",
        lambda: prometheus.query('ALERTS{alertname="VocWorkerDown"}'),
        lambda r: bool(r), timeout_s=60,
    )  # fmt: skip
    # Pending for the rule's 2 minutes before it fires; the firing itself is rules_test.yaml's.
    assert pending[0]["metric"]["alertstate"] == "pending"
    assert pending[0]["metric"]["severity"] == "critical"
