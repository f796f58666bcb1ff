"""Import a Functions app and index its functions by trigger type.

`app.get_functions()` may be called only once per app object (a second call raises
"does not have a unique function name"), so the index is cached per app object. Indexing
applies Azure's Python worker's load rules (`load_checks.check_functions`) unless the app
was already judged by the worker itself: a function the worker would refuse is refused here.
"""

from __future__ import annotations

import importlib
import sys
import weakref
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from local_runtime import python_worker
from local_runtime.errors import AppLoadError
from local_runtime.in_process import InProcessInvoker
from local_runtime.invocation import (
    ActivityFunction,
    AppIndex,
    Callers,
    HttpFunction,
    OrchestratorFunction,
)
from local_runtime.load_checks import app_script_file, find_worker_python, worker_verdict

__all__ = [
    "ActivityFunction",
    "AppIndex",
    "HttpFunction",
    "LoadedApp",
    "OrchestratorFunction",
    "import_app",
    "in_process_invoker",
    "index_app",
    "load_app",
]

_INVOKERS: weakref.WeakKeyDictionary[Any, InProcessInvoker] = weakref.WeakKeyDictionary()


def import_app(spec: str, *, app_dir: str | Path | None = None) -> Any:
    """Import `module:attribute` (default attribute `app`) with `app_dir` on sys.path."""
    module_name, _, attr = spec.partition(":")
    attr = attr or "app"
    if app_dir is not None:
        path = str(Path(app_dir).resolve())
        if path not in sys.path:
            sys.path.insert(0, path)
    try:
        module = importlib.import_module(module_name)
    except Exception as exc:
        raise AppLoadError(f"cannot import {module_name!r}: {exc}") from exc
    try:
        return getattr(module, attr)
    except AttributeError as exc:
        raise AppLoadError(f"module {module_name!r} has no attribute {attr!r}") from exc


@dataclass(frozen=True)
class LoadedApp:
    """The functions the host serves, who calls them, and who judged the app."""

    invoker: Callers
    judge: str


def load_app(
    spec: str,
    *,
    app_dir: str | Path = ".",
    use_worker: bool = True,
    worker_python: str | None = None,
) -> LoadedApp:
    """Load the app the way closest to Azure that this machine allows.

    1. This Python runs Azure's worker (3.13 with ``azure-functions-runtime``): the worker
       indexes the app and every invocation goes through it (:class:`WorkerInvoker`).
    2. Another Python, but a worker environment exists (``.venv-worker`` or
       ``worker_python``): the worker indexes the app in a subprocess first; functions are
       then called in this process.
    3. Neither (or ``use_worker=False``): the worker's load rules, applied in this process.

    Raises :class:`AppLoadError` with the worker's message when the app would not load.
    """
    script_file = app_script_file(spec)
    if use_worker and worker_python is None and python_worker.can_run_here():
        from local_runtime.worker_invoker import WorkerInvoker

        invoker = WorkerInvoker(app_dir, script_file=script_file)
        return LoadedApp(invoker, f"Azure's Python worker {python_worker.worker_version()}")
    found = find_worker_python(worker_python) if use_worker else None
    if found is not None:
        verdict = worker_verdict(worker_python=found, app_dir=app_dir, script_file=script_file)
        app = import_app(spec, app_dir=app_dir)
        return LoadedApp(in_process_invoker(app, load_rules=False), verdict.judge)
    app = import_app(spec, app_dir=app_dir)
    return LoadedApp(in_process_invoker(app), "the worker's load rules (no Python 3.13 worker)")


def in_process_invoker(app: Any, *, load_rules: bool = True) -> InProcessInvoker:
    """The app's functions, called in this process; `get_functions()` runs once per app.

    `load_rules=False` skips the worker's load rules (when the worker itself judged the app).
    """
    cached = _INVOKERS.get(app)
    if cached is None:
        cached = _INVOKERS[app] = InProcessInvoker(app, load_rules=load_rules)
    return cached


def index_app(app: Any, *, load_rules: bool = True) -> AppIndex:
    """The index of `in_process_invoker(app)`."""
    return in_process_invoker(app, load_rules=load_rules).index
