# heatnet: every target creates .venv and installs what it needs on a fresh machine
# (only Python >= 3.11 and pip are assumed).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install lint type test check demo bench bench-full wheel-check clean samples qgis-check html-check plugin

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	touch $(STAMP)

install: $(STAMP)

lint: $(STAMP)
	$(BIN)/ruff check heatnet tests bench sample_data qgis_plugin
	$(BIN)/ruff format --check heatnet tests bench sample_data qgis_plugin
	$(BIN)/lint-imports

type: $(STAMP)
	$(BIN)/mypy

# test: one pytest worker per core (at most 4), each test file on one worker so its module
# fixtures (the sample district run, say) run once
test: $(STAMP)
	$(BIN)/pytest -n auto --maxprocesses 4 --dist loadfile --cov --cov-report=term

check: lint type test

demo: $(STAMP)
	$(BIN)/heatnet validate sample_data/district.gpkg
	$(BIN)/heatnet run sample_data/district.gpkg -o build/district-design.gpkg --overwrite --mkdir
	$(BIN)/heatnet report build/district-design.gpkg -o build/district-design.png --overwrite
	$(BIN)/heatnet report build/district-design.gpkg -o build/district-design.html --overwrite

# bench: every section, the optimiser one quick (the sample district + a 2,000-building grid at
# 120 s, the batch section on 4 district scenarios, the dispatch section's typical days, hourly
# year and district with dispatch feedback: ~18 min in all). bench-full: the optimiser on 2,000 and 10,000 buildings at 120 s and
# 600 s (over 30 minutes more). Options: `make bench BENCH_ARGS="--skip-check --skip-topology"`,
# see `python bench/run.py --help` (--optimise-sizes, --optimise-limits, --profile, ...).
bench: $(STAMP)
	$(BIN)/python bench/run.py --quick $(BENCH_ARGS)

bench-full: $(STAMP)
	$(BIN)/python bench/run.py --full $(BENCH_ARGS)

# html-check: the HTML report in headless Chromium (apt-get install chromium), keeping its
# screenshot in build/html-check/.
html-check: $(STAMP)
	HEATNET_HTML_PNG_DIR=build/html-check $(BIN)/pytest tests/test_html_browser.py -v -rs -p no:xdist

# plugin: the QGIS Processing plugin as a zip to install (Plugins > Manage and Install Plugins >
# Install from ZIP): build/heatnet_processing.zip, see docs/qgis-plugin.md
plugin:
	$(PYTHON) qgis_plugin/build_zip.py -o build/heatnet_processing.zip

# qgis-check: open a styled output in a real QGIS (the system Python's python3-qgis; the venv
# cannot import qgis), check its default layer styles load and render, keep the PNGs in
# build/qgis-check/. Checks a synthetic output unless HEATNET_QGIS_GPKG names one, e.g.
# `make qgis-check HEATNET_QGIS_GPKG=build/out.gpkg`. QGIS_PYTHON picks another interpreter.
# Then the Processing plugin (its zip) runs in the same QGIS: Design network on the tiny sample,
# Validate, Create input template, Report, Cancel on the district; screenshots of the dialog and
# the loaded design in build/qgis-check/plugin/.
QGIS_PYTHON ?= /usr/bin/python3

qgis-check: $(STAMP)
	@if $(QGIS_PYTHON) -c "import qgis.core" >/dev/null 2>&1; then \
		HEATNET_QGIS_PYTHON=$(QGIS_PYTHON) HEATNET_QGIS_PNG_DIR=build/qgis-check \
			$(BIN)/python -m pytest tests/test_qgis.py -v -rs && \
		$(BIN)/heatnet -q run sample_data/district.gpkg -o build/qgis-check/district-design.gpkg --overwrite --mkdir && \
		HEATNET_QGIS_GPKG=build/qgis-check/district-design.gpkg HEATNET_QGIS_PYTHON=$(QGIS_PYTHON) \
			HEATNET_QGIS_PNG_DIR=build/qgis-check/district $(BIN)/python -m pytest tests/test_qgis.py -v -rs && \
		HEATNET_QGIS_PYTHON=$(QGIS_PYTHON) HEATNET_QGIS_PNG_DIR=build/qgis-check/plugin \
			$(BIN)/python -m pytest tests/test_qgis_plugin.py -v -rs; \
	else \
		echo "QGIS not installed: skipped (apt-get install python3-qgis qgis-providers)"; \
	fi

samples: $(STAMP)
	$(BIN)/python sample_data/build_samples.py

clean:
	rm -rf build dist .pytest_cache .mypy_cache .ruff_cache .coverage htmlcov .hypothesis
