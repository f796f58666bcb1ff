"""The Starlette app: the pool's routes, one error handler, a lifespan owning the sandbox."""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import hmac
import logging
import os
import platform
import re
import shlex
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from . import files, legacy
from .cgroups import detect as detect_cgroups
from .cgroups import session_cgroup_limits
from .config import (
    ACCEPTED_202_API_VERSIONS,
    DEFAULT_OUTPUT_STREAMS_MAX_LENGTH,
    LEGACY_API_VERSIONS,
    SHELL_API_VERSIONS,
    SUPPORTED_API_VERSIONS,
    EmulatorConfig,
)
from .errors import BadRequest, EmulatorError, NotFound, PayloadTooLarge, Unauthorized
from .executions import TERMINAL, Execution, ExecutionStatus, Runner
from .sandbox import InterpreterInfo, Isolation, select_isolation
from .sessions import Session, SessionLimitReached, SessionRegistry, rfc3339

log = logging.getLogger("session_emulator")

#: The docs' identifier rule (plus ``_``, which the 2024-10-02 spec allows): 4-128 characters.
IDENTIFIER_RE = re.compile(r"^[A-Za-z0-9|\-&^%$#(){}\[\];<>_]{4,128}$")
OPERATION_ID_RE = re.compile(r"^[A-Za-z0-9\-_.]{1,128}$")
SESSION_API_VERSIONS = frozenset(SUPPORTED_API_VERSIONS) - {"2024-10-02-preview"}
#: The file routes answer both dialects (the shape follows the api-version).
FILE_API_VERSIONS = (*LEGACY_API_VERSIONS, *SUPPORTED_API_VERSIONS)
EXECUTION_TYPES = {"synchronous": "Synchronous", "asynchronous": "Asynchronous"}
CODE_INPUT_TYPES = {"inline", "inlinebase64", "inlinetext"}
#: Upper bound on ``outputStreamsMaxLength`` so one execution keeps at most ~16 MB.
MAX_OUTPUT_STREAMS_LENGTH = 4 * 1024 * 1024


@dataclass
class State:
    """What the lifespan builds and the routes share."""

    config: EmulatorConfig
    registry: SessionRegistry
    runner: Runner


def _state(request: Request) -> State:
    return request.app.state.emulator


# --- request checks --------------------------------------------------------------------------


def _check_auth(request: Request, config: EmulatorConfig) -> None:
    """With a token configured, every request needs ``Authorization: Bearer <token>``."""
    if config.token is None:
        return
    header = request.headers.get("authorization", "")
    scheme, _, given = header.partition(" ")
    expected = config.token.get_secret_value().encode()
    if scheme.lower() != "bearer" or not hmac.compare_digest(given.strip().encode(), expected):
        raise Unauthorized("Missing or invalid bearer token.", code="InvalidAuthenticationToken")


def _api_version(request: Request, *, allowed: frozenset[str] | tuple[str, ...]) -> str:
    version = request.query_params.get("api-version")
    if not version:
        raise BadRequest(
            "The api-version query parameter is required.", code="MissingApiVersionParameter"
        )
    if version not in allowed:
        raise BadRequest(
            f"The api-version '{version}' is not supported here; use one of "
            f"{', '.join(sorted(allowed))}.",
            code="InvalidApiVersionParameter",
        )
    return version


def _identifier(request: Request) -> str:
    identifier = request.query_params.get("identifier")
    if not identifier:
        raise BadRequest("The identifier query parameter is required.", code="MissingIdentifier")
    if not IDENTIFIER_RE.match(identifier):
        raise BadRequest(
            "The identifier must be 4-128 characters: letters, digits and - _ | & ^ % $ # "
            "( ) { } [ ] ; < >.",
            code="InvalidIdentifier",
        )
    return identifier


def _begin(
    request: Request, *, versions: frozenset[str] | tuple[str, ...] = SUPPORTED_API_VERSIONS
) -> tuple[State, str]:
    state = _state(request)
    _check_auth(request, state.config)
    return state, _api_version(request, allowed=versions)


