# run.py: the Agent Runtime Orchestrator's in-sandbox runner (generated; do not edit).
# It loads workflow.py, calls its entrypoint with input.json and writes output.json atomically.
# Standard library only; pydantic and the Agents SDK are used only if the workflow brings them.
# ruff: noqa: E402
PREAMBLE = ""  # @aro:preamble (render_run_py puts the caller's runnerPreamble here)
CONFIG = {}  # @aro:config (render_run_py puts data_dir and the file names here)

import base64
import contextlib
import dataclasses
import datetime
import decimal
import enum
import importlib.util
import inspect
import json
import linecache
import math
import os
import sys
import time
import traceback
import types
import typing
import uuid
from collections.abc import Mapping
from pathlib import PurePath

PREAMBLE_FILENAME = "<runnerPreamble>"
#: asyncio's folder, found without importing it: a plain ``run(payload)`` never needs asyncio,
#: and importing it costs tens of milliseconds at every start.
ASYNCIO_DIR = importlib.util.find_spec("asyncio").submodule_search_locations[0] + os.sep
TRACEBACK_MAX_LINES = 50
TRACEBACK_MAX_CHARS = 8000
MESSAGE_MAX_CHARS = 4000
REPR_MAX_CHARS = 2000
MAX_DEPTH = 64
#: Where connection errors come from: httpx (and the httpx2 fork newer openai releases use).
HTTP_PACKAGES = ("httpx", "httpx2", "httpcore")
SECRET_NAME_WORDS = ("KEY", "SECRET", "TOKEN", "PASSWORD", "PASSWD", "CREDENTIAL", "CONNECTION")

#: Import name -> pip name, for the hint of a missing package.
PIP_NAMES = {
    "agents": "openai-agents",
    "guardrails": "openai-guardrails",
    "openai": "openai",
    "pydantic": "pydantic",
    "httpx": "httpx",
    "requests": "requests",
    "yaml": "PyYAML",
    "dotenv": "python-dotenv",
    "PIL": "Pillow",
    "bs4": "beautifulsoup4",
    "sklearn": "scikit-learn",
    "cv2": "opencv-python",
}


#: Imports people write from memory that live elsewhere, and where they live.
MOVED_MODULES = {
    "openai.agents": "'from agents import Agent' (the openai-agents package)",
    "openai.guardrails": "'from guardrails import ...' (the openai-guardrails package)",
}


class RunnerError(Exception):
    """A failure the runner itself detected; carries the error type the caller sees."""

    def __init__(self, type_: str, message: str, *, hint=None, details=None):
        super().__init__(message)
        self.type = type_
        self.message = message
        self.hint = hint
        self.details = details


class Terminated(BaseException):
    """Raised by the SIGTERM handler so a killed run still writes output.json."""


# --- loading ---------------------------------------------------------------------------------


def run_preamble(source: str, main_file: str) -> None:
    """Run the caller's preamble as top-level code of a fresh ``__main__`` module."""
    if not source.strip():
        return
    lines = source.splitlines(keepends=True)
    linecache.cache[PREAMBLE_FILENAME] = (len(source), None, lines, PREAMBLE_FILENAME)
    module = types.ModuleType("__main__")
    module.__file__ = main_file
    sys.modules["__main__"] = module
    exec(compile(source, PREAMBLE_FILENAME, "exec"), module.__dict__)


def module_name_for(workflow_file: str) -> str:
    """The module name the workflow is imported as: its file stem, else ``workflow``."""
    stem = os.path.splitext(os.path.basename(workflow_file))[0]
    return stem if stem.isidentifier() else "workflow"


def load_workflow(path: str) -> types.ModuleType:
    """Import the workflow file as a registered module, so dataclasses and pydantic work."""
    if not os.path.isfile(path):
        raise RunnerError("WorkflowNotFound", f"the workflow file {path} does not exist")
    directory = os.path.dirname(os.path.abspath(path))
    if not sys.path or sys.path[0] != directory:
        sys.path.insert(0, directory)
    name = module_name_for(path)
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise RunnerError("WorkflowNotFound", f"cannot load {path} as a Python module")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def read_input(path: str):
    """Read input.json: missing or blank means ``{}``; invalid JSON is a clear error."""
    try:
        with open(path, "rb") as handle:
            raw = handle.read()
    except FileNotFoundError:
        return {}
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise RunnerError(
            "InvalidInputJson", f"{os.path.basename(path)} is not UTF-8: {exc}"
        ) from None
    if not text.strip():
        return {}
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise RunnerError(
            "InvalidInputJson",
            f"{os.path.basename(path)} is not valid JSON: {exc.msg} "
            f"(line {exc.lineno}, column {exc.colno})",
        ) from None


