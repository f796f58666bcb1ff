"""Azure's Python worker (``azure-functions-runtime``), driven the way the Functions host drives it.

For Python 3.13+ apps the worker is this library: the host starts it, and over gRPC sends
``WorkerInitRequest`` (the worker imports ``function_app.py`` and indexes every function,
checking its bindings against its Python signature), ``FunctionsMetadataRequest`` (the
indexed functions, with the raw bindings the host routes by), ``FunctionLoadRequest`` per
function, and one ``InvocationRequest`` per call (the worker turns the host's typed data into
the function's arguments with the SDK's binding converters, calls it, and turns the return
value back). Here the same request handlers of the library are called in-process with the
message stand-ins of :mod:`local_runtime.rpc_messages` instead of gRPC; everything after the
transport is the worker's own code.

It needs Python 3.13 with ``azure-functions-runtime`` installed (``make worker-venv``);
importing this module does not. ``python -m local_runtime.python_worker index APP_DIR``
prints the worker's verdict on an app as JSON (used by the local host started on another
Python, see :mod:`local_runtime.load_checks`).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from local_runtime import rpc_messages as rpc

#: What the Functions host announces to the worker in WorkerInitRequest (capabilities it
#: honours; the worker answers with its own).
HOST_CAPABILITIES = {"FunctionDataCache": "false"}
SCRIPT_FILE = "function_app.py"


class WorkerUnavailable(RuntimeError):
    """This interpreter cannot run the worker (not 3.13+, or the package is missing)."""


class FunctionLoadFailure(RuntimeError):
    """The worker refused the app: the host would start with no functions."""

    def __init__(self, message: str, stack_trace: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.stack_trace = stack_trace


class InvocationFailure(RuntimeError):
    """The invocation failed in the worker (user exception or binding conversion)."""

    def __init__(self, message: str, stack_trace: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.stack_trace = stack_trace


@dataclass(frozen=True)
class IndexedFunction:
    """One function as the worker reported it to the host."""

    name: str
    function_id: str
    #: the raw bindings (function.json entries) the host builds triggers and routes from
    bindings: tuple[dict[str, Any], ...]
    #: binding name -> (type, direction number, data type number), the typed BindingInfo
    binding_info: Mapping[str, tuple[str, int, int]] = field(default_factory=dict)

    @property
    def trigger(self) -> dict[str, Any]:
        """The trigger binding (the one whose type ends in ``Trigger``)."""
        return next(b for b in self.bindings if str(b.get("type", "")).endswith("Trigger"))


@dataclass
class _Envelope:
    """What the worker's handlers receive: the message and the host's properties."""

    request: rpc.StreamingMessage
    properties: dict[str, Any]


def can_run_here() -> bool:
    """Whether this interpreter can run the worker (3.13+ with the package installed)."""
    import importlib.util

    return (
        sys.version_info >= (3, 13)
        and importlib.util.find_spec("azure_functions_runtime") is not None
    )


def _library() -> Any:
    if sys.version_info < (3, 13):
        raise WorkerUnavailable(
            f"Azure's Python worker library runs on Python 3.13+, this is {sys.version.split()[0]}"
        )
    try:
        import azure_functions_runtime
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise WorkerUnavailable(f"azure-functions-runtime is not installed: {exc}") from exc
    return azure_functions_runtime


def worker_version() -> str:
    """The installed worker library's version."""
    from importlib.metadata import version

    return version("azure-functions-runtime")


