# athena-fairshare — the front door. `make demo` and `make test` bootstrap everything they need.
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

ROOT := $(abspath $(dir $(lastword $(MAKEFILE_LIST))))
PYTHON311 ?= $(shell command -v python3.11 2>/dev/null || echo python3)
VENV := $(ROOT)/.venv
PY := $(VENV)/bin/python
BUILD := $(ROOT)/.build
export PYTHONPATH := $(ROOT)/lambda_src:$(ROOT)

# --- Terraform, offline: the provider comes from the filesystem mirror the machine image ships.
TF_MIRROR ?= $(shell dirname "$$(find / -xdev -maxdepth 3 -type d -name registry.terraform.io 2>/dev/null | head -1)" 2>/dev/null)
TF_RC := $(BUILD)/terraformrc
export TF_CLI_CONFIG_FILE := $(TF_RC)
export TF_IN_AUTOMATION := 1
export CHECKPOINT_DISABLE := 1

.PHONY: help venv lint typecheck unit integration pytest test sim bench demo tf-rc clean

help: ## list the targets
	@grep -E '^[a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-18s %s\n", $$1, $$2}'

$(VENV)/.stamp: requirements-dev.txt lambda_src/requirements.txt pyproject.toml
	@test -x $(PY) || $(PYTHON311) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check --upgrade pip
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt -e .
	@touch $@

venv: $(VENV)/.stamp ## create or update .venv (Python 3.11, pinned)

$(TF_RC):
	@mkdir -p $(BUILD)
	@if [ -z "$(TF_MIRROR)" ] || [ ! -d "$(TF_MIRROR)/registry.terraform.io/hashicorp/aws" ]; then \
	  echo "error: no Terraform provider mirror found (looked for a folder holding registry.terraform.io/hashicorp/aws under / depth 3); set TF_MIRROR=<dir>" >&2; exit 1; fi
	@printf 'provider_installation {\n  filesystem_mirror {\n    path    = "%s"\n    include = ["registry.terraform.io/hashicorp/*"]\n  }\n}\n' "$(TF_MIRROR)" > $@

tf-rc: $(TF_RC) ## write the Terraform CLI config that points at the offline provider mirror

lint: venv ## ruff (lint and format check)
	$(VENV)/bin/ruff check lambda_src scripts tests localstack
	$(VENV)/bin/ruff format --check lambda_src scripts tests localstack

typecheck: venv ## mypy --strict on the fairshare package
	$(VENV)/bin/mypy

unit: venv ## unit tests (pure, no network)
	$(PY) -m pytest -q tests/unit

integration: venv ## integration tests (moto, in-process)
	$(PY) -m pytest -q tests/integration

pytest: venv
	$(PY) -m pytest -q tests/unit tests/integration

test: lint typecheck pytest ## everything: lint, types, unit, integration, Terraform, checkov, LocalStack e2e

sim: venv ## compare policies on every bundled scenario
	$(PY) scripts/simulate.py --scenario all --policies fairshare,fifo,round_robin,seed000

bench: venv ## admission decisions per second at 1,000 tenants x 100k queued
	$(PY) scripts/bench_admission.py

demo: venv ## the main job: a multi-tenant workload through the platform, with a live view
	$(PY) scripts/simulate.py --scenario scripts/scenarios/heavy_vs_light.json --live

clean: ## remove build output (keeps .venv)
	rm -rf $(BUILD) .pytest_cache .mypy_cache .ruff_cache