def _defined_here(module: types.ModuleType, obj) -> bool:
    return getattr(obj, "__module__", None) == module.__name__


def pick_entrypoint(module: types.ModuleType):
    """Return ``(name, function)``: ``run`` if defined, else ``run_workflow``."""
    run = getattr(module, "run", None)
    run_workflow = getattr(module, "run_workflow", None)
    if callable(run) and (_defined_here(module, run) or not callable(run_workflow)):
        return "run", run
    if callable(run_workflow):
        return "run_workflow", run_workflow
    defined = sorted(
        name
        for name, value in vars(module).items()
        if not name.startswith("_")
        and (inspect.isfunction(value) or inspect.isclass(value))
        and _defined_here(module, value)
    )
    listing = ", ".join(defined[:20]) if defined else "no functions or classes"
    if len(defined) > 20:
        listing += f", ... ({len(defined) - 20} more)"
    raise RunnerError(
        "EntrypointNotFound",
        "the workflow defines neither run(payload) nor run_workflow(workflow_input); "
        f"it defines: {listing}",
        hint="Define `def run(payload)` (sync or async) or "
        "`async def run_workflow(workflow_input)` as Agent Builder exports it.",
        details={"defined": defined},
    )


# --- building the argument -------------------------------------------------------------------


def _first_parameter(function):
    try:
        parameters = list(inspect.signature(function).parameters.values())
    except (TypeError, ValueError):
        return None, True
    positional = [
        p
        for p in parameters
        if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD, p.VAR_POSITIONAL)
    ]
    if not positional:
        return None, False
    return positional[0], True


def _annotation(function, parameter, module):
    """The first parameter's annotation, resolved against the module; None when unknown."""
    try:
        hints = typing.get_type_hints(function, globalns=vars(module))
        if parameter.name in hints:
            return hints[parameter.name]
    except Exception:
        pass
    annotation = parameter.annotation
    if annotation is inspect.Parameter.empty:
        return None
    if isinstance(annotation, str):
        return vars(module).get(annotation.strip())
    return annotation


def is_pydantic_model(annotation) -> bool:
    """True for a pydantic v2 BaseModel subclass, detected without importing pydantic."""
    if not isinstance(annotation, type):
        return False
    return any(
        klass.__name__ == "BaseModel" and klass.__module__.startswith("pydantic")
        for klass in annotation.__mro__
    ) and callable(getattr(annotation, "model_validate", None))


def _is_validation_error(exc: BaseException) -> bool:
    return type(exc).__name__ == "ValidationError" and type(exc).__module__.startswith("pydantic")


def _validation_details(exc) -> list:
    details = []
    try:
        for item in exc.errors():
            details.append(
                {
                    "loc": [str(part) for part in item.get("loc", ())],
                    "msg": str(item.get("msg", "")),
                    "type": str(item.get("type", "")),
                }
            )
    except Exception:
        pass
    return details


def build_argument(annotation, payload):
    """Turn the JSON payload into what the entrypoint's first parameter is annotated with."""
    if annotation is None:
        return payload
    if is_pydantic_model(annotation):
        data = {"input_as_text": payload} if isinstance(payload, str) else payload
        try:
            return annotation.model_validate(data)
        except Exception as exc:
            if not _is_validation_error(exc):
                raise
            details = _validation_details(exc)
            summary = "; ".join(
                f"{'.'.join(d['loc']) or '(root)'}: {d['msg']}" for d in details
            ) or str(exc)
            raise RunnerError(
                "InputValidationError",
                f"the input does not match {annotation.__name__}: {summary}",
                hint='Agent Builder workflows take {"input_as_text": "..."} '
                "or a plain JSON string.",
                details=details,
            ) from None
    if isinstance(annotation, type) and dataclasses.is_dataclass(annotation):
        data = {"input_as_text": payload} if isinstance(payload, str) else payload
        if not isinstance(data, Mapping):
            raise RunnerError(
                "InputValidationError",
                f"the input must be a JSON object to build {annotation.__name__}, "
                f"got {type(payload).__name__}",
            )
        try:
            return annotation(**data)
        except TypeError as exc:
            raise RunnerError(
                "InputValidationError",
                f"the input does not match {annotation.__name__}: {exc}",
            ) from None
    return payload


