"""Import a Functions app and index its functions by trigger type.

`app.get_functions()` may be called only once per app object (a second call raises
"does not have a unique function name"), so the index is cached per app object.
"""

from __future__ import annotations

import importlib
import inspect
import sys
import weakref
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from local_runtime.errors import AppLoadError

DEFAULT_HTTP_METHODS = ("GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS")


@dataclass(frozen=True)
class HttpFunction:
    """An HTTP-triggered function and what the host needs to call it."""

    name: str
    route: str
    methods: tuple[str, ...]
    auth_level: str
    request_param: str
    durable_client_param: str | None
    task_hub: str | None
    accepts_context: bool
    func: Callable[..., Any]


@dataclass(frozen=True)
class ActivityFunction:
    """An activity: call `func(**{param: value})`, await if it returns a coroutine."""

    name: str
    param: str
    func: Callable[..., Any]
    is_async: bool


@dataclass(frozen=True)
class OrchestratorFunction:
    """An orchestrator: `handle(context_json) -> state_json` from the library."""

    name: str
    handle: Callable[[str], str]


@dataclass
class AppIndex:
    """The app's functions grouped by trigger type."""

    http: list[HttpFunction] = field(default_factory=list)
    activities: dict[str, ActivityFunction] = field(default_factory=dict)
    orchestrators: dict[str, OrchestratorFunction] = field(default_factory=dict)
    other: dict[str, str] = field(default_factory=dict)


_INDEXES: weakref.WeakKeyDictionary[Any, AppIndex] = weakref.WeakKeyDictionary()


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


def index_app(app: Any) -> AppIndex:
    """Index the app's functions; `get_functions()` runs once per app object."""
    cached = _INDEXES.get(app)
    if cached is not None:
        return cached
    default_auth = _level_name(getattr(app, "_auth_level", None)) or "FUNCTION"
    index = AppIndex()
    for function in app.get_functions():
        name = function.get_function_name()
        trigger = function.get_trigger()
        user_function = function.get_user_function()
        if trigger.type == "httpTrigger":
            index.http.append(_http_function(function, name, trigger, default_auth))
        elif trigger.type == "activityTrigger":
            index.activities[name] = ActivityFunction(
                name=name,
                param=trigger.name,
                func=user_function,
                is_async=inspect.iscoroutinefunction(user_function),
            )
        elif trigger.type == "orchestrationTrigger":
            index.orchestrators[name] = OrchestratorFunction(name=name, handle=user_function)
        else:
            index.other[name] = trigger.type
    _INDEXES[app] = index
    return index


def _http_function(function: Any, name: str, trigger: Any, default_auth: str) -> HttpFunction:
    client = next((b for b in function.get_bindings() if b.type == "durableClient"), None)
    methods = tuple(_level_name(m) for m in (trigger.methods or ())) or DEFAULT_HTTP_METHODS
    user_function = function.get_user_function()
    target = getattr(user_function, "client_function", user_function)
    accepts_context = "context" in inspect.signature(target).parameters
    return HttpFunction(
        name=name,
        route=trigger.route if trigger.route is not None else name,
        methods=tuple(m.upper() for m in methods),
        auth_level=_level_name(trigger.auth_level) or default_auth,
        request_param=trigger.name,
        durable_client_param=client.name if client is not None else None,
        task_hub=getattr(client, "task_hub", None) if client is not None else None,
        accepts_context=accepts_context,
        func=user_function,
    )


def _level_name(value: Any) -> str:
    """An enum member's value or a plain string, upper-cased ('' for None)."""
    if value is None:
        return ""
    return str(getattr(value, "value", value)).upper()
