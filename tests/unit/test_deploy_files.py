"""The deployment files, checked offline by the tools their users' platforms apply: hadolint
on the Dockerfile, the compose-spec schema on the compose file, the Kubernetes API schemas
(strict) on the manifests; and every VOC_* variable they set is a real setting, every metric
the operators' alerting rules read is one the worker exports. No Docker engine or cluster
runs here: building the image and starting the stack are not tested (README says so)."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from prometheus_client import CollectorRegistry

from config import Settings
from config.resources import REPO_ROOT
from pipeline.runtime.metrics import PipelineMetrics

DEPLOY = REPO_ROOT / "deploy"
BIN = Path(sys.executable).parent
K8S_VERSION = "1.31.0"  # the oldest Kubernetes release still maintained upstream
SETTING_NAMES = {f"VOC_{name.upper()}" for name in Settings.model_fields}


def _tool(name: str) -> str:
    path = BIN / name
    if not path.exists():
        found = shutil.which(name)
        assert found, f"{name} is not installed: run 'make setup' (a dev dependency)"
        return found
    return str(path)


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, capture_output=True, text=True, timeout=120, cwd=REPO_ROOT)


def _dockerfile() -> list[list[str]]:
    """The instructions of the Dockerfile, continuation lines joined, comments dropped."""
    text = (DEPLOY / "docker" / "Dockerfile").read_text()
    joined = re.sub(r"\\\n", " ", text)
    return [
        line.split() for line in joined.splitlines() if line.strip() and not line.lstrip().startswith("#")
    ]


def test_the_dockerfile_passes_hadolint() -> None:
    done = _run(_tool("hadolint"), "--no-color", str(DEPLOY / "docker" / "Dockerfile"))
    assert done.returncode == 0, done.stdout + done.stderr


def test_the_image_is_multi_stage_runs_unprivileged_and_checks_livez() -> None:
    instructions = _dockerfile()
    stages = [i for i in instructions if i[0] == "FROM"]
    assert len(stages) >= 2
    final = instructions[instructions.index(stages[-1]) :]
    users = [i[1] for i in final if i[0] == "USER"]
    assert users and users[-1].split(":")[0] not in ("0", "root")
    (health,) = [" ".join(i) for i in final if i[0] == "HEALTHCHECK"]
    assert "/livez" in health
    assert [" ".join(i[1:]) for i in final if i[0] == "ENTRYPOINT"] == ['["voc"]']
    assert [" ".join(i[1:]) for i in final if i[0] == "CMD"] == ['["worker"]']
    # The hot path is built and imported in the build stage, not discovered missing at run time.
    assert any(
        "pipeline.text.native._hotpath" in " ".join(i) for i in instructions[: instructions.index(stages[-1])]
    )


def _compose() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((DEPLOY / "compose" / "compose.yaml").read_text())
    return loaded


def test_the_compose_file_passes_the_compose_spec_schema() -> None:
    done = _run(
        _tool("check-jsonschema"),
        "--builtin-schema",
        "vendor.compose-spec",
        str(DEPLOY / "compose" / "compose.yaml"),
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_the_compose_file_mounts_files_that_exist_and_sets_real_settings() -> None:
    compose = _compose()
    base = DEPLOY / "compose"
    for name, service in compose["services"].items():
        for volume in service.get("volumes", []):
            source = volume.split(":")[0]
            if source.startswith("."):
                assert (base / source).exists(), f"{name} mounts {source}, which does not exist"
        environment = service.get("environment", {})
        if name in ("migrate", "worker"):
            unknown = {k for k in environment if k.startswith("VOC_")} - SETTING_NAMES
            assert not unknown, f"{name} sets {unknown}, which are not settings"
    assert {"kafka", "clickhouse", "migrate", "worker", "prometheus", "grafana"} <= set(compose["services"])
    assert compose["services"]["kafka"]["image"].startswith("apache/kafka:4.")
    assert "0.0.0.0" not in str(compose["services"]["worker"].get("ports", ""))  # not published


def _manifests() -> list[Path]:
    return sorted(p for p in (DEPLOY / "k8s").glob("*.yaml") if p.name != "kustomization.yaml")


def test_the_kubernetes_manifests_pass_the_api_schemas_strictly() -> None:
    done = _run(_tool("kubernetes-validate"), "--strict", "-k", K8S_VERSION, *map(str, _manifests()))
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.count("passed") == len(_manifests()), done.stdout


def test_the_kustomization_lists_every_manifest_but_the_example_secret() -> None:
    kustomization = yaml.safe_load((DEPLOY / "k8s" / "kustomization.yaml").read_text())
    listed = set(kustomization["resources"])
    assert listed == {p.name for p in _manifests()} - {"secret.example.yaml"}


def test_the_worker_deployment_probes_sets_resources_and_reads_real_settings() -> None:
    deployment = yaml.safe_load((DEPLOY / "k8s" / "worker-deployment.yaml").read_text())
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    assert container["livenessProbe"]["httpGet"]["path"] == "/livez"
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert container["resources"]["requests"] and container["resources"]["limits"]["memory"]
    config = yaml.safe_load((DEPLOY / "k8s" / "configmap.yaml").read_text())["data"]
    secret = yaml.safe_load((DEPLOY / "k8s" / "secret.example.yaml").read_text())["stringData"]
    unknown = (set(config) | set(secret)) - SETTING_NAMES
    assert not unknown, f"not settings: {unknown}"
    assert config["VOC_WEB_HOST"] == "0.0.0.0"  # probes and scrapes come from outside the pod


def _exported_metric_names() -> set[str]:
    registry = CollectorRegistry()
    PipelineMetrics.create(registry)
    names = set()
    for family in registry.collect():
        names.add(family.name)
        names.update(sample.name for sample in family.samples)
    # Counters and histograms without samples yet still export these suffixes.
    for family in registry.collect():
        if family.type == "counter":
            names.add(family.name + "_total")
        if family.type == "histogram":
            names.update(family.name + s for s in ("_bucket", "_sum", "_count"))
    return names


@pytest.mark.parametrize("rules_file", ["prometheus/rules.yaml"])
def test_every_metric_the_alerting_rules_read_is_exported(rules_file: str) -> None:
    rules = yaml.safe_load((DEPLOY / rules_file).read_text())
    expressions = [rule["expr"] for group in rules["groups"] for rule in group["rules"]]
    used = {name for expr in expressions for name in re.findall(r"\b(voc_[a-z_]+)", expr)}
    assert used, "the rules read no voc_ metric"
    missing = used - _exported_metric_names()
    assert not missing, f"{rules_file} reads metrics the worker does not export: {missing}"


def test_the_configmap_and_secret_together_are_valid_settings() -> None:
    # What the worker reads at start in the cluster: a wrong combination (SASL without a
    # username, a certificate without its key) is refused here, not on first connection.
    config = yaml.safe_load((DEPLOY / "k8s" / "configmap.yaml").read_text())["data"]
    secret = yaml.safe_load((DEPLOY / "k8s" / "secret.example.yaml").read_text())["stringData"]
    values = {**config, **secret}
    settings = Settings.model_validate(
        {
            name: values[f"VOC_{name.upper()}"]
            for name in Settings.model_fields
            if f"VOC_{name.upper()}" in values
        }
    )
    assert settings.kafka_security_protocol == "SASL_SSL" and settings.clickhouse_secure
