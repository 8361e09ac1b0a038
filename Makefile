# Keel. The first two targets are the ones a newcomer needs: `make demo` and `make test`.
# Both set up .venv from nothing (pinned by requirements.lock) and are safe to run again.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
ENV ?= dev
CDK_VERSION := 2.1148.1
CDK := node_modules/.bin/cdk
export AWS_ACCOUNT_ID_ENDPOINT_MODE := disabled
export JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION := 20
export CDK_DISABLE_CLI_TELEMETRY := true

.PHONY: demo test lint typecheck unit integration e2e local bench synth diff deploy lock clean

demo: $(STAMP)
	$(BIN)/keel demo

test: $(STAMP) lint typecheck
	$(BIN)/python -m pytest -n 2 --dist loadfile --durations=10

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP)
	$(BIN)/mypy

unit integration e2e: $(STAMP)
	$(BIN)/python -m pytest tests/$@

local: $(STAMP)
	$(BIN)/keel local up --seed demo

# `make bench` (8-10 min) or `make bench QUICK=1` (< 2 min): prints a table and writes
# benchmarks/results.json. Method: benchmarks/README.md.
bench: $(STAMP)
	$(BIN)/python -m benchmarks $(if $(filter-out 0,$(QUICK)),--quick,)

$(STAMP): pyproject.toml requirements.lock
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --upgrade pip==25.3
	$(BIN)/python -m pip install --quiet --disable-pip-version-check \
		-c requirements.lock -e '.[local,dev,cdk]'
	touch $(STAMP)

lock: $(STAMP)
	( echo '# Full resolution of pyproject.toml (all extras) for Python 3.11, made with `make lock`.'; \
	  echo '# Installs use it as a constraints file, so every machine gets the same versions.'; \
	  $(BIN)/python -m pip freeze --exclude-editable ) > requirements.lock

clean:
	rm -rf $(VENV) .keel .mypy_cache .pytest_cache .ruff_cache cdk.out

# --- AWS stack (CDK). `make synth ENV=prod` needs neither an AWS account nor Docker; `diff` and
# `deploy` need credentials for the environment's account. ENV is dev, staging or prod.
# jsii hangs silently when it cannot create its package cache: give it one in the repo.
CDK_STAMP := node_modules/.installed
JSII_CACHE := $(CURDIR)/.cache/jsii
CDK_TIMEOUT ?= 900
DEPLOY_TIMEOUT ?= 3600
CDK_RUN := env JSII_RUNTIME_PACKAGE_CACHE_ROOT=$(JSII_CACHE) $(CDK)
CDK_EXTRA ?=
CDK_ARGS = --no-notices -c env=$(ENV) $(CDK_EXTRA)

.PHONY: bundle

$(CDK_STAMP): package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	test "$$($(CDK) --version | cut -d' ' -f1)" = "$(CDK_VERSION)"
	touch $(CDK_STAMP)

# Build (or find in .cache/) the Lambda dependency layer and the staged function code.
bundle: $(STAMP)
	$(BIN)/python -m infra.bundling

# IMDS off: synth needs no credentials and must not wait for an instance profile that is absent.
synth: $(STAMP) $(CDK_STAMP)
	mkdir -p $(JSII_CACHE)
	AWS_EC2_METADATA_DISABLED=true timeout $(CDK_TIMEOUT) $(CDK_RUN) synth $(CDK_ARGS) --quiet
	@echo "template: cdk.out/$$($(BIN)/python -c 'from infra.config import load; print(load("$(ENV)").stack_name)').template.json"

diff: $(STAMP) $(CDK_STAMP)
	mkdir -p $(JSII_CACHE)
	timeout $(CDK_TIMEOUT) $(CDK_RUN) diff $(CDK_ARGS)

deploy: $(STAMP) $(CDK_STAMP)
	mkdir -p $(JSII_CACHE)
	timeout $(DEPLOY_TIMEOUT) $(CDK_RUN) deploy $(CDK_ARGS) --require-approval broadening
