# heatnet: every target creates .venv and installs what it needs on a fresh machine
# (only Python >= 3.11 and pip are assumed).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install lint type test check demo bench bench-full wheel-check clean samples

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	touch $(STAMP)

install: $(STAMP)

lint: $(STAMP)
	$(BIN)/ruff check heatnet tests bench sample_data
	$(BIN)/ruff format --check heatnet tests bench sample_data
	$(BIN)/lint-imports

type: $(STAMP)
	$(BIN)/mypy

test: $(STAMP)
	$(BIN)/pytest --cov --cov-report=term

check: lint type test

demo: $(STAMP)
	$(BIN)/heatnet validate sample_data/district.gpkg
	$(BIN)/heatnet topology sample_data/district.gpkg -o build/district-topology.gpkg --overwrite
	$(BIN)/heatnet problem sample_data/district.gpkg -o build/district-problem.json --overwrite
	$(BIN)/heatnet solve build/district-problem.json -o build/district-solution.json --overwrite

# bench: every section, the optimiser one quick (the sample district + a 2,000-building grid at
# 120 s, ~8 min in all). bench-full: the optimiser on 2,000 and 10,000 buildings at 120 s and
# 600 s (over 30 minutes more). Options: `make bench BENCH_ARGS="--skip-check --skip-topology"`,
# see `python bench/run.py --help` (--optimise-sizes, --optimise-limits, --profile, ...).
bench: $(STAMP)
	$(BIN)/python bench/run.py --quick $(BENCH_ARGS)

bench-full: $(STAMP)
	$(BIN)/python bench/run.py --full $(BENCH_ARGS)

samples: $(STAMP)
	$(BIN)/python sample_data/build_samples.py

clean:
	rm -rf build dist .pytest_cache .mypy_cache .ruff_cache .coverage htmlcov .hypothesis
