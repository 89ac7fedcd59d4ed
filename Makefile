# vmscale — see README.md. `make run` and `make test` are the two commands a newcomer needs.
PY      := .venv/bin/python
PYTEST  := .venv/bin/pytest
export PYTHONUNBUFFERED := 1

.PHONY: setup run test test-unit test-integration test-sim test-ha test-e2e test-ui lint fmt bench lab-up lab-down asyncapi clean

setup:
	@scripts/setup.sh

run: setup
	@$(PY) -m cli run all --demo

test: setup
	$(PYTEST) tests/unit -m unit
	$(PYTEST) tests/integration -m integration
	$(PYTEST) tests/sim -m sim
	$(PYTEST) tests/ha -m ha
	$(PYTEST) tests/e2e -m e2e
	$(PYTEST) tests/ui -m ui

test-unit: setup
	$(PYTEST) tests/unit -m unit

test-integration: setup
	$(PYTEST) tests/integration -m integration

test-sim: setup
	$(PYTEST) tests/sim -m sim

test-ha: setup
	$(PYTEST) tests/ha -m ha

test-e2e: setup
	$(PYTEST) tests/e2e -m e2e

test-ui: setup
	$(PYTEST) tests/ui -m ui

lint: setup
	.venv/bin/ruff check .
	.venv/bin/ruff format --check .
	.venv/bin/mypy shared services lab cli testkit bench scripts/import_contracts.py
	$(PY) scripts/import_contracts.py

fmt: setup
	.venv/bin/ruff format .
	.venv/bin/ruff check --fix .

bench: setup
	$(PY) -m bench

lab-up: setup
	$(PY) -m cli lab up

lab-down:
	$(PY) -m cli lab down

asyncapi: setup
	$(PY) -m cli asyncapi --out docs/asyncapi

clean:
	$(PY) -m cli lab down || true
	rm -rf .state .lab
