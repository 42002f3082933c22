# The two commands learners and instructors need: `make lab` and `make test`.
# Everything else here is what they are made of.

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# torch 2.13.0 is pinned for the set-up only (the package itself asks for torch>=2.3).
# Elsewhere, a CPU-only build is smaller: make lab TORCH_INDEX=https://download.pytorch.org/whl/cpu
TORCH ?= torch==2.13.0
TORCH_INDEX ?=
PIP := $(BIN)/python -m pip
PORT ?= 8888
PYTEST := $(BIN)/python -m pytest -p no:cacheprovider

.PHONY: lab test env test-env lint unit drift notebooks chapters browser-deps budget rehearse clean

## Open the course: JupyterLab on chapter 01.
# JupyterLab refuses to start as root unless told; containers and cloud machines often run as root.
ALLOW_ROOT := $(if $(filter 0,$(shell id -u)),--allow-root)

lab: env
	$(BIN)/jupyter lab --ip=127.0.0.1 --port=$(PORT) $(ALLOW_ROOT) chapters/01_vocabulary.ipynb

## Every test: lint, unit tests (browser test included), the drift check, nbval on every notebook.
test: test-env lint drift unit notebooks

env: $(VENV)/.installed
test-env: $(VENV)/.installed-test

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(PIP) install --quiet --upgrade pip
	$(PIP) install --quiet "$(TORCH)" $(if $(TORCH_INDEX),--index-url $(TORCH_INDEX))
	$(PIP) install --quiet -e .
	touch $@

$(VENV)/.installed-test: $(VENV)/.installed pyproject.toml
	$(PIP) install --quiet -e ".[dev,browser,binder]"
	touch $@

lint: test-env
	$(BIN)/ruff check course_lib tests benchmarks
	$(BIN)/ruff format --check course_lib tests benchmarks

drift: test-env
	$(BIN)/python -m course_lib.notebooks --check

browser-deps: test-env
	bash tests/browser/install.sh $(BIN)

unit: test-env browser-deps
	$(PYTEST) -q -n 2 tests

# --dist loadfile keeps each notebook's cells on one worker, in order.
notebooks: test-env
	MPLBACKEND=agg $(PYTEST) -q -n 2 --dist loadfile --nbval-lax --nbval-current-env \
		--nbval-cell-timeout=300 chapters/*.ipynb solutions/*.ipynb

## Regenerate chapters/ and every .ipynb from solutions/*.py.
chapters: test-env
	$(BIN)/python -m course_lib.notebooks

## Wall time and peak memory of every notebook, and import times (writes the README table).
budget: test-env
	$(BIN)/python benchmarks/budget.py --readme

## Build a Binder-like environment from binder/ alone and run every chapter on one thread.
rehearse: test-env
	$(BIN)/python benchmarks/binder_rehearsal.py

clean:
	rm -rf $(VENV) .pytest_cache artifacts
