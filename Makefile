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

.PHONY: install test test-fast lint demo bench clean test-gym-min test-rllib test-interop

$(STAMP): pyproject.toml Makefile
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 10) else "feedbackgym needs Python >= 3.10, found " + sys.version.split()[0])'
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --upgrade pip
	$(PY) -m pip install $(TORCH)
	$(PY) -m pip install -e ".[train,dev,multiagent]"
	touch $(STAMP)

install: $(STAMP)

test: $(STAMP)
	$(PY) -m pytest -q -n $(PYTEST_WORKERS)

# ruff (pyflakes, bugbear, pyupgrade, complexity <= 15, lines <= 120) and mypy on the package
lint: $(STAMP)
	$(VENV)/bin/ruff check feedbackgym tests experiments examples
	$(VENV)/bin/mypy

# the inner loop: everything but the tests marked slow (full-split fidelity, training, subprocesses)
test-fast: $(STAMP)
	$(PY) -m pytest -q -n $(PYTEST_WORKERS) -m "not slow"

# --- other Gymnasium versions and other people's RL code, each in its own venv -------------------
# RLlib pins gymnasium==1.2.2, which is also the lowest Gymnasium the suite supports: one venv,
# .venv-ray, runs the suite on that Gymnasium (test-gym-min) and the RLlib tests (test-rllib).
VENV_RAY ?= .venv-ray
RAY_STAMP := $(VENV_RAY)/.feedbackgym-installed
GYM_MIN ?= gymnasium==1.2.2
# TorchRL, Tianshou and rl_zoo3 pin packages (pandas < 3...) that would move the main venv's.
VENV_INTEROP ?= .venv-interop
INTEROP_STAMP := $(VENV_INTEROP)/.feedbackgym-installed

$(RAY_STAMP): pyproject.toml Makefile
	test -x $(VENV_RAY)/bin/python || $(PYTHON) -m venv $(VENV_RAY)
	$(VENV_RAY)/bin/python -m pip install $(TORCH)
	$(VENV_RAY)/bin/python -m pip install -e ".[train,dev,distributed,multiagent]" "$(GYM_MIN)"
	touch $@

$(INTEROP_STAMP): pyproject.toml Makefile
	test -x $(VENV_INTEROP)/bin/python || $(PYTHON) -m venv $(VENV_INTEROP)
	$(VENV_INTEROP)/bin/python -m pip install $(TORCH)
	$(VENV_INTEROP)/bin/python -m pip install -e ".[train,dev,interop]"
	touch $@

# the registry-wide contract (tests/suite, tests/interop: every id through Gymnasium's API, vector
# modes, checkers, CLI) on gymnasium 1.2.2; the family folders re-check simulation numbers, which do
# not depend on the Gymnasium version, and run in `make test`. GYM_MIN_TESTS=tests runs everything.
GYM_MIN_TESTS ?= tests/suite tests/interop
test-gym-min: $(RAY_STAMP)
	$(VENV_RAY)/bin/python -c 'import gymnasium as g; print("gymnasium", g.__version__)'
	$(VENV_RAY)/bin/python -m pytest -q -n $(PYTEST_WORKERS) -m "not slow" --ignore=tests/interop/test_rllib.py \
		--ignore=tests/interop/test_rllib_multiagent.py \
		$(GYM_MIN_TESTS)

# a tiny PPO training on a local Ray instance (1 env runner), resume, export, evaluate; a tiny
# multi-agent PPO on the market's PettingZoo view through RLlib's ParallelPettingZooEnv
test-rllib: $(RAY_STAMP)
	$(VENV_RAY)/bin/python -m pytest -q -p no:xdist tests/interop/test_rllib.py tests/interop/test_rllib_multiagent.py

# TorchRL, Tianshou, rl_zoo3, CleanRL-style PPO (tests/interop)
test-interop: $(INTEROP_STAMP)
	$(VENV_INTEROP)/bin/python -m pytest -q -n $(PYTEST_WORKERS) tests/interop --ignore=tests/interop/test_rllib.py \
		--ignore=tests/interop/test_rllib_multiagent.py

demo: $(STAMP)
	$(PY) -m feedbackgym.demo

bench: $(STAMP)
	$(VENV)/bin/feedbackgym bench feedbackgym/AbrStreaming-v0

clean:
	rm -rf $(VENV) $(VENV_RAY) $(VENV_INTEROP) runs/demo