# --- calling ---------------------------------------------------------------------------------


async def _await(awaitable):
    return await awaitable


def call_entrypoint(function, arguments: tuple):
    """Call the entrypoint; run a coroutine (or any awaitable it returns) to completion."""
    result = function(*arguments)
    if inspect.isawaitable(result):
        import asyncio  # only coroutine entrypoints pay for it

        result = asyncio.run(_await(result))
    return result


# --- serializing the result ------------------------------------------------------------------


def _type_name(obj) -> str:
    klass = type(obj)
    return f"{klass.__module__}.{klass.__qualname__}"


def _safe_repr(obj) -> str:
    try:
        text = repr(obj)
    except Exception as exc:
        text = f"<repr() failed: {type(exc).__name__}>"
    if len(text) > REPR_MAX_CHARS:
        text = text[:REPR_MAX_CHARS] + "...(truncated)"
    return text


def to_jsonable(obj, _depth: int = 0, _seen=None):
    """Convert a workflow result to JSON-compatible data; unknown objects become a repr note."""
    if _depth > MAX_DEPTH:
        raise RunnerError("ResultNotSerializable", f"the result is nested deeper than {MAX_DEPTH}")
    if isinstance(obj, enum.Enum):
        return to_jsonable(obj.value, _depth + 1, _seen)
    if obj is None or isinstance(obj, (bool, int, str)):
        if isinstance(obj, int) and not isinstance(obj, bool) and type(obj) is not int:
            return int(obj)
        if isinstance(obj, str) and type(obj) is not str:
            return str(obj)
        return obj
    if isinstance(obj, float):
        if math.isnan(obj):
            return "NaN"
        if math.isinf(obj):
            return "Infinity" if obj > 0 else "-Infinity"
        return float(obj)
    seen = set() if _seen is None else _seen
    marker = id(obj)
    if marker in seen:
        raise RunnerError(
            "ResultNotSerializable", f"the result contains a reference cycle ({_type_name(obj)})"
        )
    seen.add(marker)
    try:
        return _convert(obj, _depth + 1, seen)
    finally:
        seen.discard(marker)