def _session(request: Request, state: State) -> Session:
    """The identifier's session, allocated on first use (404 when the pool is full)."""
    identifier = _identifier(request)
    try:
        return state.registry.get_or_create(identifier)
    except SessionLimitReached as exc:
        raise NotFound(
            f"The session pool has reached its maximum of {state.config.max_sessions} "
            "concurrent sessions.",
            code="SessionPoolCapacityExceeded",
        ) from exc


def _json(body: Any, status_code: int = 200, headers: dict[str, str] | None = None) -> Response:
    return JSONResponse(body, status_code=status_code, headers=headers)


# --- executions ------------------------------------------------------------------------------


def _int_field(body: dict[str, Any], name: str, default: int) -> int:
    value = body.get(name, default)
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, int | float) or value < 1:
        raise BadRequest(f"'{name}' must be a positive integer.", code="InvalidRequestBody")
    return int(value)


@dataclass(frozen=True)
class ExecutionRequest:
    """What a ``POST /executions`` (or legacy ``/code/execute``) body asks for."""

    code: str
    kind: str
    execution_type: str
    timeout: int
    max_length: int
    jupyter_format: bool = False


def _shell_command(body: dict[str, Any], version: str) -> str | None:
    """A Shell pool's command line (``shellCommand`` or ``execCommandAndArgs``), if any."""
    command = body.get("shellCommand")
    argv = body.get("execCommandAndArgs")
    if command is None and argv is None:
        return None
    if version not in SHELL_API_VERSIONS:
        raise BadRequest(
            f"shellCommand needs api-version {' or '.join(sorted(SHELL_API_VERSIONS))}.",
            code="InvalidRequestBody",
        )
    if (command is not None and argv is not None) or body.get("code"):
        raise BadRequest(
            "Give one of code, shellCommand and execCommandAndArgs.", code="InvalidRequestBody"
        )
    if argv is not None:
        if not isinstance(argv, list) or not argv or not all(isinstance(a, str) for a in argv):
            raise BadRequest(
                "execCommandAndArgs must be a non-empty list of strings.",
                code="InvalidRequestBody",
            )
        return shlex.join(argv)
    if not isinstance(command, str) or not command.strip():
        raise BadRequest("shellCommand must be a non-empty string.", code="InvalidRequestBody")
    return command


def _parse_execution(body: Any, config: EmulatorConfig, version: str) -> ExecutionRequest:
    """The request of a flat ``POST /executions`` body (or a legacy body's ``properties``)."""
    if not isinstance(body, dict):
        raise BadRequest("The request body must be a JSON object.", code="InvalidRequestBody")
    command = _shell_command(body, version)
    code = body.get("code") if command is None else command
    if not isinstance(code, str) or not code:
        raise BadRequest("`Code` field is required in the request.", code="InvalidRequestBody")
    input_type = str(body.get("codeInputType") or "Inline").lower()
    if input_type not in CODE_INPUT_TYPES:
        raise BadRequest(
            f"Unknown codeInputType {body['codeInputType']!r}.", code="InvalidRequestBody"
        )
    if input_type == "inlinebase64" and command is None:
        try:
            code = base64.b64decode(code, validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError) as exc:
            raise BadRequest("code is not valid base64 UTF-8.", code="InvalidRequestBody") from exc
    raw_type = str(body.get("executionType") or "Synchronous")
    execution_type = EXECUTION_TYPES.get(raw_type.lower())
    if execution_type is None:
        raise BadRequest(f"Unknown executionType {raw_type!r}.", code="InvalidRequestBody")
    timeout = min(
        _int_field(body, "timeoutInSeconds", config.default_timeout_seconds),
        config.max_execution_seconds,
    )
    max_len = min(
        _int_field(body, "outputStreamsMaxLength", DEFAULT_OUTPUT_STREAMS_MAX_LENGTH),
        MAX_OUTPUT_STREAMS_LENGTH,
    )
    jupyter = body.get("returnJupyterFormatExecutionResult", body.get("returnJupyterFormat"))
    if jupyter is not None and not isinstance(jupyter, bool):
        raise BadRequest(
            "returnJupyterFormatExecutionResult must be a boolean.", code="InvalidRequestBody"
        )
    return ExecutionRequest(
        code=code,
        kind="python" if command is None else "shell",
        execution_type=execution_type,
        timeout=timeout,
        max_length=max_len,
        jupyter_format=bool(jupyter),
    )


