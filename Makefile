# voc-pipeline: the front door. `make help` lists the targets.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
VOC := $(VENV)/bin/voc
STAMP := $(VENV)/.installed

.DEFAULT_GOAL := help
.PHONY: help setup up browser prometheus zookeeper down status demo bi test test-unit test-integration test-rebalance lint format chaos bench bench-queries train eval eval-pii bench-nlp clean

help: ## List the targets
	@grep -hE '^[a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-18s %s\n", $$1, $$2}'

# The install compiles pipeline/text/native/_hotpath.pyx (Cython, fetched as a build requirement)
# with gcc against Python's headers; Debian's gcc and python3-dev are installed if missing.
$(STAMP): pyproject.toml setup.py pipeline/text/native/_hotpath.pyx
	$(PYTHON) -m venv $(VENV)
	@if ! command -v gcc >/dev/null || ! $(PY) -c 'import os, sysconfig; \
	    raise SystemExit(not os.path.exists(os.path.join(sysconfig.get_paths()["include"], "Python.h")))'; then \
	  echo "installing gcc and python3-dev (the compiled hot path needs them)"; \
	  SUDO=$$([ "$$(id -u)" = 0 ] || echo sudo); $$SUDO apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq --no-install-recommends gcc python3-dev >/dev/null; \
	fi
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev,train]'
	$(PY) -c 'import pipeline.text.native._hotpath'  # fails here, not in a worker, if the build did not
	touch $(STAMP)

setup: $(STAMP) ## Create .venv and install the project with its dev tools; builds the compiled hot path

up: setup ## Start Apache Kafka (KRaft, from Maven Central jars) and ClickHouse; installs what is missing
	bash deploy/local/services.sh up

browser: ## Install Debian's chromium if missing (the HTML report test uses it headless)
	bash deploy/local/services.sh browser

prometheus: ## Install Debian's prometheus and promtool if missing (the monitoring tests run them)
	bash deploy/local/services.sh prometheus

zookeeper: ## Fetch ZooKeeper's jars from Maven Central if missing (the ClickHouse cluster test starts one)
	bash deploy/local/services.sh zookeeper

down: ## Stop the local services
	bash deploy/local/services.sh down

status: ## Show which local services run
	bash deploy/local/services.sh status

demo: up ## Set everything up, run the pipeline on the demo data, print report and alerts
	$(VOC) demo

bi: up browser ## Apache Superset on the local ClickHouse: chart, docs/bi.md queries checked, PNG (after `make demo`)
	bash deploy/local/services.sh up superset
	VOC_SUPERSET_PASSWORD=$${VOC_SUPERSET_PASSWORD:-voc-superset-local} \
	  VOC_SUPERSET_BI_PASSWORD=$${VOC_SUPERSET_BI_PASSWORD:-voc-bi-local} \
	  $(VOC) superset provision --screenshot .local/superset/chart.png
	@echo "Superset: http://127.0.0.1:$${VOC_LOCAL_SUPERSET_PORT:-8088} (admin / voc-superset-local); chart: .local/superset/chart.png"

test: up browser prometheus zookeeper ## Run unit and integration tests against the real services
	$(PY) -m pytest tests -m "not rebalance"

test-unit: setup ## Run the unit tests only (no services)
	$(PY) -m pytest tests/unit

test-integration: up browser prometheus zookeeper ## Run the integration tests only
	$(PY) -m pytest tests/integration -m "not rebalance"

test-rebalance: up ## Restart and join workers mid-stream, N rounds (REPEAT=5); fails if any round fails
	set -e; for i in $$(seq 1 $(or $(REPEAT),5)); do echo "round $$i"; $(PY) -m pytest tests/integration -m rebalance -q -rA -s -p no:cacheprovider; done

lint: setup ## ruff and mypy, check only
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy

format: setup ## Apply ruff's fixes and formatting
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

chaos: up ## Failure drills: 5 SIGKILLs, ClickHouse down 5 min, 10k malformed (CHAOS_N=100000); ~25 min
	$(VOC) chaos --count $(or $(CHAOS_N),100000) | tee .local/chaos.json

bench: up ## Worker vs Faust-free baseline: throughput, latency, RSS, changelog bytes (BENCH_N=50000, BENCH_ARGS="--workers 2")
	$(VOC) bench --count $(or $(BENCH_N),50000) $(BENCH_ARGS)

train: setup ## Retrain the sentiment and catering aspect models on ../shared/data (CV=5 also cross-validates)
	$(VOC) train sentiment --cv-folds $(or $(CV),0)
	$(VOC) train aspects --cv-folds $(or $(CV),0)

eval: setup ## Evaluate ours and snownlp's model on ../shared/data; writes README "Results"
	$(VOC) eval report --readme README.md

bench-queries: up ## Every docs/bi.md query on 10M aspect mentions (BENCH_ROWS=10000000)
	$(VOC) bench-queries --rows $(or $(BENCH_ROWS),10000000)

eval-pii: setup ## Masking on a seeded corpus of 400 PII cases (10 types) and 400 look-alikes: recall, precision
	$(VOC) eval pii

bench-nlp: setup ## Text stage alone, compiled vs pure Python vs snownlp: docs/s per core, load time, RSS
	$(VOC) bench-nlp

clean: ## Remove the virtualenv and local service state (stop services first)
	rm -rf $(VENV) .local .mypy_cache .ruff_cache .pytest_cache
