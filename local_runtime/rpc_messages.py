"""Stand-ins for the Functions host's gRPC message classes, as Azure's Python worker uses them.

The worker library (``azure-functions-runtime``, the Python worker itself for 3.13+ apps)
never imports protobuf code: the host passes it a module of generated message classes
(``request.properties["protos"]``), and the worker only builds messages with keyword
arguments, reads their fields, and asks a ``oneof`` which member is set. No package on the
registries ships current generated classes, so these are the smallest plain data holders that
behave that way, written from the public ``FunctionRpc.proto`` (field names and enum numbers)
and from what the worker's code sets and reads. They are not generated code and carry no
wire format: they exist so that the worker's real indexing, loading and binding conversion
can run in this repository (``local_runtime.python_worker``).

Like protobuf messages: unknown field names are refused, unset scalars read as their zero
value, unset sub-messages read as an empty message where the worker reads through them, and
``WhichOneof`` names the member that was given a value.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar


class Message:
    """A message: keyword-only construction, defaults for unset fields, ``WhichOneof``."""

    #: field name -> factory of its default (zero) value
    FIELDS: ClassVar[dict[str, Callable[[], Any]]] = {}
    #: oneof group -> its member fields, in declaration order
    ONEOFS: ClassVar[dict[str, tuple[str, ...]]] = {}

    def __init__(self, **values: Any) -> None:
        unknown = sorted(set(values) - set(self.FIELDS))
        if unknown:
            raise TypeError(f"{type(self).__name__} has no field {', '.join(unknown)}")
        for name, default in self.FIELDS.items():
            value = values.get(name)
            object.__setattr__(self, name, default() if value is None else value)
        self._given = frozenset(name for name, value in values.items() if value is not None)

    def WhichOneof(self, group: str) -> str | None:  # protobuf naming
        """The member of ``group`` that was set, or None."""
        return next((name for name in self.ONEOFS[group] if name in self._given), None)

    def HasField(self, name: str) -> bool:  # protobuf naming
        """Whether a field was given a value."""
        return name in self._given

    def __repr__(self) -> str:
        shown = ", ".join(f"{name}={getattr(self, name)!r}" for name in sorted(self._given))
        return f"{type(self).__name__}({shown})"


def _dict() -> dict[str, Any]:
    return {}


def _list() -> list[Any]:
    return []


def _none() -> None:
    return None


def _fields(**factories: Callable[[], Any]) -> dict[str, Callable[[], Any]]:
    return factories


STR, BYTES, INT, FLOAT, BOOL = str, bytes, int, float, bool


class NullableString(Message):
    FIELDS = _fields(value=_none)


class NullableBool(Message):
    FIELDS = _fields(value=_none)


class NullableDouble(Message):
    FIELDS = _fields(value=_none)


class NullableTimestamp(Message):
    FIELDS = _fields(value=_none)


class Timestamp(Message):
    FIELDS = _fields(seconds=INT, nanos=INT)


class RpcException(Message):
    FIELDS = _fields(source=STR, stack_trace=STR, message=STR, is_user_exception=BOOL, type=STR)


class RpcLog(Message):
    FIELDS = _fields(
        invocation_id=STR, category=STR, level=INT, message=STR, event_id=STR,
        exception=_none, properties=_dict, log_category=INT,
    )  # fmt: skip


class StatusResult(Message):
    Failure, Success, Cancelled = 0, 1, 2
    FIELDS = _fields(status=INT, result=STR, exception=_none, logs=_list)


class RpcHttpCookie(Message):
    class SameSite:
        Lax, Strict, ExplicitNone = 1, 2, 3

    FIELDS = _fields(
        name=STR, value=STR, domain=_none, path=_none, expires=_none, secure=_none,
        http_only=_none, same_site=INT, max_age=_none,
    )  # fmt: skip


setattr(RpcHttpCookie.SameSite, "None", 0)  # a Python keyword, read with getattr by the worker


class TypedData(Message):
    FIELDS = _fields(
        string=STR, json=STR, bytes=BYTES, stream=BYTES, http=_none, int=INT, double=FLOAT,
        collection_bytes=_none, collection_string=_none, collection_double=_none,
        collection_sint64=_none, model_binding_data=_none, collection_model_binding_data=_none,
    )  # fmt: skip
    ONEOFS: ClassVar[dict[str, tuple[str, ...]]] = {"data": tuple(FIELDS)}


class RpcHttp(Message):
    FIELDS = _fields(
        method=STR, url=STR, headers=_dict, body=TypedData, params=_dict, status_code=STR,
        query=_dict, enable_content_negotiation=BOOL, rawBody=TypedData, identities=_list,
        cookies=_list, nullable_headers=_dict, nullable_params=_dict, nullable_query=_dict,
    )  # fmt: skip


class ParameterBinding(Message):
    FIELDS = _fields(name=STR, data=TypedData, rpc_shared_memory=_none)
    ONEOFS: ClassVar[dict[str, tuple[str, ...]]] = {"rpc_data": ("data", "rpc_shared_memory")}


class BindingInfo(Message):
    # enum Direction and enum DataType of FunctionRpc.proto (`in` is a keyword, set below)
    out, inout = 1, 2
    undefined, string, binary, stream = 0, 1, 2, 3
    FIELDS = _fields(type=STR, direction=INT, data_type=INT, properties=_dict)


setattr(BindingInfo, "in", 0)


class RpcRetryOptions(Message):
    FIELDS = _fields(
        max_retry_count=INT, delay_interval=_none, minimum_interval=_none,
        maximum_interval=_none, retry_strategy=STR,
    )  # fmt: skip


class RpcFunctionMetadata(Message):
    FIELDS = _fields(
        name=STR, directory=STR, script_file=STR, entry_point=STR, bindings=_dict,
        is_proxy=BOOL, status=_none, language=STR, raw_bindings=_list, function_id=STR,
        managed_dependency_enabled=BOOL, retry_options=_none, properties=_dict,
    )  # fmt: skip


class WorkerMetadata(Message):
    FIELDS = _fields(
        runtime_name=STR, runtime_version=STR, worker_version=STR, worker_bitness=STR,
        custom_properties=_dict,
    )  # fmt: skip


class WorkerInitRequest(Message):
    FIELDS = _fields(
        host_version=STR, capabilities=_dict, log_categories=_dict, worker_directory=STR,
        function_app_directory=STR,
    )  # fmt: skip


class WorkerInitResponse(Message):
    FIELDS = _fields(
        worker_version=STR, capabilities=_dict, worker_metadata=_none, result=StatusResult
    )


class FunctionsMetadataRequest(Message):
    FIELDS = _fields(function_app_directory=STR)


class FunctionMetadataResponse(Message):
    FIELDS = _fields(
        function_metadata_results=_list, result=StatusResult, use_default_metadata_indexing=BOOL
    )


class FunctionLoadRequest(Message):
    FIELDS = _fields(function_id=STR, metadata=RpcFunctionMetadata, managed_dependency_enabled=BOOL)


class FunctionLoadResponse(Message):
    FIELDS = _fields(function_id=STR, result=StatusResult, is_dependency_downloaded=BOOL)


class RpcTraceContext(Message):
    FIELDS = _fields(trace_parent=STR, trace_state=STR, attributes=_dict)


class RetryContext(Message):
    FIELDS = _fields(retry_count=INT, max_retry_count=INT, exception=RpcException)


class InvocationRequest(Message):
    FIELDS = _fields(
        invocation_id=STR, function_id=STR, input_data=_list, trigger_metadata=_dict,
        trace_context=RpcTraceContext, retry_context=RetryContext,
    )  # fmt: skip


class InvocationResponse(Message):
    FIELDS = _fields(invocation_id=STR, output_data=_list, return_value=_none, result=StatusResult)


class FunctionEnvironmentReloadRequest(Message):
    FIELDS = _fields(environment_variables=_dict, function_app_directory=STR)


class FunctionEnvironmentReloadResponse(Message):
    FIELDS = _fields(worker_metadata=_none, capabilities=_dict, result=StatusResult)


class StreamingMessage(Message):
    """The envelope: ``request_id`` and the one request or response it carries."""

    FIELDS = _fields(
        request_id=STR, worker_init_request=_none, functions_metadata_request=_none,
        function_load_request=_none, invocation_request=_none,
        function_environment_reload_request=_none,
    )  # fmt: skip
    ONEOFS: ClassVar[dict[str, tuple[str, ...]]] = {"content": tuple(FIELDS)[1:]}