def _execution_headers(request: Request, version: str, execution: Execution) -> dict[str, str]:
    prefix = _state(request).config.pool_prefix
    query = urlencode({"api-version": version, "identifier": execution.identifier})
    base = str(request.base_url).rstrip("/")
    return {
        "Operation-Location": f"{base}{prefix}/executions/{execution.id}?{query}",
        "operation-id": execution.id,
    }


async def _run(state: State, session: Session, execution: Execution, code: str) -> None:
    try:
        await state.runner.run(
            execution, code=code, session_dir=session.data_dir, uid=session.uid, slot=session.slot
        )
    except Exception as exc:  # never leave an execution Running forever
        log.exception("execution %s crashed", execution.id)
        execution.status = ExecutionStatus.FAILED
        execution.error = {"code": "InternalServerError", "message": str(exc)}
    finally:
        with contextlib.suppress(OSError):
            state.registry.save_execution(session, execution)
        execution.done.set()


async def _json_body(request: Request) -> Any:
    try:
        return await request.json()
    except ValueError as exc:
        raise BadRequest("The request body is not valid JSON.", code="InvalidRequestBody") from exc


def _operation_id(request: Request) -> str | None:
    requested_id = request.headers.get("operation-id")
    if requested_id is not None and not OPERATION_ID_RE.match(requested_id):
        raise BadRequest("Invalid operation-id header.", code="InvalidOperationId")
    return requested_id


async def _start(
    state: State, session: Session, wanted: ExecutionRequest, requested_id: str | None
) -> Execution:
    """Start an execution (or return the one this operation-id already started); a
    synchronous one is awaited."""
    existing = session.executions.get(requested_id) if requested_id else None
    if existing is not None:
        execution = existing
    else:
        execution = Execution(
            id=requested_id or Execution.new_id(),
            identifier=session.identifier,
            execution_type=wanted.execution_type,
            timeout_seconds=wanted.timeout,
            output_max_length=wanted.max_length,
            kind=wanted.kind,
            jupyter_format=wanted.jupyter_format,
        )
        if wanted.execution_type == "Asynchronous":
            execution.status = ExecutionStatus.RUNNING  # what the pool front end answers
        state.registry.remember(session, execution)
        execution.task = asyncio.create_task(_run(state, session, execution, wanted.code))
    if execution.execution_type == "Synchronous":
        await asyncio.shield(execution.done.wait())
    return execution


async def create_execution(request: Request) -> Response:
    """POST /executions: run code (or a Shell pool's command) synchronously or in the background."""
    state, version = _begin(request)
    session = _session(request, state)
    wanted = _parse_execution(await _json_body(request), state.config, version)
    status_code = 202 if version in ACCEPTED_202_API_VERSIONS else 200
    execution = await _start(state, session, wanted, _operation_id(request))
    headers = _execution_headers(request, version, execution)
    if execution.status in TERMINAL:
        headers["X-Ms-Overall-Execution-Time"] = f"{execution.execution_time_ms:.6f}"
    return _json(execution.to_json(), status_code, headers)


async def get_execution(request: Request) -> Response:
    """GET /executions/{id}: the execution's current state (404 if unknown)."""
    state, _ = _begin(request)
    session = _session(request, state)
    execution = session.executions.get(request.path_params["execution_id"])
    if execution is None:
        raise NotFound(
            f"No execution available for operation Id: {request.path_params['execution_id']}",
            code="ExecutionNotFound",
        )
    return _json(execution.to_json())


