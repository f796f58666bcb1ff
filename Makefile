# One-command entry points. `make run` starts the whole local stack; `make test` runs every test.
#
# Three environments, each from its own requirements:
#   .venv          python3 (3.11+): the app, the local stack, tests and lint (requirements-dev.txt)
#   .venv-worker   Python 3.13 with Azure's Python worker, azure-functions-runtime (requirements-worker.txt):
#                  loads the app as Azure does; tests/worker runs in it
#   .venv-session  the session image's Python and packages (session_image/requirements.txt):
#                  what workflow code sees in the local sandbox, as in the image on Azure
#   .venv-clients/<name>  one per agent framework's published session client, pinned in
#                  clients/requirements-<name>.txt (their trees conflict with ours and with
#                  each other): tests/clients runs each, unpatched, against the emulator
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

# Interpreters are looked up like python3 is: on PATH, then pyenv, uv, /usr/local, /usr.
# Name one to skip the search: make test PYTHON313=/path/to/python3.13
PYTHON313 ?=
WORKER_VENV := .venv-worker
WORKER_PY := $(WORKER_VENV)/bin/python
WORKER_STAMP := $(WORKER_VENV)/.installed

# The session image's Python minor version, read from its Dockerfile (FROM python:3.11-...).
SESSION_PYTHON_VERSION := $(shell sed -n 's/^FROM python:\([0-9]*\.[0-9]*\).*/\1/p' session_image/Dockerfile)
SESSION_PYTHON ?=
SESSION_VENV := .venv-session
SESSION_PY := $(SESSION_VENV)/bin/python
SESSION_STAMP := $(SESSION_VENV)/.installed

PIP_INSTALL := -m pip install -q --disable-pip-version-check

CLIENTS := langchain llamaindex autogen semantickernel
CLIENT_STAMPS := $(foreach c,$(CLIENTS),.venv-clients/$(c)/.installed)

.PHONY: install worker-venv session-venv clients run test test-worker lint format bench soak clean

# The project itself is installed editable only for its console script, session-emulator.
$(STAMP): requirements.txt requirements-local.txt requirements-dev.txt pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) $(PIP_INSTALL) -r requirements-dev.txt
	$(PY) $(PIP_INSTALL) --no-deps -e .
	rm -rf *.egg-info  # a build leftover: in the project root it would list the project as installed
	touch $(STAMP)

.venv-clients/%/.installed: clients/requirements-%.txt
	test -x .venv-clients/$*/bin/python || $(PYTHON) -m venv .venv-clients/$*
	.venv-clients/$*/bin/python $(PIP_INSTALL) -r clients/requirements-$*.txt
	touch $@

clients: $(CLIENT_STAMPS)

$(WORKER_STAMP): requirements.txt requirements-local.txt requirements-worker.txt
	@py="$(PYTHON313)"; if [ -z "$$py" ]; then py=$$($(PYTHON) scripts/find_python.py 3.13) || { \
	  echo "make: Python 3.13 is needed for Azure's Python worker (.venv-worker)." >&2; exit 1; }; fi; \
	test -x $(WORKER_PY) || "$$py" -m venv $(WORKER_VENV)
	$(WORKER_PY) $(PIP_INSTALL) -r requirements-worker.txt
	touch $(WORKER_STAMP)

# The image installs a spaCy model from a URL (not a package registry): left out locally,
# so the guardrails PII check cannot load it here (see docs/session_image.md).
$(SESSION_STAMP): session_image/requirements.txt session_image/Dockerfile
	@py="$(SESSION_PYTHON)"; if [ -z "$$py" ]; then py=$$($(PYTHON) scripts/find_python.py $(SESSION_PYTHON_VERSION)) || { \
	  echo "make: Python $(SESSION_PYTHON_VERSION) (the session image's) is needed for .venv-session." >&2; exit 1; }; fi; \
	test -x $(SESSION_PY) || "$$py" -m venv $(SESSION_VENV)
	grep -v ' @ ' session_image/requirements.txt > $(SESSION_VENV)/requirements.txt
	$(SESSION_PY) $(PIP_INSTALL) -r $(SESSION_VENV)/requirements.txt
	touch $(SESSION_STAMP)

install: $(STAMP) $(SESSION_STAMP)

worker-venv: $(WORKER_STAMP)

session-venv: $(SESSION_STAMP)

# The whole local stack: session emulator + Functions host on http://127.0.0.1:7071 (Ctrl-C stops both).
# With Python 3.13 the host first has Azure's own worker index the app; without, it applies the
# worker's load rules itself.
run: $(STAMP) $(SESSION_STAMP)
	@$(MAKE) -s worker-venv || echo "make: no .venv-worker: the host checks the app with the worker's rules instead" >&2
	$(PY) -m devstack

test: $(STAMP) $(SESSION_STAMP) $(WORKER_STAMP)
	@$(MAKE) -s -j4 clients
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .
	$(PY) -m pytest -q
	$(WORKER_PY) -m pytest -q tests/worker

test-worker: $(WORKER_STAMP)
	$(WORKER_PY) -m pytest -q tests/worker

lint: $(STAMP)
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .

format: $(STAMP)
	$(PY) -m ruff check --fix .
	$(PY) -m ruff format .

bench: $(STAMP) $(SESSION_STAMP) $(WORKER_STAMP)
	$(PY) bench/emulator_overhead.py
	$(PY) bench/local_runtime_hops.py
	$(WORKER_PY) bench/worker_overhead.py
	$(PY) bench/e2e_latency.py

# Crash soak (not part of `make test`, which runs a 40-run version): 300 runs while the whole
# stack is SIGKILLed ten times, then 300 runs while `make run`'s process group is.
soak: $(STAMP) $(SESSION_STAMP)
	$(PY) bench/soak.py --runs 300 --kills 10 --kill-every 8 --kill stack --out bench/results/soak-stack.json
	$(PY) bench/soak.py --runs 300 --kills 10 --kill-every 8 --kill makerun --out bench/results/soak-makerun.json

clean:
	rm -rf .local .pytest_cache .ruff_cache
