# DACS-HW developer commands. `make test` and `make demo` set up .venv themselves.
SHELL := /bin/bash
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
SOURCES := src/dacs custom_components/dacs_hw
# Wheels for the clean-venv install test (tests/release), fetched once per
# Home Assistant version: Home Assistant installs from them with no index.
WHEELHOUSE_STAMP := .tools/wheelhouse.stamp

.PHONY: setup test lint format typecheck pytest demo bench capacity ha screenshots lock clean dist version wheelhouse

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

$(WHEELHOUSE_STAMP): $(STAMP) pyproject.toml scripts/release.py
	$(BIN)/python scripts/release.py wheelhouse
	touch $@

wheelhouse: ## the wheels the clean-venv install test installs from
	$(BIN)/python scripts/release.py wheelhouse
	touch $(WHEELHOUSE_STAMP)

pytest: $(STAMP) $(WHEELHOUSE_STAMP)
	$(BIN)/pytest --cov --cov-report=term $(PYTEST_ARGS)

demo: $(STAMP) ## run the main job
	$(BIN)/dacs demo $(DEMO_ARGS)

ha: $(STAMP) ## a real Home Assistant with the integration and a simulated heat pump
	$(BIN)/python scripts/run_ha.py $(HA_ARGS)

screenshots: $(STAMP) ## the guides' screenshots of the real Home Assistant frontend (docs/images)
	$(BIN)/python scripts/ha_screenshots.py

bench: $(STAMP) ## speed and memory goals, as ratios against in-run baselines
	$(BIN)/python -m benchmarks $(BENCH_ARGS)

capacity: $(STAMP) ## the capacity model: make bench's figures scaled to 1,000,000 homes
	$(BIN)/python -m benchmarks.capacity_model $(CAPACITY_ARGS)

dist: $(STAMP) ## build the dacs-hw wheel and sdist into dist/ (docs/release.md)
	$(BIN)/python scripts/release.py dist

version: $(STAMP) ## set the version everywhere and release the CHANGELOG: make version V=0.2.0
	@test -n "$(V)" || { echo "usage: make version V=x.y.z"; exit 1; }
	$(BIN)/python scripts/release.py version $(V)

lock: ## re-resolve dependencies into constraints.txt
	scripts/lock.sh

clean:
	rm -rf $(VENV) .tools .mypy_cache .ruff_cache .pytest_cache .coverage build dist
