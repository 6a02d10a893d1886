# DACS-HW developer commands. `make test` and `make demo` set up .venv themselves.
SHELL := /bin/bash
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
SOURCES := src/dacs custom_components/dacs_hw

.PHONY: setup test lint format typecheck pytest demo bench ha lock clean

$(STAMP): pyproject.toml constraints.txt scripts/setup.sh scripts/find-python.sh
	scripts/setup.sh

setup: ## create .venv (Python >= 3.14.2) with all dependencies
	scripts/setup.sh

test: $(STAMP) lint pytest ## lint, type-check and run the whole test suite

lint: $(STAMP) ## ruff (lint and format check) and mypy strict
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy $(wildcard $(SOURCES))

format: $(STAMP)
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

pytest: $(STAMP)
	$(BIN)/pytest --cov --cov-report=term $(PYTEST_ARGS)

demo: $(STAMP) ## run the main job
	$(BIN)/dacs demo $(DEMO_ARGS)

ha: $(STAMP) ## a real Home Assistant with the integration and a simulated heat pump
	$(BIN)/python scripts/run_ha.py $(HA_ARGS)

bench: $(STAMP) ## speed and memory goals, as ratios against in-run baselines
	$(BIN)/python -m benchmarks $(BENCH_ARGS)

lock: ## re-resolve dependencies into constraints.txt
	scripts/lock.sh

clean:
	rm -rf $(VENV) .tools .mypy_cache .ruff_cache .pytest_cache .coverage build
