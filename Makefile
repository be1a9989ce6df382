# Two entry points for a fresh clone: `make run` and `make test`. Both create or reuse .venv, with
# the dashboard's libraries (the `board` extra; `pip install carbonboard` alone is the tracker).
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
PORT ?= 3333
FILEPATH ?= examples/emissions.csv

.PHONY: run test test-oldest-pandas lint format bench data examples plotly-bundle clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed-app: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[board]'
	touch $@

$(VENV)/.installed-test: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[board,test]'
	touch $@ $(VENV)/.installed-app

run: $(VENV)/.installed-app  ## set up and launch the dashboard on the example history
	$(BIN)/carbonboard --filepath=$(FILEPATH) --port=$(PORT)

test: $(VENV)/.installed-test  ## set up and run every check: lint, then the whole test suite
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/python -m pytest

# The oldest pandas pyproject.toml allows (pandas>=2.0), with a numpy it was built for.
OLDEST ?= .venv-oldest
OLDEST_PINS := 'pandas==2.0.*' 'numpy<2'
DATA_TESTS := tests/dashboard/test_loader.py tests/dashboard/test_mixed_sources.py \
	tests/dashboard/test_store.py tests/dashboard/test_aggregate.py \
	tests/dashboard/test_efficiency.py

$(OLDEST)/.installed: pyproject.toml
	$(PYTHON) -m venv $(OLDEST)
	$(OLDEST)/bin/python -m pip install --quiet --upgrade pip
	$(OLDEST)/bin/python -m pip install --quiet -e '.[board]' $(OLDEST_PINS) 'pytest>=8' 'pytest-timeout>=2.2'
	touch $@

test-oldest-pandas: $(OLDEST)/.installed  ## the loading tests again, on the oldest pandas allowed
	$(OLDEST)/bin/python -c 'import pandas; assert pandas.__version__.startswith("2.0."), pandas.__version__'
	$(OLDEST)/bin/python -m pytest -m "not browser" $(DATA_TESTS)

lint: $(VENV)/.installed-test
	$(BIN)/ruff check .

format: $(VENV)/.installed-test
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

bench: $(VENV)/.installed-test  ## print the speed figures quoted in the README
	$(BIN)/python benchmarks/run_all.py

data: $(VENV)/.installed-app  ## rebuild the bundled grid and CPU data from ../shared/data/reference
	$(BIN)/python -m tracker.intensity.build
	$(BIN)/python -m tracker.data.build_cpu_table

examples: $(VENV)/.installed-app  ## regenerate examples/emissions.csv
	$(BIN)/python examples/generate_history.py

PLOTLY_SRC := assets/src/plotly
plotly-bundle:  ## rebuild assets/plotly-carbonboard.min.js (needs node and npm)
	test -d $(PLOTLY_SRC)/node_modules || (cd $(PLOTLY_SRC) && npm install --no-audit --no-fund --no-package-lock)
	$(PLOTLY_SRC)/node_modules/.bin/esbuild $(PLOTLY_SRC)/entry.js --bundle --minify \
		--format=iife --global-name=Plotly --target=es2016 --loader:.css=empty \
		--define:global=window --define:define.amd=false --alias:stream=stream-browserify \
		--legal-comments=eof --banner:js="$$(cat $(PLOTLY_SRC)/banner.js)" \
		--outfile=assets/plotly-carbonboard.min.js
	# map geometry defaults to our own assets, never plotly's CDN (the graphs also say so)
	sed -i 's#dflt:"https://cdn.plot.ly/un/"#dflt:"assets/topojson/"#' assets/plotly-carbonboard.min.js
	! grep -q "https://cdn" assets/plotly-carbonboard.min.js
	rm -rf $(PLOTLY_SRC)/node_modules

clean:
	rm -rf $(VENV) $(OLDEST) build dist test-artifacts .pytest_cache .ruff_cache
