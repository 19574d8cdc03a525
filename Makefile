# statuschecker — the verbs a person uses. `make help` lists them.
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
CLIENT := client/statuschecker_client/__init__.py

.DEFAULT_GOAL := help

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' || { echo "statuschecker needs Python 3.11+"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	@touch $(STAMP)

.PHONY: help install run test test-faults lint format check migrate dbup dbdown bench bench-pings bench-register bench-apply bench-writes bench-profile bench-tab client config-schema vendor clean

help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-10s %s\n", $$1, $$2}'

install: $(STAMP) ## Create .venv and install statuschecker with its dev tools

run: $(STAMP) ## Serve API + poller (embedded PostgreSQL unless STATUSCHECKER_DATABASE_URL is set)
	$(BIN)/statuschecker run

test: $(STAMP) $(CLIENT) ## Run the whole test suite (the fault suite included) against a real PostgreSQL
	$(BIN)/pytest $(PYTEST_ARGS)

test-faults: $(STAMP) $(CLIENT) ## Run only the fault suite (test/faults) and print what each fault cost
	$(BIN)/pytest test/faults $(PYTEST_ARGS)

lint: $(STAMP) ## ruff check + format check + mypy
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

format: $(STAMP) ## Format the code with ruff
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

check: lint test ## lint, then the tests

migrate: $(STAMP) ## Apply the Alembic migrations to the configured database
	$(BIN)/statuschecker migrate

dbup: $(STAMP) ## Start a standalone development PostgreSQL and print its URL
	$(BIN)/statuschecker db start

dbdown: $(STAMP) ## Stop the standalone development PostgreSQL
	$(BIN)/statuschecker db stop

bench: $(STAMP) ## Scale-out benchmark: api + poller processes vs nginx (BENCH_ARGS="--services 10000 --interval 10 --peer blackbox")
	$(BIN)/python scripts/bench/poller.py $(BENCH_ARGS)

bench-pings: $(STAMP) ## Heartbeat ping benchmark: K clients pinging N heartbeats flat out (BENCH_ARGS="--services 1000 --clients 50 --duration 30")
	$(BIN)/python scripts/bench/pings.py $(BENCH_ARGS)

bench-register: $(STAMP) ## Registration benchmark: one POST at a time vs POST /v1/services:batch (BENCH_ARGS="--services 10000")
	$(BIN)/python scripts/bench/register.py $(BENCH_ARGS)

bench-apply: $(STAMP) ## Configuration benchmark: statuschecker apply of N services, then a no-op plan (BENCH_ARGS="--services 10000")
	$(BIN)/python scripts/bench/apply.py $(BENCH_ARGS)

bench-writes: $(STAMP) ## The database statements of a check, timed (BENCH_ARGS="--services 3000 --seconds 30")
	$(BIN)/python scripts/bench/write_path.py $(BENCH_ARGS)

bench-profile: $(STAMP) ## cProfile of one poller (or --role api) process's work (BENCH_ARGS="--services 3000 --seconds 30")
	$(BIN)/python scripts/bench/profile_poller.py $(BENCH_ARGS)

bench-tab: $(STAMP) ## The dashboard's tab in Chromium through an hour of refreshes at 2,000 services: memory and script time (BENCH_ARGS="--minutes 60")
	$(BIN)/python scripts/bench/tab_memory.py $(BENCH_ARGS)

client: $(CLIENT) ## Generate the typed Python client from openapispec.yaml into client/

$(CLIENT): openapispec.yaml openapi-client.yaml scripts/client_spec.py $(STAMP)
	mkdir -p client
	$(BIN)/python scripts/client_spec.py openapispec.yaml > client/openapi.yaml
	PATH="$(abspath $(BIN)):$$PATH" $(BIN)/openapi-python-client generate --path client/openapi.yaml \
		--config openapi-client.yaml --output-path client/statuschecker_client --meta none --overwrite
	@touch $(CLIENT)

config-schema: $(STAMP) ## Regenerate web/config.schema.json (configuration files' JSON Schema) from openapispec.yaml
	$(BIN)/python scripts/config_schema.py openapispec.yaml > web/config.schema.json

UPLOT_VERSION := 1.6.32
UPLOT_SHA256 := 4b8a8191e425658e3ea8c8c1314b0fc679c861ee3a1af2b20c7b16ba50b5133d

vendor: ## Fetch the pages' chart library again (uPlot $(UPLOT_VERSION) from npm, sha256 checked) into web/static/vendor (see web/vendor/README.md)
	rm -rf build/vendor && mkdir -p build/vendor
	cd build/vendor && npm pack --silent uplot@$(UPLOT_VERSION) >/dev/null \
		&& echo "$(UPLOT_SHA256)  uplot-$(UPLOT_VERSION).tgz" | sha256sum --check --quiet - \
		&& tar xzf uplot-$(UPLOT_VERSION).tgz
	cp build/vendor/package/dist/uPlot.esm.js build/vendor/package/dist/uPlot.min.css web/static/vendor/
	cp build/vendor/package/LICENSE web/vendor/uPlot.LICENSE

clean: ## Remove .venv, the generated client and caches (keeps var/ with its data)
	rm -rf $(VENV) client .pytest_cache .mypy_cache .ruff_cache *.egg-info
