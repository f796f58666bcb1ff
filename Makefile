# One-command entry points. `make run` starts the whole local stack; `make test` runs every test.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: install run test lint format bench clean

$(STAMP): requirements.txt requirements-local.txt requirements-dev.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --disable-pip-version-check -r requirements-dev.txt
	touch $(STAMP)

install: $(STAMP)

# The whole local stack: session emulator + Functions host on http://127.0.0.1:7071 (Ctrl-C stops both).
run: $(STAMP)
	$(PY) -m devstack

test: $(STAMP)
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .
	$(PY) -m pytest -q

lint: $(STAMP)
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .

format: $(STAMP)
	$(PY) -m ruff check --fix .
	$(PY) -m ruff format .

bench: $(STAMP)
	$(PY) bench/emulator_overhead.py
	$(PY) bench/local_runtime_hops.py
	$(PY) bench/e2e_latency.py

clean:
	rm -rf .local .pytest_cache .ruff_cache
