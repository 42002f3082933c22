# The two commands learners and instructors need: `make lab` and `make test`.
# Everything else here is what they are made of. Without make (Windows): README, "Without make".

PYTHON ?= python3
VENV ?= .venv
# Windows keeps a virtual environment's programs in Scripts\, everything else in bin/.
BIN := $(VENV)/$(if $(filter Windows_NT,$(OS)),Scripts,bin)
PIP := $(BIN)/python -m pip
PORT ?= 8888
PYTEST := $(BIN)/python -m pytest -p no:cacheprovider

# Which PyTorch build: cpu (the default: ~750 MB smaller, enough for every chapter) or cuda
# (PyPI's build, with CUDA on Linux). TORCH_INDEX names another wheel index (e.g. a CUDA version).
TORCH ?= cpu
TORCH_VERSION ?= 2.13.0
ifeq ($(TORCH),cpu)
TORCH_INDEX ?= https://download.pytorch.org/whl/cpu
else ifeq ($(TORCH),cuda)
TORCH_INDEX ?=
else
$(error TORCH must be cpu or cuda, got '$(TORCH)')
endif
# The versions the tests passed with (pins apply on Python 3.11.7+ only). CONSTRAINTS= lets pip choose.
CONSTRAINTS ?= constraints.txt
PIN := $(if $(CONSTRAINTS),-c $(CONSTRAINTS))

# Exits 0 when the index's host accepts a connection, non-zero when it cannot be reached.
REACHABLE := import socket, sys, urllib.parse as u; \
	socket.create_connection((u.urlsplit(sys.argv[1]).hostname, 443), timeout=10).close()

.PHONY: lab test env test-env lint unit drift notebooks chapters work system-deps book \
	budget rehearse portability test-matrix clean

## Open the course: JupyterLab on your own copy of chapter 01 (work/, which git ignores).
# JupyterLab refuses to start as root unless told; containers and cloud machines often run as root.
ALLOW_ROOT := $(if $(filter 0,$(shell id -u 2>/dev/null)),--allow-root)

lab: env work
	@echo "==> JupyterLab: open the http://127.0.0.1:$(PORT)/lab?token=... address printed below;"
	@echo "    stop it with Ctrl+C (twice). Another port: make lab PORT=8899"
	$(BIN)/jupyter lab --ip=127.0.0.1 --port=$(PORT) $(ALLOW_ROOT) work/01_vocabulary.ipynb

## Copy every chapter you do not have yet into work/ (never overwriting yours), and install
## JupyterLab's settings for the course (no news pop-up, widget state saved, .py opens as notebook).
work: env
	$(BIN)/python -m course_lib.lab

## Every test: lint, unit tests (browser test included), the drift check, nbval on every notebook.
test: test-env lint drift unit notebooks

env: $(VENV)/.installed
test-env: $(VENV)/.installed-test

$(BIN)/python:
	@echo "==> [1/3] creating the virtual environment $(VENV) with $(PYTHON)"
	$(PYTHON) -m venv $(VENV)

# One stamp per torch build, so `make lab TORCH=cuda` after a CPU set-up reinstalls torch.
$(VENV)/.torch-$(TORCH): | $(BIN)/python
	@echo "==> [2/3] installing PyTorch $(TORCH_VERSION) ($(TORCH) build; the largest download)"
	$(PIP) install --upgrade pip
	@# Switching builds: pip keeps an installed torch of the same version, so remove it first.
	if ls $(VENV)/.torch-* >/dev/null 2>&1; then $(PIP) uninstall -y torch; fi
	@# An index pip cannot reach costs retries for every package: ask it once, give up at once.
	index="$(TORCH_INDEX)"; \
	if [ -n "$$index" ] && ! $(BIN)/python -c "$(REACHABLE)" "$$index" 2>/dev/null; then \
		echo "    $$index cannot be reached: pip takes torch from its other sources"; index=""; \
	fi; \
	$(PIP) install "torch==$(TORCH_VERSION)" $${index:+--extra-index-url "$$index"}
	rm -f $(VENV)/.torch-*
	touch $@

$(VENV)/.installed: pyproject.toml $(CONSTRAINTS) \
		$(VENV)/.torch-$(TORCH)
	@echo "==> [3/3] installing the course and JupyterLab"
	$(PIP) install $(PIN) -e ".[course]"
	@echo "==> done: $$(du -sh $(VENV) 2>/dev/null | cut -f1) in $(VENV)"
	touch $@

$(VENV)/.installed-test: $(VENV)/.installed pyproject.toml $(CONSTRAINTS)
	@echo "==> installing the test tools"
	$(PIP) install $(PIN) -e ".[dev,browser,binder]"
	touch $@

lint: test-env
	$(BIN)/ruff check course_lib tests benchmarks
	$(BIN)/ruff format --check course_lib tests benchmarks

drift: test-env
	$(BIN)/python -m course_lib.notebooks --check

## Debian packages some tests need: chromium (browser test), bubblewrap (the grader's sandbox).
# Installed with apt where we are root and apt exists; elsewhere the tests that need them skip.
system-deps: test-env
	bash tests/browser/install.sh $(BIN)

# --dist loadgroup: tests marked xdist_group("book") share one worker, so the book is built once.
unit: test-env system-deps
	$(PYTEST) -q -n 2 --dist loadgroup tests

# Every notebook twice: on this machine's own floating-point path, then on another (OpenBLAS's
# oldest x86 kernels, one thread: other last bits in every matrix product), so that a claim
# which holds on one path only fails here, not on a learner's laptop. The full matrix of paths:
# `make portability`. --dist loadfile keeps each notebook's cells on one worker, in order.
NOTEBOOKS ?= chapters/*.ipynb solutions/*.ipynb
SECOND_PATH = $(shell $(BIN)/python benchmarks/portability.py --second-path)
NBVAL := MPLBACKEND=agg $(PYTEST) -q -n 2 --dist loadfile --nbval-lax --nbval-current-env \
	--nbval-cell-timeout=300

notebooks: test-env
	@echo "==> notebooks on this machine's floating-point path"
	$(NBVAL) $(NOTEBOOKS)
	@echo "==> notebooks again on a second path: $(SECOND_PATH)"
	env $(SECOND_PATH) $(NBVAL) $(NOTEBOOKS)

## The unit tests and chapters 01-02 on Python 3.10-3.13, one .venv-3.X each (slow: an hour).
test-matrix:
	$(PYTHON) benchmarks/python_matrix.py

## Every notebook on every floating-point path this machine can produce; prints the bands.
portability: test-env
	$(BIN)/python benchmarks/portability.py

## Regenerate chapters/ and every .ipynb from solutions/*.py.
chapters: test-env
	$(BIN)/python -m course_lib.notebooks

## The course book: every learner chapter executed into static HTML in book/ (git ignores it).
book: $(VENV)/.installed-book
	$(BIN)/python -m course_lib.book --out book

$(VENV)/.installed-book: $(VENV)/.installed pyproject.toml $(CONSTRAINTS)
	$(PIP) install $(PIN) -e ".[book]"
	touch $@

## Wall time and peak memory of every notebook, and import times (writes the README table).
budget: test-env
	$(BIN)/python benchmarks/budget.py --readme

## Build a Binder-like environment from binder/ alone and run every chapter on one thread.
rehearse: test-env
	$(BIN)/python benchmarks/binder_rehearsal.py

clean:
	rm -rf $(VENV) .pytest_cache artifacts book
