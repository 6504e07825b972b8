# Learning-records pipeline. `make help` lists the targets.
# Everything installs itself on first use: the virtualenv and Python packages (pip), and the
# Kafka broker's jars (Maven Central, via tools/kafka/pom.xml). Nothing is installed by hand.

PYTHON ?= python3.11
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
# The data folder of `make up` / `down` / `status` (DATA=.data/demo: the demo's school).
DATA   ?= .data

.DEFAULT_GOAL := help
.PHONY: help install kafka-jars demo test test-unit test-integration lint format up down status \
        migrate dagster-ui clean bench test-browser chromium lock test-faults

help: ## list the targets
	@grep -E '^[a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) | awk -F ':.*## ' '{printf "  make %-18s %s\n", $$1, $$2}'

$(STAMP): pyproject.toml requirements.lock
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -c requirements.lock -e ".[stack,dev]"
	touch $(STAMP)

lock: install ## pin the installed versions into requirements.lock (after changing a dependency)
	{ sed -n '1,3p' requirements.lock; $(PY) -m pip freeze --exclude-editable; } > requirements.lock.new
	mv requirements.lock.new requirements.lock

install: $(STAMP) ## create the virtualenv and install the project (once; redone when pyproject changes)

kafka-jars: $(STAMP) ## fetch the Kafka broker jars with Maven (once, cached in .kafka/)
	$(PY) -m pipelines.kafka_broker fetch

demo: install kafka-jars ## the main job end to end: broker, worker, API, simulated school, Dagster, a conversation card
	$(PY) -m pipelines demo

test: install kafka-jars chromium lint ## lint, type-check and run every test (unit + integration on the real broker and chDB)
	$(PY) -m pytest -q

test-browser: install kafka-jars chromium ## only the browser tests of the teacher app (Debian's chromium, headless); screenshots in .data/screenshots/
	$(PY) -m pytest -m browser tests/integration/test_teacher_browser.py

chromium: ## install Debian's chromium for the browser tests (once; apt-get, no downloaded browser)
	@test -x /usr/bin/chromium || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; }

test-faults: install kafka-jars ## only the fault runs: SIGKILLed worker, warehouse outage, records that once halted it
	$(PY) -m pytest -q -m faults

test-unit: install ## only the fast unit tests
	$(PY) -m pytest -q -m "not integration"

test-integration: install kafka-jars ## only the integration tests (real Kafka broker, real chDB)
	$(PY) -m pytest -q -m integration

bench: install kafka-jars ## benchmark: pipeline rates vs raw Kafka/chDB/validation limits; table + .bench/results.json (BENCH_ARGS=--quick)
	$(PY) -m pipelines.bench $(BENCH_ARGS)

lint: install ## ruff + mypy
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy

format: install ## apply ruff's formatting and fixes
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

up: install kafka-jars ## start broker + worker + LRS API + teacher app in the background (xAPI at http://127.0.0.1:8080/xAPI/, app at http://127.0.0.1:8081/; DATA=.data/demo serves the demo's school)
	$(PY) -m pipelines up --detach --data-dir $(DATA)

down: ## stop what `make up` started
	@if [ -x $(PY) ]; then $(PY) -m pipelines down --data-dir $(DATA); else echo "nothing to stop"; fi

status: ## show what `make up` started
	$(PY) -m pipelines status --data-dir $(DATA)

migrate: install ## apply warehouse migrations (CLICKHOUSE_URL, default embedded chDB in .data/chdb)
	$(PY) -m pipelines migrate --no-topics

DEMO_DATA := $(CURDIR)/.data/demo
dagster-ui: install ## the Dagster UI on http://127.0.0.1:3000 over the demo's warehouse (or CLICKHOUSE_URL)
	mkdir -p $(DEMO_DATA)/dagster_home
	test -f $(DEMO_DATA)/dagster_home/dagster.yaml || printf 'telemetry:\n  enabled: false\n' > $(DEMO_DATA)/dagster_home/dagster.yaml
	CLICKHOUSE_URL=$${CLICKHOUSE_URL:-chdb://$(DEMO_DATA)/chdb} \
	PROFILE_ROSTER_DIR=$${PROFILE_ROSTER_DIR:-$(DEMO_DATA)/roster} \
	DAGSTER_HOME=$${DAGSTER_HOME:-$(DEMO_DATA)/dagster_home} \
	VIRTUAL_ENV=$(CURDIR)/$(VENV) PATH=$(CURDIR)/$(VENV)/bin:$$PATH \
	$(VENV)/bin/dg dev -h 127.0.0.1 -p 3000

clean: ## remove data, logs and caches (keeps the venv and the Kafka jars)
	rm -rf .data .run .pytest_cache .mypy_cache .ruff_cache