class PythonWorker:
    """One worker for one app, in this process (the library keeps its state in globals)."""

    def __init__(
        self, app_dir: str | Path, *, script_file: str = SCRIPT_FILE, host: str = "127.0.0.1"
    ) -> None:
        self.app_dir = str(Path(app_dir).resolve())
        self.script_file = script_file
        self.host = host
        self._lib = _library()
        self.functions: dict[str, IndexedFunction] = {}

    def _envelope(self, **content: Any) -> _Envelope:
        message = rpc.StreamingMessage(request_id=uuid.uuid4().hex, **content)
        return _Envelope(request=message, properties={"host": self.host, "protos": rpc})

    async def start(self) -> list[IndexedFunction]:
        """Init (imports and indexes the app), metadata, then load every function.

        Raises :class:`FunctionLoadFailure` with the worker's message when it refuses the app.
        """
        if self.app_dir not in sys.path:
            sys.path.insert(0, self.app_dir)  # the worker imports function_app by module name
        if self.script_file != SCRIPT_FILE:  # the worker's own app setting for another name
            os.environ["PYTHON_SCRIPT_FILE_NAME"] = self.script_file
        self._lib.start_threadpool_executor()
        init = await self._lib.worker_init_request(
            self._envelope(
                worker_init_request=rpc.WorkerInitRequest(
                    host_version="4.local",
                    capabilities=dict(HOST_CAPABILITIES),
                    function_app_directory=self.app_dir,
                )
            )
        )
        _raise_on_failure(init.result, FunctionLoadFailure)
        metadata = await self._lib.functions_metadata_request(
            self._envelope(
                functions_metadata_request=rpc.FunctionsMetadataRequest(
                    function_app_directory=self.app_dir
                )
            )
        )
        _raise_on_failure(metadata.result, FunctionLoadFailure)
        if metadata.function_metadata_results is None:
            raise FunctionLoadFailure(f"the worker found no {SCRIPT_FILE} in {self.app_dir}")
        for meta in metadata.function_metadata_results:
            loaded = await self._lib.function_load_request(
                self._envelope(
                    function_load_request=rpc.FunctionLoadRequest(
                        function_id=meta.function_id, metadata=meta
                    )
                )
            )
            _raise_on_failure(loaded.result, FunctionLoadFailure)
            self.functions[meta.name] = IndexedFunction(
                name=meta.name,
                function_id=meta.function_id,
                bindings=tuple(json.loads(raw) for raw in meta.raw_bindings),
                binding_info={
                    name: (info.type, info.direction, info.data_type)
                    for name, info in meta.bindings.items()
                },
            )
        return list(self.functions.values())

    async def invoke(
        self,
        name: str,
        inputs: Mapping[str, rpc.TypedData],
        *,
        invocation_id: str | None = None,
        trace_parent: str = "",
    ) -> rpc.InvocationResponse:
        """One InvocationRequest; raises :class:`InvocationFailure` when the worker reports one."""
        function = self.functions[name]
        request = rpc.InvocationRequest(
            invocation_id=invocation_id or str(uuid.uuid4()),
            function_id=function.function_id,
            input_data=[rpc.ParameterBinding(name=k, data=v) for k, v in inputs.items()],
            trigger_metadata={},
            trace_context=rpc.RpcTraceContext(trace_parent=trace_parent),
            retry_context=rpc.RetryContext(),
        )
        response = await self._lib.invocation_request(self._envelope(invocation_request=request))
        _raise_on_failure(response.result, InvocationFailure)
        return response

    def stop(self) -> None:
        """Stop the worker's thread pool (sync functions run there)."""
        self._lib.stop_threadpool_executor()


def _raise_on_failure(result: rpc.StatusResult, error: type[RuntimeError]) -> None:
    if result.status == rpc.StatusResult.Success:
        return
    exc = result.exception or rpc.RpcException(message="the worker reported a failure")
    raise error(exc.message, exc.stack_trace)


# --- typed data as the host sends and receives it -------------------------------------------


def http_data(
    *,
    method: str,
    url: str,
    headers: Mapping[str, str],
    query: Mapping[str, str],
    params: Mapping[str, str],
    body: bytes,
) -> rpc.TypedData:
    """An HTTP request as the host sends it to a worker that asked for raw body bytes."""
    return rpc.TypedData(
        http=rpc.RpcHttp(
            method=method,
            url=url,
            headers=dict(headers),
            query=dict(query),
            params=dict(params),
            body=rpc.TypedData(bytes=body) if body else rpc.TypedData(),
        )
    )


def string_data(text: str) -> rpc.TypedData:
    """A string binding value (the durable client and orchestration context JSON)."""
    return rpc.TypedData(string=text)


def json_data(text: str) -> rpc.TypedData:
    """A JSON binding value (an activity's input, as JSON text)."""
    return rpc.TypedData(json=text)


def python_value(data: rpc.TypedData | None) -> Any:
    """A returned TypedData as a plain value: text, bytes, number, or a dict for HTTP."""
    if data is None:
        return None
    kind = data.WhichOneof("data")
    if kind is None:
        return None
    if kind != "http":
        return getattr(data, kind)
    http = data.http
    return {
        "status_code": http.status_code,
        "headers": dict(http.headers),
        "cookies": list(http.cookies or []),
        "body": python_value(http.body),
    }


# --- command line ---------------------------------------------------------------------------


def index_report(app_dir: str | Path, script_file: str = SCRIPT_FILE) -> dict[str, Any]:
    """The worker's verdict on an app: its functions, or the error that stops the host."""
    try:
        worker = PythonWorker(app_dir, script_file=script_file)
        functions = asyncio.run(worker.start())
    except FunctionLoadFailure as exc:
        return {"ok": False, "error": exc.message, "stackTrace": exc.stack_trace}
    return {
        "ok": True,
        "worker": f"azure-functions-runtime {worker_version()}",
        "python": sys.version.split()[0],
        "functions": [
            {"name": f.name, "functionId": f.function_id, "bindings": list(f.bindings)}
            for f in functions
        ],
    }


def main(argv: Sequence[str] | None = None) -> int:
    """``index APP_DIR``: print the report as JSON; exit 1 if the worker refuses the app."""
    parser = argparse.ArgumentParser(prog="python -m local_runtime.python_worker")
    sub = parser.add_subparsers(dest="command", required=True)
    index = sub.add_parser("index", help="index and load the app as Azure's worker does")
    index.add_argument("app_dir", type=Path)
    index.add_argument("--script-file", default=SCRIPT_FILE, help="the app's script file name")
    args = parser.parse_args(argv)
    try:
        report = index_report(args.app_dir, args.script_file)
    except WorkerUnavailable as exc:
        print(json.dumps({"ok": False, "unavailable": True, "error": str(exc)}))
        return 2
    print(json.dumps(report))
    return 0 if report["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
