# Two commands: `make demo` and `make test`. Everything else is set up on the way.
SHELL := /bin/bash
PY_BOOT ?= python3
UV := $(shell command -v uv 2>/dev/null || echo $(CURDIR)/.tools/bin/uv)
VENV := .venv
PY := $(VENV)/bin/python
export UV_COMPILE_BYTECODE := 1
export PYTHONPATH := $(CURDIR)
ONLY ?=
# Every tool's home and store under CHURN_HOME; nothing is written to the user's home directory.
CHURN_HOME ?= $(CURDIR)/.churn
export CHURN_HOME
export PREFECT_HOME := $(abspath $(CHURN_HOME))/prefect
export PREFECT_RESULTS_LOCAL_STORAGE_PATH := $(PREFECT_HOME)/storage
export BENTOML_HOME := $(abspath $(CHURN_HOME))/bentoml
export PREFECT_SERVER_ANALYTICS_ENABLED := false
export MPLCONFIGDIR := $(abspath $(CHURN_HOME))/matplotlib
export MLFLOW_DISABLE_TELEMETRY := true
# every flow run beats every 30 s: the crash automation marks a silent one Crashed (core/homes.py)
export PREFECT_FLOWS_HEARTBEAT_FREQUENCY := 30
# This home's Prefect server is started on PREFECT_PORT (when none of this home runs); the UIs on
# theirs. Exported: every target, and the flows and links they run, read the same ports.
PREFECT_PORT ?= 4200
MLFLOW_PORT ?= 5000
EVIDENTLY_PORT ?= 8000
export PREFECT_PORT MLFLOW_PORT EVIDENTLY_PORT
PORT ?= 3000
PLATFORM := $(PY) -m ops.platform --prefect-port $(PREFECT_PORT) --mlflow-port $(MLFLOW_PORT) --evidently-port $(EVIDENTLY_PORT) --bento-port $(PORT)
CUSTOMERS ?= 5000
MONTHS ?= 18

SPEC ?=
# the model of monitor, score, retrain, bento and serve: churn-model (default) or churn-<name>
MODEL ?=
MODEL_ARG := $(if $(strip $(MODEL)),--model-name $(MODEL))

.PHONY: setup demo replay test test-system lint typecheck pytest bench up down status prefect-server stop deploy worker mlflow-ui evidently-ui monitor rollback retrain score bento serve declare clean help

help:  ## list targets
	@grep -E '^[a-z-]+:.*##' $(MAKEFILE_LIST) | sed 's/:.*##/\t/'

$(CURDIR)/.tools/bin/uv:
	$(PY_BOOT) -m venv .tools
	.tools/bin/pip install --quiet uv

$(VENV)/.synced: pyproject.toml uv.lock | $(UV)
	$(UV) sync --frozen --python 3.11
	@touch $@

setup: $(VENV)/.synced  ## install the locked environment with uv

demo: setup  ## simulate sources, ingest, build features, train + gate (Prefect server started once)
	$(PY) -m flows.demo --customers $(CUSTOMERS) --months $(MONTHS)

lint: setup  ## ruff lint + format check
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

typecheck: setup  ## mypy
	$(VENV)/bin/mypy

pytest: setup  ## the test suite only (without the long end-to-end system tests)
	$(VENV)/bin/pytest

test-system: setup  ## long end-to-end system tests (marked `system`): full loops, several processes
	$(VENV)/bin/pytest -m system

test: lint typecheck pytest  ## lint, type checks and all tests

bench: setup  ## benchmarks, one JSON line per figure (ONLY=ingestion|features|training|serving|monitoring|orchestration|declared|definitions|cli|events|bigdata|rollout|replay)
	$(PY) -m bench.run $(ONLY)

up: setup  ## start the local platform in the background (Prefect server + worker, MLflow UI, ...) and print URLs
	$(PLATFORM) up

down:  ## stop exactly what `make up` started (PID records in CHURN_HOME/run), within 10 s
	@if [ -x $(PY) ]; then $(PY) -m ops.platform down; fi

status:  ## what `make up` started and still runs
	$(PY) -m ops.platform status

prefect-server: setup  ## start only this home's Prefect server (UI on PREFECT_PORT, 4200)
	$(PY) -m ops.server start

declare: setup  ## a declared source (your own data): ingest + features + train + gate the source in SPEC=path/to/spec.yaml
	@test -n "$(SPEC)" || { echo "usage: make declare SPEC=path/to/spec.yaml (see docs/declared-sources.md)"; exit 2; }
	$(PY) -m flows.declare $(SPEC)

deploy: setup  ## register prefect.yaml deployments on the local server (work pool churn-local)
	$(PY) -m ops.deploy

worker: setup  ## run a process worker for the churn-local pool in the foreground (Ctrl-C stops it)
	api=$$($(PY) -m ops.server url) && PREFECT_API_URL=$$api $(VENV)/bin/prefect worker start --pool churn-local --type process

stop:  ## stop this home's Prefect server (started by the demo, a flow or `make prefect-server`)
	$(PY) -m ops.server stop

mlflow-ui: setup  ## MLflow UI in the foreground on the CHURN_HOME tracking store
	$(VENV)/bin/mlflow ui --backend-store-uri sqlite:///$(abspath $(CHURN_HOME))/mlflow.db --default-artifact-root file://$(abspath $(CHURN_HOME))/mlartifacts --host 127.0.0.1 --port $(MLFLOW_PORT)

retrain: setup  ## run the retrain flow once (ingest → features → train + gate → deploy → monitor; MODEL=churn-<name> too)
	$(PY) -m flows.retrain $(MODEL_ARG)

score: setup  ## score every active customer with the champion into table churn_scores (MODEL=churn-<name> too)
	$(PY) -m flows.score_batch $(MODEL_ARG)

evidently-ui: setup  ## Evidently UI on the monitoring workspace (http://127.0.0.1:8000)
	DO_NOT_TRACK=1 $(VENV)/bin/evidently ui --workspace $(abspath $(CHURN_HOME))/evidently --host 127.0.0.1 --port $(EVIDENTLY_PORT)

monitor: setup  ## one monitoring run (drift, quality, performance, business; reports + metrics; MODEL=churn-<name> too)
	$(PY) -m flows.monitor $(MODEL_ARG)

rollback: setup  ## move the champion alias back to the previous champion
	$(PY) -m flows.rollback

bento: setup  ## build (or reuse) the champion's bento with its Dockerfile (MODEL=churn-<name>: a declared source's)
	$(PY) -m tasks.deploy build $(MODEL_ARG)

serve: setup  ## serve the champion's bento on http://127.0.0.1:$(PORT) (POST /predict; MODEL=churn-<name> too)
	$(PY) -m tasks.deploy serve --port $(PORT) $(MODEL_ARG)

clean: down  ## stop the platform and remove local state (CHURN_HOME)
	$(if $(strip $(CHURN_HOME)),rm -rf "$(CHURN_HOME)")

REPLAY_ARGS ?=
replay: setup  ## months of operation week by week on the platform: drift, retrain, gate (REPLAY_ARGS="--months 6 --drift-month 3 --seed 42")
	PORT=$(PORT) $(PY) -m flows.replay $(REPLAY_ARGS)
