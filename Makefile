# Two entry points: `make demo` and `make test`. Both build the environment from nothing.
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
INSTALLED := $(VENV)/.installed
UI_PORT ?= 3000

export DAGSTER_HOME := $(CURDIR)/.dagster_home
export DAGSTER_DISABLE_TELEMETRY := 1
export DVC_NO_ANALYTICS := 1
export GX_ANALYTICS_ENABLED := false
export HF_HUB_OFFLINE := 1
export CXRALIGN_DATA_DIR ?= $(CURDIR)/data

.PHONY: demo test ui bench

## demo: build the environment, materialise every asset on the embedded dataset, say where to look
demo: $(INSTALLED) $(DAGSTER_HOME)/dagster.yaml
	$(BIN)/dagster asset materialize -f workflows/definitions.py -d . --select '*'
	@echo
	@echo "Catalog (DuckDB): $(CXRALIGN_DATA_DIR)/catalog.duckdb"
	@echo "  e.g. $(BIN)/python -c \"from cxralign.io.catalog import Catalog; print(Catalog('$(CXRALIGN_DATA_DIR)').query('select split, count(*) from images group by split'))\""
	@echo "Dagster UI:        make ui   (then open http://127.0.0.1:$(UI_PORT))"

## test: build the environment, run the test suite
test: $(INSTALLED)
	$(BIN)/python -m pytest

## ui: the Dagster webserver and daemon on 127.0.0.1
ui: $(INSTALLED) $(DAGSTER_HOME)/dagster.yaml
	$(BIN)/dagster dev -w workspace.yaml -h 127.0.0.1 -p $(UI_PORT)

## bench: ingestion throughput against MONAI and a plain pydicom loop
bench: $(INSTALLED)
	$(BIN)/pip install -q -e '.[bench]'
	$(BIN)/python benchmarks/ingest.py

$(INSTALLED): pyproject.toml
	rm -rf $(VENV)
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[dev]'
	touch $@

$(DAGSTER_HOME)/dagster.yaml: dagster.yaml
	mkdir -p $(DAGSTER_HOME)
	cp dagster.yaml $@
