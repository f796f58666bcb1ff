"""The app as Azure's Python worker (``azure-functions-runtime``) loads and invokes it.

Runs only on Python 3.13 with the worker installed (``make test`` uses ``.venv-worker``);
anywhere else this folder fails at once rather than skip. One worker per process, as on
Azure: the session fixture ``served`` starts it for ``function_app.py`` (it imports the
module and indexes it; ``get_functions()`` can run once per app), serves it with the local
durable engine in this process (every invocation goes through the worker), and points the
app at a session emulator whose sandbox runs the session image's Python.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from local_runtime import python_worker
from local_runtime.auth import AuthConfig
from local_runtime.testing import RunningRuntime, run_local_runtime
from session_emulator.config import EmulatorConfig
from session_emulator.testing import run_emulator

if not python_worker.can_run_here():
    raise RuntimeError(
        "tests/worker needs Python 3.13 with azure-functions-runtime: run it with "
        ".venv-worker/bin/python -m pytest tests/worker (make test does)"
    )

from local_runtime.worker_invoker import WorkerInvoker

REPO = Path(__file__).resolve().parents[2]
SESSION_PYTHON = REPO / ".venv-session" / "bin" / "python"
POOL_PREFIX = "/subscriptions/local/resourceGroups/local/sessionPools/local"
KEY = "worker-test-key"


@dataclass(frozen=True)
class Served:
    """The app on the worker, served over HTTP, with its pool."""

    invoker: WorkerInvoker
    running: RunningRuntime
    pool_endpoint: str

    @property
    def worker(self) -> python_worker.PythonWorker:
        return self.invoker.worker


@pytest.fixture(scope="session")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    assert SESSION_PYTHON.exists(), "run `make session-venv` first"
    emulator = EmulatorConfig(
        port=0, data_dir=tmp_path_factory.mktemp("sessions"), python=str(SESSION_PYTHON)
    )
    with run_emulator(emulator) as emulator_url:
        pool = f"{emulator_url.rstrip('/')}"
        settings = {
            "AzureSession__PoolManagementEndpoint": pool,
            "AzureSession__AuthMode": "none",
            "AzureSession__SessionIdentifierKey": secrets.token_urlsafe(32),
            "AzureSession__InitialPollIntervalSeconds": "0.1",
        }
        saved = {k: os.environ.get(k) for k in settings}
        os.environ.update(settings)
        invoker = WorkerInvoker(REPO)
        try:
            with run_local_runtime(
                invoker=invoker,
                db_path=tmp_path_factory.mktemp("durable") / "durable.sqlite3",
                auth=AuthConfig(function_keys=(KEY,)),
            ) as running:
                yield Served(invoker=invoker, running=running, pool_endpoint=pool)
        finally:
            invoker.close()
            for k, v in saved.items():
                if v is None:
                    os.environ.pop(k, None)
                else:
                    os.environ[k] = v