async def execute_code_legacy(request: Request) -> Response:
    """POST /code/execute (2024-02-02-preview, 2024-08-02-preview): a synchronous cell."""
    state, _ = _begin(request, versions=LEGACY_API_VERSIONS)
    session = _session(request, state)
    body = legacy.request_properties(await _json_body(request))
    wanted = _parse_execution(body, state.config, LEGACY_API_VERSIONS[0])
    if wanted.execution_type != "Synchronous":
        raise BadRequest(
            "This api-version runs code synchronously only; use /executions with "
            "api-version 2024-10-02-preview or later for asynchronous executions.",
            code="InvalidRequestBody",
        )
    execution = await _start(state, session, wanted, _operation_id(request))
    headers = {
        "operation-id": execution.id,
        "X-Ms-Overall-Execution-Time": f"{execution.execution_time_ms:.6f}",
    }
    return _json(legacy.execution_body(execution), 202, headers)


# --- files -----------------------------------------------------------------------------------


async def upload_file(request: Request) -> Response:
    """POST /files (legacy: /files/upload): multipart field ``file`` into /mnt/data.

    The part's filename may carry the /mnt/data/ prefix; 413 over the cap.
    """
    state, version = _begin(request, versions=FILE_API_VERSIONS)
    session = _session(request, state)
    cap = state.config.max_upload_bytes
    with files.open_folder(session, request.query_params.get("path")) as folder:
        declared = request.headers.get("content-length")
        if declared and declared.isdigit() and int(declared) > cap + files.MULTIPART_OVERHEAD:
            raise PayloadTooLarge(f"The upload exceeds the {cap}-byte limit.")
        name, staged = await files.receive_upload(
            content_type_header=request.headers.get("content-type", ""),
            stream=request.stream(),
            staging=session.staging_dir,
            max_bytes=cap,
        )
        try:
            await _check_quota(state, session, staged)
            files.store(folder, name, staged, uid=session.uid)
        finally:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(staged)
        if version in LEGACY_API_VERSIONS:
            return _json(legacy.file_list([(name, files.existing(folder, name))]))
        return _json(files.describe(folder, name))


async def _check_quota(state: State, session: Session, staged: str | os.PathLike[str]) -> None:
    """Refuse an upload that would take the session's /mnt/data over its budget."""
    budget = state.runner.budget
    usage = await asyncio.to_thread(budget.measure, session.data_dir)
    size = os.stat(staged).st_size
    if usage.bytes + size > budget.max_bytes or usage.entries + 1 > budget.max_entries:
        raise PayloadTooLarge(budget.message())


async def list_files(request: Request) -> Response:
    """GET /files: ``{"value": [...], "nextLink": null}`` (legacy: ``properties`` entries)."""
    state, version = _begin(request, versions=FILE_API_VERSIONS)
    session = _session(request, state)
    recursive = request.query_params.get("recursive", "false").lower() == "true"
    with files.open_folder(session, request.query_params.get("path")) as folder:
        if version in LEGACY_API_VERSIONS:
            return _json(legacy.file_list(files.scan(folder)))
        entries = files.list_folder(folder, recursive=recursive)
    return _json({"value": entries, "nextLink": None})


async def file_metadata(request: Request) -> Response:
    """GET /files/{name}: one ``SessionResourceFile`` (legacy: a one-entry list)."""
    state, version = _begin(request, versions=FILE_API_VERSIONS)
    session = _session(request, state)
    name = request.path_params["name"]
    with files.open_folder(session, request.query_params.get("path")) as folder:
        st = files.existing(folder, name)
        if version in LEGACY_API_VERSIONS:
            return _json(legacy.file_list([(name, st)]))
        return _json(files.describe(folder, name, st))


def _download(session: Session, path: str | None, name: str) -> Response:
    with files.open_folder(session, path) as folder:
        handle, size = files.open_content(folder, name)
    return StreamingResponse(
        files.iter_content(handle),
        media_type=files.content_type(name),
        headers={"Content-Length": str(size)},
    )


