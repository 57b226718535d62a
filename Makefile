# Two commands: `make demo` and `make test`. Everything else is set up on the way.
SHELL := /bin/bash
PY_BOOT ?= python3
UV := $(shell command -v uv 2>/dev/null || echo $(CURDIR)/.tools/bin/uv)
VENV := .venv
PY := $(VENV)/bin/python
export UV_COMPILE_BYTECODE := 1
export PYTHONPATH := $(CURDIR)
ONLY ?=
CUSTOMERS ?= 5000
MONTHS ?= 18

SPEC ?=

.PHONY: table setup demo test lint typecheck pytest bench prefect-server stop deploy worker mlflow-ui rollback bento serve clean help

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

pytest: setup  ## the test suite only
	$(VENV)/bin/pytest

test: lint typecheck pytest  ## lint, type checks and all tests

bench: setup  ## benchmarks, one JSON line per figure (ONLY=ingestion|features|training|serving|owndata)
	$(PY) -m bench.run $(ONLY)

table: setup  ## your own data: ingest + features + train + gate the source in SPEC=path/to/spec.yaml
	@test -n "$(SPEC)" || { echo "usage: make table SPEC=path/to/spec.yaml (see docs/your-data.md)"; exit 2; }
	$(PY) -m flows.table $(SPEC)

prefect-server: setup  ## start the local Prefect server (UI at http://127.0.0.1:4200)
	$(PY) -m flows.server start

deploy: setup  ## register prefect.yaml deployments on the local server (work pool churn-local)
	$(PY) -m flows.deploy

worker: setup  ## run a process worker for the churn-local pool (executes deployment runs)
	PREFECT_API_URL=$${PREFECT_API_URL:-http://127.0.0.1:4200/api} $(VENV)/bin/prefect worker start --pool churn-local

stop:  ## stop the local Prefect server started by the demo
	$(PY) -m flows.server stop

mlflow-ui: setup  ## MLflow UI on the embedded tracking store
	$(VENV)/bin/mlflow ui --backend-store-uri sqlite:///$(CURDIR)/.churn/mlflow.db --port 5000

rollback: setup  ## move the champion alias back to the previous champion
	$(PY) -m flows.rollback

bento: setup  ## build (or reuse) the bento of the current champion, with its Dockerfile
	$(PY) -m tasks.deploy build

PORT ?= 3000
serve: setup  ## serve the champion's bento on http://127.0.0.1:$(PORT) (POST /predict)
	$(PY) -m tasks.deploy serve --port $(PORT)

clean:  ## remove local state (.churn)
	rm -rf .churn
