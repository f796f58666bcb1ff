"""Every invocation through Azure's Python worker (``azure-functions-runtime``), on Python 3.13.

The worker runs as it does in its own process on Azure: one event loop (here a thread of its
own) handles every request; async functions run on it, sync ones in the worker's thread pool.
The host side sends it typed data built from :mod:`invocation` values and reads typed data
back; indexing, loading, the argument conversion and the return value conversion are all the
worker's (see :mod:`python_worker`).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import threading
from collections.abc import Coroutine, Mapping, Sequence
from pathlib import Path
from typing import Any, TypeVar

from local_runtime import rpc_messages as rpc
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
    cookie_header,
)
from local_runtime.load_checks import refused_by_worker
from local_runtime.python_worker import (
    FunctionLoadFailure,
    InvocationFailure,
    PythonWorker,
    http_data,
    json_data,
    string_data,
)

T = TypeVar("T")


class WorkerInvoker(Callers):
    """Starts the worker on its own loop thread, indexes the app with it, and calls through it."""

    def __init__(self, app_dir: str | Path, *, script_file: str = "function_app.py") -> None:
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(
            target=self._loop.run_forever, name="python-worker", daemon=True
        )
        self._thread.start()
        self.worker = PythonWorker(app_dir, script_file=script_file)
        try:
            functions = self._run(self.worker.start())
        except FunctionLoadFailure as exc:
            self.close()
            raise refused_by_worker(exc.message) from exc
        self.index: AppIndex = build_index(((f.name, f.bindings) for f in functions), self)

    def _run(self, coro: Coroutine[Any, Any, T]) -> T:
        """Run on the worker's loop and wait (from any thread but the worker's)."""
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result()

    async def invoke(
        self, name: str, inputs: Mapping[str, rpc.TypedData], invocation_id: str | None = None
    ) -> rpc.InvocationResponse:
        """One invocation on the worker's loop, awaited from any loop (raises InvocationFailure)."""
        future = asyncio.run_coroutine_threadsafe(
            self.worker.invoke(name, inputs, invocation_id=invocation_id), self._loop
        )
        return await asyncio.wrap_future(future)

    async def _call(
        self, name: str, inputs: Mapping[str, rpc.TypedData], invocation_id: str | None = None
    ) -> rpc.TypedData | None:
        try:
            response = await self.invoke(name, inputs, invocation_id)
        except InvocationFailure as exc:
            raise InvocationError(exc.message, exc.stack_trace) from None
        return response.return_value

    def http(self, name: str, bindings: Sequence[Mapping[str, Any]]) -> HttpCaller:
        trigger = next(b["name"] for b in bindings if b.get("type") == "httpTrigger")

        async def call(
            request: HttpRequestData, values: Mapping[str, str], invocation_id: str
        ) -> HttpResponseData:
            inputs = {
                trigger: http_data(
                    method=request.method,
                    url=request.url,
                    headers=request.headers,
                    query=request.query,
                    params=request.params,
                    body=request.body,
                ),
                **{param: string_data(value) for param, value in values.items()},
            }
            return _http_response(await self._call(name, inputs, invocation_id))

        return call

    def orchestration(self, name: str, param: str) -> OrchestrationCaller:
        def handle(context_json: str) -> str:
            future = asyncio.run_coroutine_threadsafe(
                self.worker.invoke(name, {param: string_data(context_json)}), self._loop
            )
            try:
                response = future.result()
            except InvocationFailure as exc:
                raise InvocationError(exc.message, exc.stack_trace) from None
            returned = response.return_value
            if returned is None or returned.WhichOneof("data") != "json":
                raise InvocationError(f"TypeError: orchestrator {name} returned {returned!r}")
            return returned.json

        return handle

    def activity(
        self, name: str, param: str, bindings: Sequence[Mapping[str, Any]] = ()
    ) -> ActivityCaller:
        async def call(input_json: str | None, values: Mapping[str, str] | None = None) -> str:
            inputs = {
                param: json_data(input_json if input_json is not None else "null"),
                **{name_: string_data(value) for name_, value in (values or {}).items()},
            }
            returned = await self._call(name, inputs)
            if returned is None or returned.WhichOneof("data") is None:
                return "null"
            kind = returned.WhichOneof("data")
            return returned.json if kind == "json" else json.dumps(getattr(returned, kind))

        return call

    def close(self) -> None:
        """Stop the worker's thread pool and its loop (closing the durable client's session)."""
        if self._loop.is_closed():
            return
        with contextlib.suppress(Exception):
            self._run(_close_durable_http_session())
        self.worker.stop()
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=5)
        self._loop.close()


def _http_response(returned: rpc.TypedData | None) -> HttpResponseData:
    kind = returned.WhichOneof("data") if returned is not None else None
    if kind == "string":
        return HttpResponseData.text(returned.string)
    if kind != "http":
        raise InvocationError(f"TypeError: the HTTP function returned {kind or 'nothing'}")
    http = returned.http
    headers = list(http.headers.items()) + [("set-cookie", cookie_header(c)) for c in http.cookies]
    body_kind = http.body.WhichOneof("data")
    body = getattr(http.body, body_kind) if body_kind else b""
    return HttpResponseData(
        int(http.status_code or 200), headers, body.encode() if isinstance(body, str) else body
    )


async def _close_durable_http_session() -> None:
    """The durable client keeps one aiohttp session per process: here, on the worker's loop."""
    from azure.durable_functions.models.utils import http_utils

    session = http_utils._client_session
    if session is not None and getattr(session, "_loop", None) is asyncio.get_running_loop():
        http_utils._client_session = None
        await session.close()