def _convert(obj, depth: int, seen):
    if isinstance(obj, Mapping):
        return {_key(k): to_jsonable(v, depth, seen) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [to_jsonable(item, depth, seen) for item in obj]
    if isinstance(obj, (set, frozenset)):
        items = [to_jsonable(item, depth, seen) for item in obj]
        try:
            return sorted(items)
        except TypeError:
            return items
    if isinstance(obj, (datetime.datetime, datetime.date, datetime.time)):
        return obj.isoformat()
    if isinstance(obj, datetime.timedelta):
        return obj.total_seconds()
    if isinstance(obj, decimal.Decimal):
        return str(obj)
    if isinstance(obj, (uuid.UUID, PurePath)):
        return str(obj)
    if isinstance(obj, (bytes, bytearray, memoryview)):
        return {"__type__": "bytes", "base64": base64.b64encode(bytes(obj)).decode("ascii")}
    if isinstance(obj, type):
        return {"__type__": "type", "repr": _safe_repr(obj)}
    model_dump = getattr(obj, "model_dump", None)
    if callable(model_dump):
        return _dump_model(obj, model_dump, depth, seen)
    if hasattr(obj, "final_output") and not callable(obj.final_output):
        return to_jsonable(obj.final_output, depth, seen)
    if dataclasses.is_dataclass(obj):
        return {
            field.name: to_jsonable(getattr(obj, field.name, None), depth, seen)
            for field in dataclasses.fields(obj)
        }
    return {"__type__": _type_name(obj), "repr": _safe_repr(obj)}


def _dump_model(obj, model_dump, depth: int, seen):
    try:
        return to_jsonable(model_dump(mode="json"), depth, seen)
    except RunnerError:
        raise
    except Exception as exc:
        try:
            return to_jsonable(model_dump(), depth, seen)
        except RunnerError:
            raise
        except Exception:
            raise RunnerError(
                "ResultNotSerializable",
                f"{_type_name(obj)}.model_dump() failed: {type(exc).__name__}: {exc}",
            ) from exc


def _key(key) -> str:
    if isinstance(key, str):
        return key
    if key is None or isinstance(key, (bool, int, float)):
        return json.dumps(key)
    if isinstance(key, enum.Enum):
        return str(key.value)
    return str(key)


# --- classifying failures --------------------------------------------------------------------


def exception_chain(exc: BaseException):
    """The exception, then its causes and contexts, each once."""
    seen = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        yield exc
        exc = exc.__cause__ or exc.__context__


def _is(exc: BaseException, packages, *names: str) -> bool:
    """True if the exception's class (or a base) is one of ``names`` from ``packages``."""
    packages = (packages,) if isinstance(packages, str) else packages
    return any(
        k.__name__ in names and k.__module__.split(".")[0] in packages for k in type(exc).__mro__
    )


def _endpoint_of(exc: BaseException) -> str:
    try:
        url = exc.request.url
        host = f"{url.scheme}://{url.host}"
        return f"{host}:{url.port}" if url.port else host
    except Exception:
        return ""


def _bounded(text: str, limit: int = MESSAGE_MAX_CHARS) -> str:
    return text if len(text) <= limit else text[:limit] + "...(truncated)"


def _message_of(exc: BaseException) -> str:
    try:
        text = str(exc)
    except Exception:
        text = ""
    return _bounded(text or _safe_repr(exc))


def describe_syntax_error(exc: SyntaxError) -> tuple:
    """A message naming the file, line, column and offending line, plus machine details."""
    filename = exc.filename or "<unknown>"
    column = exc.offset or 0
    text = (exc.text or "").rstrip("\r\n")
    kind = "" if type(exc) is SyntaxError else f"{type(exc).__name__}: "
    message = f"{kind}{exc.msg} ({filename}, line {exc.lineno}, column {column})"
    if text.strip():
        stripped = text.lstrip()
        caret = " " * max(column - 1 - (len(text) - len(stripped)), 0) + "^"
        message += f"\n    {stripped}\n    {caret}"
    details = {"file": filename, "line": exc.lineno, "column": column, "text": text}
    return message, details


def classify(exc: BaseException, stage: str) -> dict:
    """Map an exception to ``{type, message, hint?, details?}`` for output.json."""
    if isinstance(exc, RunnerError):
        return _error(exc.type, exc.message, exc.hint, exc.details)
    if isinstance(exc, SyntaxError):
        message, details = describe_syntax_error(exc)
        where = "the runner preamble" if stage == "preamble" else "the workflow"
        return _error("SyntaxError", message, f"Fix the syntax of {where}.", details)
    if isinstance(exc, Terminated):
        return _error(
            "Terminated",
            "the runner was stopped by SIGTERM (the launcher's timeout or a cancellation)",
        )
    chain = list(exception_chain(exc))
    for item in chain:
        if isinstance(item, ModuleNotFoundError) and item.name:
            return _module_not_found(item.name)
    for item in chain:
        if _is(item, "openai", "OpenAIError") and not _is(item, "openai", "APIError"):
            text = str(item)
            if "api_key" in text or "OPENAI_API_KEY" in text or "Missing credentials" in text:
                return _error(
                    "MissingApiKey",
                    "the OpenAI client found no API key: OPENAI_API_KEY is not set in the session",
                    "Pass OPENAI_API_KEY through secretEnvironmentVariables.",
                )
        if _is(item, "openai", "AuthenticationError", "PermissionDeniedError"):
            return _error(
                "ModelAuthenticationError",
                f"the model endpoint rejected the credentials: {_message_of(item)}",
                "Check the OPENAI_API_KEY passed through secretEnvironmentVariables "
                "(and OPENAI_BASE_URL).",
            )
        if _is(item, "openai", "RateLimitError"):
            return _error(
                "ModelRateLimited",
                f"the model endpoint is rate limiting this key: {_message_of(item)}",
                "Retry later or raise the quota of the API key.",
            )
        if _is(item, "openai", "APIConnectionError") or _is(
            item, HTTP_PACKAGES, "ConnectError", "ConnectTimeout"
        ):
            endpoint = next(filter(None, (_endpoint_of(e) for e in chain)), "")
            where = f" ({endpoint})" if endpoint else ""
            timed_out = any(_is(e, "openai", "APITimeoutError") for e in chain)
            return _error(
                "ModelEndpointUnreachable",
                f"the model endpoint{where} is unreachable"
                f"{' (timed out)' if timed_out else ''}: {type(item).__name__}: "
                f"{_message_of(item).rstrip('.')}. Session egress may be disabled.",
                "Enable egress on the session pool, or point OPENAI_BASE_URL at an "
                "endpoint the session can reach.",
            )
    if isinstance(exc, ImportError) and exc.name:
        top = exc.name.split(".")[0]
        return _error(
            "ImportError",
            _message_of(exc),
            f"The installed '{top}' (pip name {PIP_NAMES.get(top, top)}) may be too old "
            "or too new for this workflow.",
        )
    if isinstance(exc, SystemExit):
        return _error("SystemExit", f"sys.exit({exc.code!r}) was called during stage {stage}")
    hint = None
    if stage == "import":
        hint = "workflow.py raised while its module-level code ran."
    elif stage == "preamble":
        hint = "The runner preamble raised before the workflow was loaded."
    return _error(type(exc).__name__, _message_of(exc), hint)


def _module_not_found(name: str) -> dict:
    """A missing package, or a missing module inside an installed one (a wrong import)."""
    top = name.split(".")[0]
    pip_name = PIP_NAMES.get(top, top)
    installed = _installed_parent(name)
    if installed is None:
        return _error(
            "ModuleNotFoundError",
            f"No module named '{name}'",
            f"The session image lacks the package '{top}' (pip name {pip_name}); "
            "the session image must provide it (use a session pool whose image "
            f"installs {pip_name}).",
            {"module": name, "pipName": pip_name},
        )
    hint = (
        f"The package '{top}' (pip name {pip_name}) is installed, but '{installed}' has no "
        f"module '{name[len(installed) + 1 :].split('.')[0]}': check the import."
    )
    moved = MOVED_MODULES.get(name)
    if moved:
        hint += f" Did you mean {moved}?"
    return _error(
        "ModuleNotFoundError",
        f"No module named '{name}'",
        hint,
        {"module": name, "installed": installed, "pipName": pip_name},
    )


def _installed_parent(name: str):
    """The longest importable parent package of the dotted ``name``, or None."""
    parts = name.split(".")
    found = None
    for end in range(1, len(parts)):
        try:
            if importlib.util.find_spec(".".join(parts[:end])) is None:
                break
        except (ImportError, ValueError):
            break
        found = ".".join(parts[:end])
    return found


def _error(type_: str, message: str, hint=None, details=None) -> dict:
    error = {"type": type_, "message": message}
    if hint:
        error["hint"] = hint
    if details:
        error["details"] = details
    return error


def format_traceback(exc: BaseException, runner_file: str) -> str:
    """The traceback without the runner's own frames, bounded to its last lines."""
    if isinstance(exc, RunnerError):
        return ""
    tb = exc.__traceback__
    while tb is not None and _is_runner_frame(tb.tb_frame.f_code.co_filename, runner_file):
        tb = tb.tb_next
    if tb is not None:
        exc = exc.with_traceback(tb)
    try:
        lines = "".join(traceback.format_exception(exc)).splitlines()
    except Exception:
        lines = [_safe_repr(exc)]
    omitted = max(len(lines) - TRACEBACK_MAX_LINES, 0)
    text = "\n".join(lines[omitted:])
    if len(text) > TRACEBACK_MAX_CHARS:
        text = text[-TRACEBACK_MAX_CHARS:]
        omitted += 1
    return f"...(traceback truncated)\n{text}" if omitted else text


def _is_runner_frame(filename: str, runner_file: str) -> bool:
    return (
        filename == runner_file
        or filename.startswith("<frozen importlib")
        or filename.startswith(ASYNCIO_DIR)
    )


def redact_secrets(text: str, environ: Mapping) -> str:
    """Hide values of secret-looking environment variables in error text.

    Longest first: a connection string that contains a key must be hidden whole, not
    left as ``AccountName=...;AccountKey=***``.
    """
    secrets = {
        value
        for name, value in environ.items()
        if len(value) >= 6 and any(word in name.upper() for word in SECRET_NAME_WORDS)
    }
    for value in sorted(secrets, key=len, reverse=True):
        text = text.replace(value, "***")
    return text


# --- the trace: finished spans as JSON lines, and a small progress view ----------------------

TRACE_VALUE_MAX_CHARS = 1000
TRACE_DATA_MAX_CHARS = 4000


def _clip(value, limit: int = TRACE_VALUE_MAX_CHARS):
    """A JSON-safe value no longer than ``limit`` characters once encoded."""
    value = to_jsonable(value)
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    if len(text) <= limit:
        return value
    return text[:limit] + f"... [{len(text) - limit} more characters]"


def _usage(obj) -> dict:
    """Token counts from an SDK usage object or dict (either naming), else {}."""
    if obj is None:
        return {}
    get = obj.get if isinstance(obj, dict) else lambda k, d=None: getattr(obj, k, d)
    found = {}
    for key, names in (("input", ("input_tokens", "prompt_tokens")),
                       ("output", ("output_tokens", "completion_tokens"))):  # fmt: skip
        for name in names:
            value = get(name, None)
            if isinstance(value, int):
                found[key] = value
                break
    return found


def _now() -> str:
    return datetime.datetime.now(datetime.UTC).isoformat()


class TraceWriter:
    """Appends each finished span to the trace file and keeps the progress file current.

    Written for the host, which reads progress.json while the run executes and the trace
    when it ends. The trace is capped at ``max_bytes`` (a final ``truncated`` line says so);
    both files are removed at start so a reused session never shows an older run's trace.
    """

    def __init__(self, trace_path: str, progress_path: str, max_bytes: int) -> None:
        import threading

        self.trace_path = trace_path
        self.progress_path = progress_path
        self.max_bytes = max_bytes
        self.written = 0
        self.truncated = False
        self.steps = 0
        self.agents = []  # agent spans open now, innermost last
        self.last = None
        self.tokens = {"input": 0, "output": 0}
        self.started = time.monotonic()
        self.traces = {}
        self.lock = threading.Lock()
        for path in (trace_path, progress_path):
            with contextlib.suppress(OSError):
                os.remove(path)

    # the Agents SDK's TracingProcessor callbacks -------------------------------------------

    def trace_started(self, trace) -> None:
        with self.lock:
            self.traces[getattr(trace, "trace_id", None)] = _now()

    def trace_ended(self, trace) -> None:
        trace_id = getattr(trace, "trace_id", None)
        with self.lock:
            started = self.traces.pop(trace_id, None)
        self.record(
            {
                "type": "trace",
                "name": getattr(trace, "name", None) or "trace",
                "id": trace_id,
                "parentId": None,
                "traceId": trace_id,
                "startedAt": started,
                "endedAt": _now(),
                "data": {},
            }
        )

    def span_started(self, span) -> None:
        data = getattr(span, "span_data", None)
        if getattr(data, "type", None) == "agent":
            with self.lock:
                self.agents.append((getattr(span, "span_id", None), getattr(data, "name", None)))
            self.write_progress()

    def span_ended(self, span) -> None:
        span_id = getattr(span, "span_id", None)
        with self.lock:
            self.agents = [(i, n) for i, n in self.agents if i != span_id]
        try:
            entry = self.describe(span)
        except Exception as exc:  # a span we cannot read must not break the run
            entry = {"type": "unknown", "name": type(exc).__name__, "id": span_id, "data": {}}
        self.record(entry)

    def describe(self, span) -> dict:
        """The trace line of one finished SDK span."""
        data = span.span_data
        kind = getattr(data, "type", "unknown")
        exported = data.export() or {}
        name = getattr(data, "name", None) or kind
        details = {}
        usage = {}
        if kind == "agent":
            details = {k: exported.get(k) for k in ("tools", "handoffs", "output_type")}
        elif kind == "generation":
            name = exported.get("model") or "generation"
            usage = _usage(exported.get("usage"))
            details = {"model": exported.get("model")}
        elif kind == "response":
            response = getattr(data, "response", None)
            name = getattr(response, "model", None) or "response"
            usage = _usage(exported.get("usage")) or _usage(getattr(response, "usage", None))
            details = {
                "model": getattr(response, "model", None),
                "responseId": exported.get("response_id"),
            }
        elif kind == "function":
            details = {
                "input": _clip(exported.get("input")),
                "output": _clip(exported.get("output")),
            }
        elif kind == "guardrail":
            details = {"triggered": bool(exported.get("triggered"))}
        elif kind == "handoff":
            name = f"{exported.get('from_agent')} -> {exported.get('to_agent')}"
            details = {"from": exported.get("from_agent"), "to": exported.get("to_agent")}
        else:
            details = {"data": _clip(exported, TRACE_DATA_MAX_CHARS)}
        if usage:
            details["usage"] = usage
        error = getattr(span, "error", None)
        return {
            "type": kind,
            "name": _clip(name, 200),
            "id": getattr(span, "span_id", None),
            "parentId": getattr(span, "parent_id", None),
            "traceId": getattr(span, "trace_id", None),
            "startedAt": getattr(span, "started_at", None),
            "endedAt": getattr(span, "ended_at", None),
            "error": _clip(error) if error else None,
            "data": details,
        }

    # aro_progress(...) for workflows without the Agents SDK --------------------------------

    def progress(self, step, **fields) -> None:
        """Record a progress event: ``aro_progress("fetched", rows=120)``."""
        now = _now()
        self.record(
            {
                "type": "progress",
                "name": _clip(str(step), 200),
                "id": uuid.uuid4().hex[:16],
                "parentId": None,
                "traceId": None,
                "startedAt": now,
                "endedAt": now,
                "data": {str(k): _clip(v) for k, v in fields.items()},
            }
        )

    # files ---------------------------------------------------------------------------------

    def record(self, entry: dict) -> None:
        usage = (entry.get("data") or {}).get("usage") or {}
        line = (json.dumps(entry, ensure_ascii=False, default=str) + "\n").encode(
            "utf-8", "replace"
        )
        with self.lock:
            if entry["type"] != "trace":
                self.steps += 1
                self.last = {
                    "type": entry["type"],
                    "name": entry.get("name"),
                    "at": entry.get("endedAt"),
                }
            for key in ("input", "output"):
                self.tokens[key] += usage.get(key, 0)
            if self.truncated:
                line = b""
            elif self.written + len(line) > self.max_bytes:
                self.truncated = True
                line = (
                    json.dumps({"type": "truncated", "name": f"over {self.max_bytes} bytes"}) + "\n"
                ).encode()
            if line:
                with contextlib.suppress(OSError), open(self.trace_path, "ab") as handle:
                    handle.write(line)
                self.written += len(line)
        self.write_progress()

    def write_progress(self) -> None:
        """progress.json, replaced whole (small; no fsync: it is advisory)."""
        with self.lock:
            document = {
                "steps": self.steps,
                "agent": self.agents[-1][1] if self.agents else None,
                "last": self.last,
                "tokens": dict(self.tokens),
                "elapsedMs": int((time.monotonic() - self.started) * 1000),
                "truncated": self.truncated,
            }
            temporary = f"{self.progress_path}.{os.getpid()}.tmp"
            with contextlib.suppress(OSError):
                with open(temporary, "w", encoding="utf-8") as handle:
                    json.dump(document, handle, ensure_ascii=False, default=str)
                os.replace(temporary, self.progress_path)


def install_agents_tracing(writer: TraceWriter) -> bool:
    """Send the Agents SDK's spans to ``writer`` (when the workflow imported the SDK).

    The SDK's default processor (an exporter to OpenAI's endpoint, which a sandbox cannot
    usually reach) is replaced; processors the workflow added itself are kept. Tracing is
    switched on even if the export disabled it: nothing leaves the session.
    """
    if "agents" not in sys.modules:
        return False
    try:
        from agents.tracing import TracingProcessor, get_trace_provider, set_trace_processors
        from agents.tracing import processors as sdk_processors
    except Exception:
        return False

    class FileProcessor(TracingProcessor):
        def on_trace_start(self, trace):
            writer.trace_started(trace)

        def on_trace_end(self, trace):
            writer.trace_ended(trace)

        def on_span_start(self, span):
            writer.span_started(span)

        def on_span_end(self, span):
            writer.span_ended(span)

        def shutdown(self):
            pass

        def force_flush(self):
            pass

    provider = get_trace_provider()
    kept = []
    with contextlib.suppress(Exception):
        default = sdk_processors.default_processor()
        existing = provider._multi_processor._processors
        kept = [p for p in existing if p is not default]
    set_trace_processors([*kept, FileProcessor()])
    with contextlib.suppress(Exception):
        provider.set_disabled(False)
    return True


# --- writing output.json ---------------------------------------------------------------------


def write_json_atomic(path: str, document: dict) -> None:
    """Write to a temporary file in the same directory, then ``os.replace`` it."""
    try:
        text = json.dumps(document, ensure_ascii=False, allow_nan=False)
        data = text.encode("utf-8")
    except UnicodeEncodeError:
        data = json.dumps(document, ensure_ascii=True, allow_nan=False).encode("ascii")
    temporary = f"{path}.{os.getpid()}.tmp"
    try:
        with open(temporary, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)
    finally:
        if os.path.exists(temporary):
            os.remove(temporary)


def _on_sigterm(signum, frame):
    raise Terminated()


def _install_sigterm_handler(*, ignore: bool = False) -> None:
    """Turn SIGTERM into :class:`Terminated` (or ignore it once the outcome is known)."""
    try:
        import signal

        signal.signal(signal.SIGTERM, signal.SIG_IGN if ignore else _on_sigterm)
    except (ImportError, ValueError, OSError):
        pass


def main(config: Mapping = CONFIG, preamble: str = PREAMBLE) -> int:
    """Run the workflow once and record the outcome in output.json; 0 on success."""
    started = time.monotonic()
    data_dir = config["data_dir"]
    output_path = os.path.join(data_dir, config["output_file"])
    runner_file = os.path.abspath(__file__)
    with contextlib.suppress(OSError):
        os.remove(output_path)  # a stale result must never pass for this run's
    _install_sigterm_handler()
    tracer = TraceWriter(
        os.path.join(data_dir, config.get("trace_file", "trace.jsonl")),
        os.path.join(data_dir, config.get("progress_file", "progress.json")),
        int(config.get("max_trace_bytes", 256 * 1024)),
    )
    tracing = os.environ.get("ARO_TRACE", "1").strip() != "0"  # ARO_TRACE=0: no trace
    import builtins

    # available to the workflow without an import (a no-op when tracing is off)
    builtins.aro_progress = tracer.progress if tracing else lambda step, **fields: None
    stage = "preamble"
    entrypoint = None
    try:
        run_preamble(preamble, runner_file)
        stage = "import"
        module = load_workflow(os.path.join(data_dir, config["workflow_file"]))
        if tracing:
            install_agents_tracing(tracer)
        stage = "entrypoint"
        entrypoint, function = pick_entrypoint(module)
        parameter, takes_argument = _first_parameter(function)
        stage = "input"
        payload = read_input(os.path.join(data_dir, config["input_file"]))
        arguments = ()
        if takes_argument:
            annotation = None
            if entrypoint == "run_workflow" and parameter is not None:
                annotation = _annotation(function, parameter, module)
            arguments = (build_argument(annotation, payload),)
        stage = "run"
        result = call_entrypoint(function, arguments)
        stage = "serialize"
        document = {
            "status": "succeeded",
            "result": to_jsonable(result),
            "entrypoint": entrypoint,
            "durationMs": int((time.monotonic() - started) * 1000),
        }
        json.dumps(document, allow_nan=False)
    except BaseException as exc:
        _install_sigterm_handler(ignore=True)  # a SIGTERM now must not lose this failure
        if stage == "serialize" and isinstance(exc, Exception) and not isinstance(exc, RunnerError):
            exc = RunnerError(
                "ResultNotSerializable",
                f"the result could not be serialized: {type(exc).__name__}: {_message_of(exc)}",
            )
        error = classify(exc, stage)
        error["stage"] = stage
        error["traceback"] = format_traceback(exc, runner_file)
        for key in ("message", "traceback", "hint"):
            if isinstance(error.get(key), str):
                error[key] = redact_secrets(error[key], os.environ)
        document = {
            "status": "failed",
            "error": error,
            "entrypoint": entrypoint,
            "durationMs": int((time.monotonic() - started) * 1000),
        }
        first_line = error["message"].splitlines()[0] if error["message"] else ""
        with contextlib.suppress(Exception):
            print(f"run.py: {error['type']} at stage {stage}: {first_line}", file=sys.stderr)
    _install_sigterm_handler(ignore=True)  # the outcome is known: let nothing cut the write
    try:
        write_json_atomic(output_path, document)
    except Exception as exc:
        with contextlib.suppress(Exception):
            print(
                f"run.py: cannot write {output_path}: {type(exc).__name__}: {exc}", file=sys.stderr
            )
        return 1
    return 0 if document["status"] == "succeeded" else 1


if __name__ == "__main__":
    sys.exit(main())
