# Two entry points: `make demo` and `make test`. Both build the environment from nothing.
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
INSTALLED := $(VENV)/.installed
# DVC lives in its own tool environment: its dependencies (hydra's antlr4 runtime) break the
# Dagster CLI, so it is never installed into $(VENV). Tests and lineage find it here.
VENV_DVC := .venv-dvc
DVC_VERSION := 3.67.1
# The stamp names the version, so changing DVC_VERSION rebuilds the tool environment.
DVC_INSTALLED := $(VENV_DVC)/.installed-$(DVC_VERSION)
UI_PORT ?= 3000

export DAGSTER_HOME := $(CURDIR)/.dagster_home
export DAGSTER_DISABLE_TELEMETRY := 1
export DVC_NO_ANALYTICS := 1
export GX_ANALYTICS_ENABLED := false
export HF_HUB_OFFLINE := 1
export CXRALIGN_DATA_DIR ?= $(CURDIR)/data
# `dg` runs the project's own environment; naming it keeps dg from warning that none is active.
export VIRTUAL_ENV := $(CURDIR)/$(VENV)

# pip install into venv $(1) with arguments $(2). torch's CUDA wheels are GBs from PyPI, and a
# connection that drops mid-wheel should cost a retry, not the whole build: pip resumes a broken
# download, and a failed install is tried again (the wheels already fetched stay in pip's cache).
PIP_ATTEMPTS := 3
pip_install = for attempt in $$(seq $(PIP_ATTEMPTS)); do \
	  $(1)/bin/pip install -q --resume-retries 10 $(2) && break; \
	  if [ "$$attempt" = $(PIP_ATTEMPTS) ]; then exit 1; fi; \
	  echo "pip install failed (attempt $$attempt of $(PIP_ATTEMPTS)); trying again in 30 s" >&2; sleep 30; \
	done

.PHONY: demo demo-full test ui bench dvc defs

# Real `dg launch` calls against the project's code location (cxralign_pipeline, found through
# [tool.dg] in pyproject.toml). Partitioned and unpartitioned assets go in separate calls: one
# run per incoming batch (partition), as the sensor would launch them.
MATERIALIZE := $(BIN)/dg launch
BATCH_ASSETS := dicom_images,report_sections,report_sentences,report_triplets,anatomy_boxes,region_sentence_pairs

## demo: build the environment, materialise every asset on the embedded dataset, say where to look
# The settings' defaults are the demo's size (one seed per recipe here; every recipe × seed is a
# partition of pretrained_model). `make demo-full` is the benchmark-sized version.
DEMO_RUNS ?= asg|0 convirt|0
RUN_CONFIG_DIR ?=
run_config = $(if $(RUN_CONFIG_DIR),$(if $(wildcard $(RUN_CONFIG_DIR)/$(1).yaml),--config $(RUN_CONFIG_DIR)/$(1).yaml))

demo: $(INSTALLED) $(DVC_INSTALLED) $(DAGSTER_HOME)/dagster.yaml
	$(MATERIALIZE) --assets incoming_studies,anatomy_detector $(call run_config,setup)
	failed=""; \
	for batch in $$(find "$(CXRALIGN_DATA_DIR)/incoming" -mindepth 1 -maxdepth 1 -type d ! -name '.*' -printf '%f\n' | sort); do \
	  echo "== batch $$batch"; \
	  $(MATERIALIZE) --assets $(BATCH_ASSETS) --partition "$$batch" || failed="$$failed $$batch"; \
	done; \
	if [ -n "$$failed" ]; then echo "batches that failed (others were processed):$$failed" >&2; exit 1; fi
	failed=""; \
	for run in $(foreach run,$(DEMO_RUNS),'$(run)'); do \
	  echo "== pretrained_model $$run"; \
	  $(MATERIALIZE) --assets pretrained_model --partition "$$run" $(call run_config,train) || failed="$$failed $$run"; \
	done; \
	if [ -n "$$failed" ]; then echo "training runs that failed (others were trained):$$failed" >&2; exit 1; fi
	$(MATERIALIZE) --assets downstream_evaluation,report_generator $(call run_config,eval)
	@echo
	@echo "Evaluation:       $(CXRALIGN_DATA_DIR)/reports/evaluation/summary.md"
	@echo "Generated reports: $(BIN)/cxralign generate run --model $(CXRALIGN_DATA_DIR)/models/generate/asg/seed-0 --data $(CXRALIGN_DATA_DIR) --out reports.jsonl --limit 5"
	@echo "Catalog (DuckDB): $(CXRALIGN_DATA_DIR)/catalog.duckdb"
	@echo "  e.g. $(BIN)/python -c \"from cxralign.io.catalog import Catalog; print(Catalog('$(CXRALIGN_DATA_DIR)').query('select split, count(*) from images group by split'))\""
	@echo "Lineage:          $(BIN)/cxralign audit $(CXRALIGN_DATA_DIR)/models/pretrain/asg/seed-0 --data $(CXRALIGN_DATA_DIR)   (a model directory or a table name; --markdown for an appendix)"
	@echo "Dagster UI:        make ui   (then open http://127.0.0.1:$(UI_PORT))"

## demo-full: the benchmark-sized chain (2,000 studies, every recipe × seed) in data-full/ (no DVC)
demo-full:
	$(MAKE) demo CXRALIGN_DATA_DIR=$(CURDIR)/data-full RUN_CONFIG_DIR=cxralign_pipeline/run_config/full \
	  DEMO_RUNS="$$($(BIN)/python -c 'from cxralign_pipeline.lib.partitions import TRAINING_RUNS; print(*TRAINING_RUNS.get_partition_keys())')"

## test: build the environment, run the test suite
test: $(INSTALLED) $(DVC_INSTALLED)
	$(BIN)/python -m pytest

## ui: the Dagster webserver and daemon on 127.0.0.1
ui: $(INSTALLED) $(DAGSTER_HOME)/dagster.yaml
	$(BIN)/dagster dev -w workspace.yaml -h 127.0.0.1 -p $(UI_PORT)

## defs: check that the code location loads and list what it defines
defs: $(INSTALLED)
	$(BIN)/dg check defs
	$(BIN)/dg list defs

## bench: ingestion throughput against MONAI and a plain pydicom loop
bench: $(INSTALLED)
	$(BIN)/pip install -q -e '.[bench]'
	$(BIN)/python benchmarks/ingest.py

$(INSTALLED): pyproject.toml
	rm -rf $(VENV)
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(call pip_install,$(VENV),-e '.[dev]')
	touch $@

## dvc: the DVC tool environment ($(VENV_DVC)/bin/dvc); `dvc repro` then rebuilds data/ without Dagster
dvc: $(DVC_INSTALLED)

$(DVC_INSTALLED):
	rm -rf $(VENV_DVC)
	$(PYTHON) -m venv $(VENV_DVC)
	$(VENV_DVC)/bin/pip install -q --upgrade pip
	$(call pip_install,$(VENV_DVC),'dvc==$(DVC_VERSION)')
	touch $@

$(DAGSTER_HOME)/dagster.yaml: dagster.yaml
	mkdir -p $(DAGSTER_HOME)
	cp dagster.yaml $@