async def download_file(request: Request) -> Response:
    """GET /files/{name}/content: the raw bytes (a symlink is never followed: 404)."""
    state, _ = _begin(request, versions=FILE_API_VERSIONS)
    session = _session(request, state)
    return _download(session, request.query_params.get("path"), request.path_params["name"])


async def download_file_legacy(request: Request) -> Response:
    """GET /files/content/{name}: the legacy download (``name`` may start with /mnt/data/).

    The path collides with the newer ``/files/{name}/content`` for a file named
    "content": with a newer api-version it is that file.
    """
    state, version = _begin(request, versions=FILE_API_VERSIONS)
    session = _session(request, state)
    target = request.path_params["name"]
    if version not in LEGACY_API_VERSIONS:
        if target != "content":
            raise NotFound(f"File {target!r} not found.", code="FileNotFound")
        return _download(session, request.query_params.get("path"), "content")
    return _download(session, request.query_params.get("path"), files.upload_name(target))


async def delete_file(request: Request) -> Response:
    """DELETE /files/{name}: 204 (legacy: 200 with a message)."""
    state, version = _begin(request, versions=FILE_API_VERSIONS)
    session = _session(request, state)
    with files.open_folder(session, request.query_params.get("path")) as folder:
        await asyncio.to_thread(files.remove, folder, request.path_params["name"])
    if version in LEGACY_API_VERSIONS:
        return _json({"message": "file deleted successfully"})
    return Response(status_code=204)


# --- sessions and pool -----------------------------------------------------------------------


def _known_session(request: Request, state: State) -> Session:
    identifier = _identifier(request)
    session = state.registry.get(identifier)
    if session is None:
        raise NotFound(f"Session {identifier!r} not found.", code="SessionNotFound")
    return session


async def get_session(request: Request) -> Response:
    """GET /session: identifier, timestamps, expiry, etag."""
    state, _ = _begin(request, versions=SESSION_API_VERSIONS)
    session = _known_session(request, state)
    return _json(session.to_json(state.config.cooldown_seconds))


async def delete_session(request: Request) -> Response:
    """DELETE /session: kill running executions, remove files, 204."""
    state, _ = _begin(request, versions=SESSION_API_VERSIONS)
    session = _known_session(request, state)
    await state.registry.delete(session.identifier)
    return Response(status_code=204)


async def list_sessions(request: Request) -> Response:
    """GET /listSessions?skip=N."""
    state, _ = _begin(request, versions=SESSION_API_VERSIONS)
    skip_raw = request.query_params.get("skip", "0")
    if not skip_raw.isdigit():
        raise BadRequest("skip must be a non-negative integer.", code="InvalidParameter")
    sessions = state.registry.all()[int(skip_raw) :]
    cooldown = state.config.cooldown_seconds
    return _json({"sessions": [s.to_json(cooldown) for s in sessions], "nextLink": None})


async def pool_metadata(request: Request) -> Response:
    """GET /metadata: runtime, sandbox and limits."""
    state, _ = _begin(request, versions=SESSION_API_VERSIONS)
    return _json(
        {
            "runtimes": [{"name": "python", "version": platform.python_version()}],
            "preInstalledPackages": [],
            "createdAt": request.app.state.started_at,
            "lastUpdatedAt": request.app.state.started_at,
            "jupyterKernel": None,
            "emulator": {
                "isolation": state.runner.isolation.describe(),
                "sessionLimits": state.runner.describe_limits(),
                "allowNetwork": state.config.allow_network,
                "maxSessions": state.config.max_sessions,
                "activeSessions": len(state.registry),
                "cooldownPeriodInSeconds": state.config.cooldown_seconds,
                "singleSessionDir": (
                    str(state.config.single_session_dir)
                    if state.config.single_session_dir
                    else None
                ),
            },
        }
    )


# --- errors ----------------------------------------------------------------------------------


