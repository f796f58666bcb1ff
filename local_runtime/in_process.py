"""The worker's side of an invocation, in this process: for Pythons that cannot run Azure's worker.

Azure's Python worker for 3.13+ is a package (``azure-functions-runtime``) and
:mod:`worker_invoker` runs it. On other Pythons the host calls the user functions itself,
doing what the worker does around each call with the same SDK code: the input is decoded by
the ``azure.functions`` binding converter of its binding type (``HttpRequestConverter``,
``DurableClientConverter``, ``OrchestrationTriggerConverter``, ``ActivityTriggerConverter``),
the function is awaited on the loop or run in a thread, ``context`` is passed when declared,
and the return value is encoded by the converter of its output binding (``http`` accepts an
``HttpResponse`` or a ``str``; anything else fails the invocation, as in the worker). The
worker's load rules are applied first (:func:`load_checks.check_functions`).
"""

from __future__ import annotations

import asyncio
import inspect
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from azure.functions import meta

from local_runtime.invocation import (
    ActivityCaller,
    AppIndex,
    Callers,
    HttpCaller,
    HttpRequestData,
    HttpResponseData,
    InvocationError,
    OrchestrationCaller,
    build_index,
    raw_bindings,
)
from local_runtime.load_checks import check_functions


@dataclass(frozen=True)
class InvocationContext:
    """The subset of `azure.functions.Context` a function may read."""

    invocation_id: str
    function_name: str
    function_directory: str = ""
    trace_context: Any = None
    retry_context: Any = None


def _converter(binding_type: str) -> Any:
    converter = meta.get_binding_registry().get(binding_type)
    if converter is None:
        raise InvocationError(f"TypeError: no converter for binding type {binding_type!r}")
    return converter


def _wants_context(func: Any, bound: Sequence[str]) -> bool:
    return "context" in inspect.signature(func).parameters and "context" not in bound


def http_datum(request: HttpRequestData) -> meta.Datum:
    """The request as the worker's ``Datum.from_typed_data`` makes it from the host's RpcHttp."""
    return meta.Datum(
        type="http",
        value={
            "method": meta.Datum(request.method, "string"),
            "url": meta.Datum(request.url, "string"),
            "headers": {k: meta.Datum(v, "string") for k, v in request.headers.items()},
            "body": meta.Datum(request.body, "bytes"),
            "params": {k: meta.Datum(v, "string") for k, v in request.params.items()},
            "query": {k: meta.Datum(v, "string") for k, v in request.query.items()},
        },
    )


def http_response(datum: meta.Datum) -> HttpResponseData:
    """The encoded return value of an HTTP function (type ``http`` or ``string``)."""
    if datum.type == "string":
        return HttpResponseData.text(datum.value)
    value = datum.value
    headers = [(name, item.value) for name, item in value["headers"].items()]
    for cookie in value.get("cookies") or ():
        headers += [("set-cookie", morsel.OutputString()) for morsel in cookie.values()]
    body = value["body"].value
    return HttpResponseData(
        int(value["status_code"].value), headers, body.encode() if isinstance(body, str) else body
    )


class InProcessInvoker(Callers):
    """Calls the app's functions in this process, converting values as the worker does."""

    def __init__(self, app: Any, *, load_rules: bool = True) -> None:
        functions = app.get_functions()  # may be called once per app object
        if load_rules:
            check_functions(functions)
        self._functions = {f.get_function_name(): f for f in functions}
        self.index: AppIndex = build_index(
            ((name, raw_bindings(f)) for name, f in self._functions.items()), self
        )

    def _user_function(self, name: str) -> Any:
        return self._functions[name].get_user_function()

    def http(self, name: str, bindings: Sequence[Mapping[str, Any]]) -> HttpCaller:
        func = self._user_function(name)
        inputs = {b["name"]: b["type"] for b in bindings if b.get("direction", "IN") == "IN"}
        wants_context = _wants_context(func, list(inputs))
        output = next((b["type"] for b in bindings if b["name"] == "$return"), "http")

        async def call(
            request: HttpRequestData, values: Mapping[str, str], invocation_id: str
        ) -> HttpResponseData:
            try:
                kwargs: dict[str, Any] = {}
                for param, binding_type in inputs.items():
                    datum = (
                        http_datum(request)
                        if binding_type == "httpTrigger"
                        else meta.Datum(values[param], "string")
                    )
                    kwargs[param] = _converter(binding_type).decode(datum, trigger_metadata={})
                if wants_context:
                    kwargs["context"] = InvocationContext(invocation_id, name)
                result = await _run(func, kwargs)
                return http_response(_encode(output, result))
            except InvocationError:
                raise
            except Exception as exc:
                raise InvocationError.from_exception(exc) from exc

        return call

    def orchestration(self, name: str, param: str) -> OrchestrationCaller:
        func = self._user_function(name)
        converter = _converter("orchestrationTrigger")

        def handle(context_json: str) -> str:
            try:
                context = converter.decode(meta.Datum(context_json, "string"), trigger_metadata={})
                state = func(**{param: context})
                return _encode("orchestrationTrigger", state).value
            except Exception as exc:
                raise InvocationError.from_exception(exc) from exc

        return handle

    def activity(
        self, name: str, param: str, bindings: Sequence[Mapping[str, Any]] = ()
    ) -> ActivityCaller:
        func = self._user_function(name)
        converter = _converter("activityTrigger")
        others = {
            b["name"]: b["type"]
            for b in bindings
            if b.get("direction", "IN") == "IN" and b["name"] != param
        }
        context = _wants_context(func, [param, *others])

        async def call(input_json: str | None, values: Mapping[str, str] | None = None) -> str:
            try:
                datum = meta.Datum(input_json if input_json is not None else "null", "json")
                kwargs: dict[str, Any] = {param: converter.decode(datum, trigger_metadata={})}
                for other, binding_type in others.items():
                    value = meta.Datum((values or {})[other], "string")
                    kwargs[other] = _converter(binding_type).decode(value, trigger_metadata={})
                if context:
                    kwargs["context"] = InvocationContext(uuid.uuid4().hex, name)
                return _encode("activityTrigger", await _run(func, kwargs)).value
            except Exception as exc:
                raise InvocationError.from_exception(exc) from exc

        return call


async def _run(func: Any, kwargs: dict[str, Any]) -> Any:
    """Await a coroutine function on the loop; run a sync one in a thread (as the worker)."""
    if inspect.iscoroutinefunction(func):
        return await func(**kwargs)
    result = await asyncio.to_thread(func, **kwargs)
    return await result if inspect.isawaitable(result) else result


def _encode(binding_type: str, value: Any) -> meta.Datum:
    try:
        return _converter(binding_type).encode(value, expected_type=None)
    except NotImplementedError:
        raise TypeError(
            f'unable to encode outgoing TypedData: unsupported type "{binding_type}" for '
            f'Python type "{type(value).__name__}"'
        ) from None
