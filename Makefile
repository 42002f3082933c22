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
# (PyPI's build, with CUDA on Linux). TORCH_INDEX names another wheel index (a mirror of the CPU
# index, or a CUDA version's); TORCH_WHEEL a torch wheel file already on disk (no index at all).
TORCH ?= cpu
TORCH_VERSION ?= 2.13.0
TORCH_WHEEL ?=
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

# Exits 0 when the wheel index answers for torch (its PEP 503 page), non-zero when it cannot be
# reached within 15 seconds (one try: pip would retry each request 5 times).
REACHABLE := import sys, urllib.request as r; \
	r.urlopen(sys.argv[1].rstrip("/") + "/torch/", timeout=15).close()
# Reads pip's --report (JSON) on stdin and prints the path of the wheel file it would install.
WHEEL_PATH := import json, sys, urllib.parse as u, urllib.request as r; \
	url = json.load(sys.stdin)["install"][0]["download_info"]["url"]; \
	print(r.url2pathname(u.urlsplit(url).path))

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
# The index is pip's only source for torch (--index-url, not --extra-index-url): pip never falls
# back to PyPI's build (on Linux the CUDA one, several GB more). When the index cannot be reached,
# a torch wheel file pip already has on disk (its find-links) is installed, or the set-up stops
# at once with one line that says what to choose. Switching builds: pip keeps an installed torch of the
# same version, so it is removed first.
$(VENV)/.torch-$(TORCH): | $(BIN)/python
	@echo "==> [2/3] installing PyTorch $(TORCH_VERSION) ($(TORCH) build; the largest download)"
	@index="$(TORCH_INDEX)"; wheel="$(TORCH_WHEEL)"; \
	if [ -n "$$wheel" ] && [ ! -f "$$wheel" ]; then \
		echo "error: TORCH_WHEEL=$$wheel is not a file: give the path of a downloaded torch wheel (.whl)" >&2; \
		exit 1; \
	fi; \
	if [ -z "$$wheel" ] && [ -n "$$index" ] && ! $(BIN)/python -c '$(REACHABLE)' "$$index" 2>/dev/null; then \
		wheel=$$($(PIP) install --dry-run --no-deps --no-index --ignore-installed --quiet --report - \
			"torch==$(TORCH_VERSION)" 2>/dev/null | $(BIN)/python -c '$(WHEEL_PATH)' 2>/dev/null); \
		if [ -n "$$wheel" ]; then \
			echo "    $$index cannot be reached; torch $(TORCH_VERSION) is on disk (pip's find-links): $$wheel"; \
		else \
			echo "error: $$index cannot be reached, so PyTorch's $(TORCH) build cannot be installed; choose: a mirror of that index (make lab TORCH_INDEX=URL), a torch wheel on disk (make lab TORCH_WHEEL=path/to/torch-$(TORCH_VERSION)-....whl), or PyPI's build, with CUDA on Linux, several GB (make lab TORCH=cuda)" >&2; \
			exit 1; \
		fi; \
	fi; \
	set -x; \
	$(PIP) install --upgrade pip || exit 1; \
	if ls $(VENV)/.torch-* >/dev/null 2>&1; then $(PIP) uninstall -y torch || exit 1; fi; \
	if [ -n "$$wheel" ]; then $(PIP) install "$$wheel"; \
	else $(PIP) install "torch==$(TORCH_VERSION)" $${index:+--index-url "$$index"}; fi
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
