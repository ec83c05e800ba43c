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

.PHONY: help venv lint typecheck unit integration conformance pytest test sim sim-demo bench athena-bench e2e-bench demo tf-rc clean

help: ## list the targets
	@grep -E '^[a-zA-Z0-9_-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-18s %s\n", $$1, $$2}'

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

# --- Terraform checks (make tf-check): fmt, validate and tests of every module and stage root, checkov.
TF_MODULE_DIRS := $(patsubst %/,%,$(sort $(dir $(wildcard terraform/modules/*/main.tf))))
TF_STAGE_DIRS := $(patsubst %/,%,$(sort $(dir $(wildcard terraform/stages/*/main.tf))))
TF_ROOTS := $(TF_MODULE_DIRS) $(TF_STAGE_DIRS)
TF_TEST_ROOTS := $(patsubst %/tests/,%,$(sort $(dir $(wildcard terraform/*/*/tests/*.tftest.hcl))))
TF_TEST_JOBS ?= 2
TF_PLUGIN_CACHE := $(BUILD)/tf-plugin-cache
LAMBDA_ZIP := $(BUILD)/lambda/fairshare.zip
LOCALSTACK_ENDPOINT ?= http://127.0.0.1:4566
STAGE ?=

.PHONY: tf-fmt tf-init tf-validate tf-test checkov checkov-venv plan tf-check

tf-fmt: ## terraform fmt -check over terraform/, and the module READMEs' input/output tables are current
	terraform fmt -check -recursive -diff terraform
	$(PYTHON311) terraform/tools/module_docs.py --check

# Stage roots keep their committed .terraform.lock.hcl (readonly); module roots are only tested.
tf-init: $(TF_RC)
	@mkdir -p $(TF_PLUGIN_CACHE)
	@for d in $(TF_ROOTS); do \
	  lock=""; case $$d in terraform/stages/*) lock="-lockfile=readonly";; esac; \
	  TF_PLUGIN_CACHE_DIR=$(TF_PLUGIN_CACHE) terraform -chdir=$$d init -backend=false -input=false -no-color $$lock > $(BUILD)/tf-init.log 2>&1 \
	    || { cat $(BUILD)/tf-init.log; echo "error: terraform init failed in $$d" >&2; exit 1; }; \
	done; echo "init: $(words $(TF_ROOTS)) roots"

tf-validate: tf-init ## terraform validate of every module and stage root
	@mkdir -p $(BUILD)/tf-validate
	@printf '%s\n' $(TF_ROOTS) | xargs -P $(TF_TEST_JOBS) -I{} sh -c '\
	  d={}; log=$(BUILD)/tf-validate/$$(echo $$d | tr / _).log; \
	  terraform -chdir=$$d validate -no-color > $$log 2>&1 || { cat $$log; echo "error: terraform validate failed in $$d" >&2; exit 1; }'
	@echo "validate: $(words $(TF_ROOTS)) roots valid"

tf-test: tf-init venv ## terraform test (plan-mode, mocked provider) of every module and stage root
	@mkdir -p $(BUILD)/tf-test
	@printf '%s\n' $(TF_TEST_ROOTS) | xargs -P $(TF_TEST_JOBS) -I{} sh -c '\
	  d={}; log=$(BUILD)/tf-test/$$(echo $$d | tr / _).log; start=$$(date +%s); \
	  if terraform -chdir=$$d test -no-color > $$log 2>&1; then \
	    echo "test $$d: $$(grep -E "^Success!" $$log) ($$(( $$(date +%s) - start )) s)"; \
	  else cat $$log; echo "error: terraform test failed in $$d" >&2; exit 1; fi'
	$(PY) -m pytest -q tests/terraform

checkov: ## checkov over terraform/ (own venv .venv-checkov, checkov==3.3.30, offline); 0 failed checks
	PYTHON311=$(PYTHON311) scripts/checkov.sh $(ROOT)/terraform

checkov-venv: ## create .venv-checkov only (checkov creates it on first use too)
	@PYTHON311=$(PYTHON311) scripts/checkov.sh --install-only

tf-check: tf-fmt tf-validate tf-test checkov ## all Terraform checks: fmt, validate, tests, checkov

# One way to plan a stage: scripts/deploy.py's `plan` (credentials check, Lambda packaging, init with the
# stage's backend, .build/plans/<stage>.tfplan), so `scripts/deploy.py <stage> apply` applies what this wrote.
# The local stage without a LocalStack that answers shows the mocked plan of its test instead (nothing is called).
plan: $(TF_RC) ## terraform plan of one stage into .build/plans/<stage>.tfplan: make plan STAGE=dev|stg|prod|local
	@if [ -z "$(STAGE)" ] || [ ! -f terraform/stages/$(STAGE)/main.tf ]; then \
	  echo "usage: make plan STAGE=<$(subst $(eval) ,|,$(notdir $(TF_STAGE_DIRS)))>" >&2; exit 2; fi
	@mkdir -p $(TF_PLUGIN_CACHE) $(BUILD)/plans
	@if [ "$(STAGE)" = local ] && ! curl -fs -m 3 -o /dev/null $(LOCALSTACK_ENDPOINT)/_localstack/health; then \
	  echo "LocalStack does not answer on $(LOCALSTACK_ENDPOINT): mocked plan of the local stage (nothing is called)"; \
	  TF_PLUGIN_CACHE_DIR=$(TF_PLUGIN_CACHE) terraform -chdir=terraform/stages/local init -backend=false -input=false -no-color -lockfile=readonly > /dev/null; \
	  terraform -chdir=terraform/stages/local test -verbose -no-color -filter=tests/stage.tftest.hcl > $(BUILD)/plans/local.mocked.txt; \
	  grep -E '^\s+# .* will be created' $(BUILD)/plans/local.mocked.txt | sed -E 's/^\s+# //; s/ will be created//' | sort -u > $(BUILD)/plans/local.mocked.resources; \
	  sed -E 's/^module\.platform\.module\.([a-z_]+)\..*/\1/; s/^module\.platform\.[a-z0-9_]+\..*/platform/' $(BUILD)/plans/local.mocked.resources | sort | uniq -c; \
	  echo "Plan (mocked): $$(wc -l < $(BUILD)/plans/local.mocked.resources) to add; details in .build/plans/local.mocked.txt"; \
	  exit 0; fi; \
	$(MAKE) -s venv && $(PY) scripts/deploy.py $(STAGE) plan

lint: venv ## ruff (lint and format check)
	$(VENV)/bin/ruff check lambda_src scripts tests localstack
	$(VENV)/bin/ruff format --check lambda_src scripts tests localstack

typecheck: venv ## mypy --strict on the fairshare package
	$(VENV)/bin/mypy

unit: venv ## unit tests (pure, no network)
	$(PY) -m pytest -q tests/unit

integration: venv ## integration tests (moto, in-process)
	$(PY) -m pytest -q tests/integration

conformance: venv ## the ledger conformance suite, against the in-memory ledger and the DynamoDB one (moto)
	$(PY) -m pytest -q tests/conformance

pytest: venv ## every in-process suite (pyproject testpaths: unit, conformance, integration, emulator, reliability, security)
	$(PY) -m pytest -q -p no:cacheprovider -n 2

# Every venv is built first, side by side (their downloads and unpacking overlap); then the checks, in order.
test: ## everything: lint, types, Terraform, checkov, LocalStack e2e, pytest suites
	@$(MAKE) --no-print-directory -j4 $(VENV)/.stamp $(LS_STAMPS) checkov-venv $(TF_RC)
	@$(MAKE) --no-print-directory lint typecheck tf-check localstack-test pytest

# --- Reliability: the fault-injection campaign (real handlers, moto, a chaotic Athena); figures in .build/reliability.
RELIABILITY_ARGS ?=

.PHONY: reliability reliability-quick

reliability: venv ## the full fault-injection campaign: 10,000 queries, 5 tenants, every fault; prints the figures table
	@mkdir -p $(BUILD)/reliability
	$(PY) -m tests.reliability.campaign --queries 10000 --json $(BUILD)/reliability/campaign-10000.json $(RELIABILITY_ARGS)

reliability-quick: venv ## the reduced campaign and its checks (also part of make pytest)
	$(PY) -m pytest -q -p no:cacheprovider tests/reliability

sim: venv ## compare policies on every bundled scenario
	$(PY) scripts/simulate.py --scenario all --policies fairshare,weighted_fair,fifo,round_robin,seed000

bench: venv ## admission decisions per second at 1,000 tenants x 100k queued
	$(PY) scripts/bench_admission.py

demo: venv localstack-venv $(TF_RC) ## the main job: the local platform up, a multi-tenant workload through it, live
	$(PY) scripts/demo.py

E2E_BENCH_ARGS ?=
athena-bench: venv ## 200 clients polling the Athena endpoint every 0.25 s: Athena calls they cause, latency
	$(PY) scripts/bench_athena_endpoint.py $(ATHENA_BENCH_ARGS)

e2e-bench: venv localstack-venv $(TF_RC) ## the control loop measured on the local platform, beside direct Athena callers (burst, steady)
	$(PY) scripts/e2e_bench.py $(E2E_BENCH_ARGS)

sim-demo: venv ## the scheduler alone: the heavy_vs_light scenario in the simulator, live
	$(PY) scripts/simulate.py --scenario scripts/scenarios/heavy_vs_light.json --live

# --- LocalStack on the host (no Docker): Python 3.13 venv, our plugins, Lambdas on pyenv Pythons with boto3.
find_python = $(shell p="$$(pyenv prefix $(1) 2>/dev/null)"; if [ -x "$$p/bin/python" ]; then echo "$$p/bin/python"; else command -v python$(basename $(1)) 2>/dev/null; fi)
PYTHON313 ?= $(call find_python,3.13.0)
PYTHON312 ?= $(call find_python,3.12.1)
LS_VENV := $(ROOT)/.venv-localstack
LS_PLUGINS := localstack/host_executor $(if $(wildcard localstack/athena_emulator/pyproject.toml),localstack/athena_emulator)
LS_CTL = env -u PYTHONPATH $(PYTHON311) localstack/ctl.py
PIP_QUIET := --quiet --disable-pip-version-check

.PHONY: localstack-test localstack-venv localstack-up localstack-down localstack-status localstack-logs

$(LS_VENV)/.stamp: localstack/requirements.txt localstack/host_executor/pyproject.toml $(wildcard localstack/athena_emulator/pyproject.toml)
	@test -n "$(PYTHON313)" || { echo "error: Python 3.13 not found (pyenv prefix 3.13.0, or python3.13 on PATH); LocalStack 2026.3 needs it" >&2; exit 1; }
	@test -x $(LS_VENV)/bin/python || $(PYTHON313) -m venv $(LS_VENV)
	env -u PYTHONPATH $(LS_VENV)/bin/python -m pip install $(PIP_QUIET) -r localstack/requirements.txt $(addprefix -e ,$(LS_PLUGINS))
	@touch $@

$(ROOT)/.venv-lambda312/.stamp: localstack/requirements-lambda.txt
	@test -n "$(PYTHON312)" || { echo "error: Python 3.12 not found (pyenv prefix 3.12.1, or python3.12 on PATH); the Lambdas' runtime is python3.12" >&2; exit 1; }
	@test -x $(ROOT)/.venv-lambda312/bin/python || $(PYTHON312) -m venv $(ROOT)/.venv-lambda312
	env -u PYTHONPATH $(ROOT)/.venv-lambda312/bin/python -m pip install $(PIP_QUIET) -r localstack/requirements-lambda.txt
	@touch $@

$(ROOT)/.venv-lambda313/.stamp: localstack/requirements-lambda.txt
	@test -n "$(PYTHON313)" || { echo "error: Python 3.13 not found (pyenv prefix 3.13.0, or python3.13 on PATH)" >&2; exit 1; }
	@test -x $(ROOT)/.venv-lambda313/bin/python || $(PYTHON313) -m venv $(ROOT)/.venv-lambda313
	env -u PYTHONPATH $(ROOT)/.venv-lambda313/bin/python -m pip install $(PIP_QUIET) -r localstack/requirements-lambda.txt
	@touch $@

LS_STAMPS := $(LS_VENV)/.stamp $(ROOT)/.venv-lambda312/.stamp $(ROOT)/.venv-lambda313/.stamp

localstack-venv: ## LocalStack venv (3.13) with our plugins, and the Lambda runtimes' Pythons (built in parallel)
	@$(MAKE) --no-print-directory -j3 $(LS_STAMPS)

localstack-up: localstack-venv ## start LocalStack on the host (LOCALSTACK_PORT, default 4566) and wait until healthy
	$(LS_CTL) up

localstack-down: ## stop LocalStack and every process it started
	$(LS_CTL) down

localstack-status: ## pid, health and memory of the local LocalStack
	$(LS_CTL) status

localstack-logs: ## the last lines of .localstack/localstack.log (FOLLOW=1 to follow)
	$(LS_CTL) logs $(if $(FOLLOW),--follow)

localstack-test: venv localstack-venv $(TF_RC) ## the executor's own tests, then LocalStack up, local stage applied, tests/e2e, torn down
	$(PY) -m pytest -q -p no:cacheprovider tests/localstack
	$(PY) scripts/localstack_test.py

# --- Operator and tenant tools: scripts/deploy.py, tenantctl (console script), usage_report.py, loadgen.py.
LOADGEN_ARGS ?= --fake-api --tenant alpha=key-alpha --tenant beta=key-beta --rate 10 --duration 10 --mix 0.5:3,2:1
.PHONY: deploy loadgen usage-report

deploy: venv $(TF_RC) ## Terraform per stage with guard rails: make deploy STAGE=local CMD=plan|apply|output|destroy ARGS=--yes
	$(PY) scripts/deploy.py $(or $(STAGE),local) $(or $(CMD),plan) $(ARGS)

loadgen: venv ## load-test a tenant API (LOADGEN_ARGS="--endpoint URL --tenant a=KEY --rate 5"; default: the offline fake API)
	$(PY) scripts/loadgen.py $(LOADGEN_ARGS)

usage-report: venv ## per-tenant usage from the ledger: make usage-report ARGS="--table NAME --days 1 --plot usage.png"
	$(PY) scripts/usage_report.py $(ARGS)

clean: ## remove build output (keeps .venv)
	rm -rf $(BUILD) .pytest_cache .mypy_cache .ruff_cache
