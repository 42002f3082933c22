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

.PHONY: lab test lint unit drift notebooks chapters browser binder-check budget benchmark clean env

env: $(VENV)/.installed

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(PIP) install --quiet --upgrade pip
	$(PIP) install --quiet "$(TORCH)" $(if $(TORCH_INDEX),--index-url $(TORCH_INDEX))
	$(PIP) install --quiet -e ".[dev]"
	touch $@

## Open the course: JupyterLab on chapter 01.
lab: env
	$(BIN)/jupyter lab --ip=127.0.0.1 --port=$(PORT) chapters/01_vocabulary.ipynb

## Every test: lint, unit tests, the drift check, nbval over every notebook.
test: env lint unit drift notebooks

lint: env
	$(BIN)/ruff check course_lib tests benchmarks
	$(BIN)/ruff format --check course_lib tests benchmarks

unit: env
	$(BIN)/python -m pytest -q -n 2 tests

drift: env
	$(BIN)/python -m course_lib.notebooks --check

notebooks: env
	$(BIN)/python -m pytest -q -n 2 -p no:randomly --nbval-lax --nbval-current-env \
		--nbval-cell-timeout=120 chapters/*.ipynb solutions/*.ipynb

## Regenerate chapters/ and every .ipynb from solutions/*.py.
chapters: env
	$(BIN)/python -m course_lib.notebooks

clean:
	rm -rf $(VENV) .pytest_cache