def _error(status_code: int, code: str, message: str, **extra: str) -> Response:
    return JSONResponse(
        {"error": {"code": code, "message": message}},
        status_code=status_code,
        headers={"x-ms-error-code": code, **extra},
    )


async def handle_error(request: Request, exc: Exception) -> Response:
    """Every failure leaves as ``{"error": {"code", "message"}}`` plus ``x-ms-error-code``."""
    if isinstance(exc, EmulatorError):
        extra = {"WWW-Authenticate": "Bearer"} if exc.status_code == 401 else {}
        return _error(exc.status_code, exc.code, exc.message, **extra)
    if isinstance(exc, HTTPException):
        codes = {404: "NotFound", 405: "MethodNotAllowed"}
        return _error(exc.status_code, codes.get(exc.status_code, "BadRequest"), str(exc.detail))
    log.exception("unhandled error on %s %s", request.method, request.url.path)
    return _error(500, "InternalServerError", "The emulator failed to handle the request.")


# --- wiring ----------------------------------------------------------------------------------


def _routes(prefix: str) -> list[Route]:
    return [
        Route(f"{prefix}/executions", create_execution, methods=["POST"]),
        Route(f"{prefix}/executions/{{execution_id}}", get_execution, methods=["GET"]),
        Route(f"{prefix}/code/execute", execute_code_legacy, methods=["POST"]),
        Route(f"{prefix}/files", upload_file, methods=["POST"]),
        Route(f"{prefix}/files/upload", upload_file, methods=["POST"]),
        Route(f"{prefix}/files", list_files, methods=["GET"]),
        Route(f"{prefix}/files/content/{{name:path}}", download_file_legacy, methods=["GET"]),
        Route(f"{prefix}/files/{{name}}/content", download_file, methods=["GET"]),
        Route(f"{prefix}/files/{{name}}", file_metadata, methods=["GET"]),
        Route(f"{prefix}/files/{{name}}", delete_file, methods=["DELETE"]),
        Route(f"{prefix}/session", get_session, methods=["GET"]),
        Route(f"{prefix}/session", delete_session, methods=["DELETE"]),
        Route(f"{prefix}/listSessions", list_sessions, methods=["GET"]),
        Route(f"{prefix}/metadata", pool_metadata, methods=["GET"]),
    ]


async def _reap_forever(registry: SessionRegistry, interval: float) -> None:
    while True:
        await asyncio.sleep(interval)
        try:
            await registry.reap_idle()
        except Exception:
            log.exception("reaping idle sessions failed")


def create_app(
    config: EmulatorConfig,
    *,
    isolation: tuple[Isolation, InterpreterInfo] | None = None,
) -> Starlette:
    """The ASGI app; the lifespan probes the sandbox unless ``isolation`` is given."""

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        chosen = isolation or await asyncio.to_thread(select_isolation, config)
        iso, interpreter = chosen
        log.info("isolation in force: %s", iso.describe())
        registry = SessionRegistry(config)
        await asyncio.to_thread(registry.load_storage)
        cgroups = await asyncio.to_thread(detect_cgroups, session_cgroup_limits(config))
        runner = Runner(config=config, isolation=iso, interpreter=interpreter, cgroups=cgroups)
        registry.on_release = runner.release
        log.info("session limits: %s", runner.describe_limits())
        app.state.emulator = State(config=config, registry=registry, runner=runner)
        app.state.started_at = rfc3339(datetime.now(UTC))
        interval = min(config.reap_interval_seconds, config.cooldown_seconds)
        reaper = asyncio.create_task(_reap_forever(registry, interval))
        try:
            yield
        finally:
            reaper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await reaper
            await registry.close()
            await runner.close()
            if cgroups is not None:
                await asyncio.to_thread(cgroups.close)

    return Starlette(
        routes=_routes(config.pool_prefix),
        exception_handlers={
            EmulatorError: handle_error,
            HTTPException: handle_error,
            Exception: handle_error,
        },
        lifespan=lifespan,
    )
