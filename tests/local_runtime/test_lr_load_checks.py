"""The local host refuses what Azure's Python worker refuses, before serving anything.

The same broken apps are refused by the worker itself in ``tests/worker`` (Python 3.13);
here the host's copy of the worker's rules (this Python's azure-functions 1.x SDK) and the
host's use of ``.venv-worker`` are checked, and ``python -m local_runtime`` / ``make run``'s
stack stop with the function named.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from devstack.stack import WORKER_PYTHON, LocalStack, StackConfig, StackError, free_port
from local_runtime.errors import AppLoadError
from local_runtime.load_checks import check_functions, worker_verdict
from tests.support.broken_apps import (
    APP_FUNCTION_COUNT,
    BROKEN_APPS,
    REPO_ROOT,
    BrokenApp,
    expected_error,
    load_app_module,
    write_broken_app,
)

REAL_APP_BUG = BROKEN_APPS[0]
NEEDS_WORKER = "run `make worker-venv`: the host uses Azure's worker from .venv-worker"


@pytest.mark.parametrize("app", BROKEN_APPS, ids=lambda a: a.name)
def test_rules_refuse_with_the_workers_message(app: BrokenApp, tmp_path: Path) -> None:
    module = load_app_module(write_broken_app(app, tmp_path / app.name))
    with pytest.raises(AppLoadError) as refused:
        check_functions(module.app.get_functions())
    assert str(refused.value).endswith(expected_error(app))


def test_rules_accept_the_real_app() -> None:
    module = load_app_module(REPO_ROOT)
    assert len(check_functions(module.app.get_functions()).functions) == APP_FUNCTION_COUNT


def run_host(app_dir: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    """``python -m local_runtime`` in ``app_dir`` (it exits before serving when it refuses)."""
    env = dict(os.environ, PYTHONPATH=str(REPO_ROOT))
    argv = [
        sys.executable, "-m", "local_runtime", "--port", str(free_port()),
        "--db", str(app_dir / "d.sqlite3"), "--settings", str(app_dir / "none.json"), *extra,
    ]  # fmt: skip
    return subprocess.run(
        argv,
        cwd=app_dir,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_host_with_the_rules_exits_naming_the_function(tmp_path: Path) -> None:
    directory = write_broken_app(REAL_APP_BUG, tmp_path / "app")
    done = run_host(directory, "--no-worker")
    assert done.returncode == 2
    assert "its load rules, checked here without the worker" in done.stderr
    assert expected_error(REAL_APP_BUG) in done.stderr


def test_host_with_the_worker_exits_naming_the_function(tmp_path: Path) -> None:
    assert WORKER_PYTHON.exists(), NEEDS_WORKER
    directory = write_broken_app(REAL_APP_BUG, tmp_path / "app")
    done = run_host(directory)  # finds .venv-worker itself
    assert done.returncode == 2
    assert "Azure's Python worker refuses this app" in done.stderr
    assert expected_error(REAL_APP_BUG) in done.stderr


def test_worker_verdict_on_the_real_app() -> None:
    assert WORKER_PYTHON.exists(), NEEDS_WORKER
    verdict = worker_verdict(worker_python=str(WORKER_PYTHON), app_dir=REPO_ROOT)
    assert len(verdict.functions) == APP_FUNCTION_COUNT
    assert verdict.judge.startswith("azure-functions-runtime 1.3.0 on Python 3.13")


def test_make_runs_stack_refuses_to_start(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """What `make run` starts (devstack) stops with the worker's message, not a banner."""
    directory = write_broken_app(REAL_APP_BUG, tmp_path / "app")
    monkeypatch.setenv("PYTHONPATH", str(REPO_ROOT))  # the copy has the app, not the stack
    config = StackConfig(
        root=directory,
        state_dir=tmp_path / "state",
        settings_path=tmp_path / "local.settings.json",
        runtime_port=free_port(),
        emulator_port=free_port(),
        log_to_files=True,
    )
    stack = LocalStack(config)
    with pytest.raises(StackError, match="local_runtime exited with code 2"):
        stack.start()
    assert expected_error(REAL_APP_BUG) in stack.log_tail("runtime")
