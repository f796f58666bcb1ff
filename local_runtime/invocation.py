"""The boundary between the host and the Python worker: what crosses it, in both directions.

On Azure the host sends the worker typed data (an HTTP request, the durable client's JSON, an
orchestration context, an activity input) and gets typed data back. The local host keeps the
same boundary so that it can be served by Azure's worker itself (:mod:`worker_invoker`, on
Python 3.13) or by a stand-in that calls the user function in this process with the SDK's
own binding converters (:mod:`in_process`). Above this line the host is the same either way.

The index of an app is built from its *raw bindings* (the function.json entries the worker
reports), as the host builds triggers and routes from them.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

DEFAULT_HTTP_METHODS = ("GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS")


class InvocationError(Exception):
    """An invocation failed in the worker: its message (``Type: text``) and stack trace."""

    def __init__(self, message: str, stack_trace: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.stack_trace = stack_trace

    @classmethod
    def from_exception(cls, exc: BaseException) -> InvocationError:
        """The worker's rendering of a user exception (``serialize_exception``)."""
        import traceback

        return cls(f"{type(exc).__name__}: {exc}", "".join(traceback.format_exception(exc)))


@dataclass(frozen=True)
class HttpRequestData:
    """An HTTP request as the host passes it (RpcHttp): lower-case headers, joined values."""

    method: str
    url: str
    headers: Mapping[str, str]
    query: Mapping[str, str]
    params: Mapping[str, str]  # route values
    body: bytes


@dataclass(frozen=True)
class HttpResponseData:
    """An HTTP function's answer as the host receives it."""

    status: int
    headers: Sequence[tuple[str, str]]
    body: bytes

    @classmethod
    def text(cls, value: str) -> HttpResponseData:
        """A function that returned a plain ``str``: 200, text/plain."""
        return cls(200, [("content-type", "text/plain; charset=utf-8")], value.encode())


#: (request, other input values by binding name (e.g. the durable client's JSON), invocation id)
HttpCaller = Callable[[HttpRequestData, Mapping[str, str], str], Awaitable[HttpResponseData]]
#: context JSON -> orchestrator state JSON (blocking; runs on a dispatcher thread)
OrchestrationCaller = Callable[[str], str]
#: (activity input JSON text or None, other input values by binding name) -> result JSON text
ActivityCaller = Callable[[str | None, Mapping[str, str] | None], Awaitable[str]]


@dataclass(frozen=True)
class HttpFunction:
    """An HTTP-triggered function: what the host routes by, and how to call it."""

    name: str
    route: str
    methods: tuple[str, ...]
    auth_level: str
    request_param: str
    durable_client_param: str | None
    task_hub: str | None
    call: HttpCaller


@dataclass(frozen=True)
class ActivityFunction:
    """An activity: ``await call(input_json, values)`` gives the result JSON text.

    An activity may also take a durable client (``durable_client_input``), as on Azure,
    e.g. to start another orchestration: ``values`` then carries its binding JSON.
    """

    name: str
    param: str
    call: ActivityCaller
    durable_client_param: str | None = None
    task_hub: str | None = None


@dataclass(frozen=True)
class OrchestratorFunction:
    """An orchestrator: ``handle(context_json) -> state_json``."""

    name: str
    handle: OrchestrationCaller


@dataclass
class AppIndex:
    """The app's functions grouped by trigger type."""

    http: list[HttpFunction] = field(default_factory=list)
    activities: dict[str, ActivityFunction] = field(default_factory=dict)
    orchestrators: dict[str, OrchestratorFunction] = field(default_factory=dict)
    other: dict[str, str] = field(default_factory=dict)


class Callers:
    """What an invoker provides per function kind (bound to the function's name)."""

    index: AppIndex

    def close(self) -> None:
        """Release what the invoker holds (the worker's loop and threads)."""

    def http(self, name: str, bindings: Sequence[Mapping[str, Any]]) -> HttpCaller:
        raise NotImplementedError

    def orchestration(self, name: str, param: str) -> OrchestrationCaller:
        raise NotImplementedError

    def activity(
        self, name: str, param: str, bindings: Sequence[Mapping[str, Any]] = ()
    ) -> ActivityCaller:
        raise NotImplementedError


def build_index(
    functions: Iterable[tuple[str, Sequence[Mapping[str, Any]]]], callers: Callers
) -> AppIndex:
    """The index from each function's raw bindings, as the host reads them."""
    index = AppIndex()
    for name, bindings in functions:
        trigger = next((b for b in bindings if str(b.get("type", "")).endswith("Trigger")), None)
        kind = trigger["type"] if trigger else "(no trigger)"
        if kind == "httpTrigger":
            index.http.append(_http_function(name, bindings, trigger, callers))
        elif kind == "activityTrigger":
            client = _durable_client(bindings)
            index.activities[name] = ActivityFunction(
                name=name,
                param=trigger["name"],
                call=callers.activity(name, trigger["name"], bindings),
                durable_client_param=client["name"] if client else None,
                task_hub=(client.get("taskHub") or None) if client else None,
            )
        elif kind == "orchestrationTrigger":
            index.orchestrators[name] = OrchestratorFunction(
                name=name, handle=callers.orchestration(name, trigger["name"])
            )
        else:
            index.other[name] = kind
    return index


def _http_function(
    name: str, bindings: Sequence[Mapping[str, Any]], trigger: Mapping[str, Any], callers: Callers
) -> HttpFunction:
    client = _durable_client(bindings)
    methods = tuple(str(m).upper() for m in trigger.get("methods") or ()) or DEFAULT_HTTP_METHODS
    return HttpFunction(
        name=name,
        route=trigger.get("route") or name,
        methods=methods,
        auth_level=str(trigger.get("authLevel") or "FUNCTION").upper(),
        request_param=trigger["name"],
        durable_client_param=client["name"] if client else None,
        task_hub=(client.get("taskHub") or None) if client else None,
        call=callers.http(name, bindings),
    )


def _durable_client(bindings: Sequence[Mapping[str, Any]]) -> Mapping[str, Any] | None:
    return next((b for b in bindings if b.get("type") == "durableClient"), None)


def raw_bindings(function: Any) -> list[dict[str, Any]]:
    """An SDK function's bindings as the worker reports them (``get_raw_bindings``)."""
    return [json.loads(raw) for raw in function.get_raw_bindings()]


def cookie_header(cookie: Any) -> str:
    """A Set-Cookie value from the worker's RpcHttpCookie."""
    parts = [f"{cookie.name}={cookie.value}"]
    for attr, label in (("domain", "Domain"), ("path", "Path")):
        value = getattr(cookie, attr, None)
        if value is not None and getattr(value, "value", None):
            parts.append(f"{label}={value.value}")
    max_age = getattr(cookie, "max_age", None)
    if max_age is not None and getattr(max_age, "value", None) is not None:
        parts.append(f"Max-Age={int(max_age.value)}")
    for attr, label in (("secure", "Secure"), ("http_only", "HttpOnly")):
        value = getattr(cookie, attr, None)
        if value is not None and getattr(value, "value", False):
            parts.append(label)
    same_site = {1: "Lax", 2: "Strict", 3: "None"}.get(getattr(cookie, "same_site", 0))
    if same_site:
        parts.append(f"SameSite={same_site}")
    return "; ".join(parts)
