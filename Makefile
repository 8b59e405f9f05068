# The README's commands. Each target bootstraps .venv from scratch on a machine with
# Python >= 3.10 and make; nothing else needs to be installed first.
PYTHON ?= python3
VENV ?= .venv
# torch first, pinned: an unpinned torch pulls a multi-GB CUDA build. Override e.g.
#   make TORCH="torch==2.13.0 --index-url https://download.pytorch.org/whl/cpu"
TORCH ?= torch==2.13.0
PY := $(VENV)/bin/python
STAMP := $(VENV)/.feedbackgym-installed
PYTEST_WORKERS ?= 2

.PHONY: install test test-fast lint demo bench clean

$(STAMP): pyproject.toml Makefile
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 10) else "feedbackgym needs Python >= 3.10, found " + sys.version.split()[0])'
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --upgrade pip
	$(PY) -m pip install $(TORCH)
	$(PY) -m pip install -e ".[train,dev]"
	touch $(STAMP)

install: $(STAMP)

test: $(STAMP)
	$(PY) -m pytest -q -n $(PYTEST_WORKERS)

# ruff (pyflakes, bugbear, pyupgrade, complexity <= 15, lines <= 120) and mypy on the package
lint: $(STAMP)
	$(VENV)/bin/ruff check feedbackgym tests experiments
	$(VENV)/bin/mypy

# the inner loop: everything but the tests marked slow (full-split fidelity, training, subprocesses)
test-fast: $(STAMP)
	$(PY) -m pytest -q -n $(PYTEST_WORKERS) -m "not slow"

demo: $(STAMP)
	$(PY) -m feedbackgym.demo

bench: $(STAMP)
	$(VENV)/bin/feedbackgym bench feedbackgym/AbrStreaming-v0

clean:
	rm -rf $(VENV) runs/demo
