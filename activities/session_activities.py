"""``SessionActivities``: one small async function per session operation.

Each takes an ``orchestrator.models`` request as JSON text (or a dict) and
returns the matching result as JSON text (``orchestrator.models`` says why
text). Transient session errors (429, 5xx, transport) are raised so
``call_activity_with_retry`` retries them; every other failure comes back in
the result's ``error`` field. The pool identifier is derived here and never
returned or logged; secret values are resolved here and never returned or
logged.
"""

from __future__ import annotations

import contextlib
import functools
import json
import math
import re
from collections.abc import Awaitable, Callable, Iterable, Mapping
from types import ModuleType
from typing import Any, TypeVar

from activities.clients import get_client
from activities.identity import derive_identifier, identifier_key
from activities.secrets import SecretResolutionError, redact, redact_json, resolve_secrets
from orchestrator.errors import POOL_EXHAUSTED
from orchestrator.models import (
    MAX_JSON_DEPTH,
    ActivityError,
    ActivityRequest,
    BoundaryModel,
    CleanupRequest,
    CleanupResult,
    DownloadRequest,
    DownloadResult,
    LauncherSummaryDoc,
    PollRequest,
    PollResult,
    RedactingRequest,
    StartRequest,
    StartResult,
    StopRequest,
    StopResult,
    UploadRequest,
    UploadResult,
    exceeds_depth,
)
from session_client.errors import SessionError, SessionNotFound, is_transient
from settings import SessionSettings, SettingsError, get_settings
from telemetry import bind, get_logger

logger = get_logger("activities")

Result = TypeVar("Result", bound=BoundaryModel)
Request = TypeVar("Request", bound=ActivityRequest)

#: Longest error message returned in a result.
MAX_ERROR_CHARS = 4000
#: Error codes a full pool answers with (the emulator's; Azure's body code when it has one).
POOL_EXHAUSTED_CODES = frozenset(
    {"SessionPoolCapacityExceeded", "SessionPoolFull", "MaxConcurrentSessionsReached"}
)
#: Fallback when a 404 has no such code: the message talks about the pool's session limit.
POOL_EXHAUSTED_TEXT = re.compile(
    r"(maximum|max|limit)\b.{0,60}\b(concurrent\s+)?sessions|capacity", re.IGNORECASE
)


class TransientSessionError(RuntimeError):
    """A retryable session failure, re-raised with a redacted message for the retry policy."""


def _runner() -> ModuleType:
    """The ``runner`` package (imported on use; tests may replace this function)."""
    import runner

    return runner


def _tail(text: str | None, chars: int) -> str:
    if not text or chars <= 0:
        return ""
    return text[-chars:]


def is_pool_exhausted(exc: BaseException) -> bool:
    """True for the 404 a pool answers when all of its sessions are in use."""
    if not isinstance(exc, SessionNotFound):
        return False
    code = getattr(exc, "code", None)
    if code in POOL_EXHAUSTED_CODES:
        return True
    if code not in (None, "", "NotFound"):
        return False  # FileNotFound, SessionNotFound, ExecutionNotFound, ...
    return bool(POOL_EXHAUSTED_TEXT.search(getattr(exc, "message", None) or str(exc)))


def activity(
    request_type: type[Request],
) -> Callable[[Callable[..., Awaitable[str]]], Callable[..., Awaitable[str]]]:
    """Parse the payload as ``request_type`` and bind its ids to every log line of the call."""

    def decorate(fn: Callable[..., Awaitable[str]]) -> Callable[..., Awaitable[str]]:
        @functools.wraps(fn)
        async def run(
            payload: str | Mapping[str, Any], *, settings: SessionSettings | None = None
        ) -> str:
            request = request_type.from_wire(payload)
            execution_id = getattr(request, "execution_id", None)
            with bind(instance_id=request.instance_id, execution_id=execution_id):
                return await fn(request, settings=settings)

        return run

    return decorate


def _failure(
    exc: Exception,
    result_type: type[Result],
    *,
    activity: str,
    request: ActivityRequest,
    execution_id: str | None = None,
    secrets: Iterable[str] = (),
) -> str:
    """Turn ``exc`` into ``result_type(error=...)``, or raise it if it is worth a retry."""
    secrets = list(secrets)
    message = redact(getattr(exc, "message", None) or str(exc), secrets)[:MAX_ERROR_CHARS]
    if isinstance(exc, SessionError) and is_transient(exc):
        logger.warning("%s: transient %s: %s", activity, type(exc).__name__, message)
        raise TransientSessionError(f"{type(exc).__name__}: {message}") from None
    if is_pool_exhausted(exc):
        error = ActivityError(
            type=POOL_EXHAUSTED,
            message=f"The session pool is full: {message}",
            status_code=getattr(exc, "status_code", None),
            code=getattr(exc, "code", None),
        )
    elif isinstance(exc, SessionError):
        error = ActivityError(
            type=type(exc).__name__,
            message=message,
            status_code=getattr(exc, "status_code", None),
            code=getattr(exc, "code", None),
        )
    elif isinstance(exc, SecretResolutionError):
        error = ActivityError(type=exc.type, message=message)
    elif isinstance(exc, SettingsError):
        error = ActivityError(type="SettingsError", message=message)
    elif isinstance(exc, ValueError) and type(exc).__module__.startswith("runner"):
        error = ActivityError(type=type(exc).__name__, message=message)
    else:
        if secrets:
            raise RuntimeError(f"{activity} failed: {type(exc).__name__}: {message}") from None
        raise exc
    logger.warning("%s: %s: %s", activity, error.type, message)
    return result_type(error=error).to_wire()


def _identifier(request: ActivityRequest, settings: SessionSettings) -> str:
    return derive_identifier(request.session, request.instance_id, identifier_key(settings))


def _settings(settings: SessionSettings | None) -> SessionSettings:
    return settings if settings is not None else get_settings()


@activity(UploadRequest)
async def upload_workflow_files(
    request: UploadRequest, *, settings: SessionSettings | None = None
) -> str:
    """Render run.py and upload workflow.py, run.py and input.json; drop a stale output."""
    try:
        settings = _settings(settings)
        identifier = _identifier(request, settings)
        run_py = _runner().render_run_py(
            preamble=request.runner_preamble,
            workflow_file=request.workflow_file_name,
            input_file=request.input_file_name,
            output_file=request.output_file_name,
        )
        files = {
            request.workflow_file_name: request.workflow_code.encode("utf-8"),
            request.runner_file_name: run_py.encode("utf-8"),
            request.input_file_name: json.dumps(request.input, ensure_ascii=False).encode("utf-8"),
        }
        client = get_client(settings)
        # A reused session may still hold the previous run's output.
        with contextlib.suppress(SessionNotFound):
            await client.delete_file(identifier, request.output_file_name)
        await client.upload_files(identifier, files)
    except Exception as exc:
        return _failure(exc, UploadResult, activity="UploadWorkflowFiles", request=request)
    total = sum(len(content) for content in files.values())
    logger.info("UploadWorkflowFiles: %d files, %d bytes", len(files), total)
    return UploadResult(files=list(files), total_bytes=total).to_wire()


@activity(StartRequest)
async def start_execution(request: StartRequest, *, settings: SessionSettings | None = None) -> str:
    """Start the launcher asynchronously with the environment and resolved secrets."""
    secret_values: dict[str, str] = {}
    try:
        settings = _settings(settings)
        secret_values = resolve_secrets(
            request.secret_environment_variables, allowed=settings.secret_settings
        )
        identifier = _identifier(request, settings)
        code = _runner().build_launcher_code(
            command=request.command,
            environment={**request.environment_variables, **secret_values},
            timeout_seconds=request.timeout_seconds,
            tail_chars=request.tail_chars,
            redact=list(secret_values.values()),
        )
        execution = await get_client(settings).start_execution(
            identifier,
            code,
            timeout_seconds=math.ceil(request.execution_timeout_seconds),
            execution_id=request.execution_id,
        )
    except Exception as exc:
        return _failure(
            exc,
            StartResult,
            activity="StartExecution",
            request=request,
            execution_id=request.execution_id,
            secrets=secret_values.values(),
        )
    logger.info(
        "StartExecution: status %s, %d variables (%d secret)",
        execution.status,
        len(request.environment_variables) + len(secret_values),
        len(secret_values),
    )
    return StartResult(execution_id=execution.id, status=str(execution.status)).to_wire()


def _secret_values(request: RedactingRequest, settings: SessionSettings) -> list[str]:
    """Secret values to redact from returned output: each one that still resolves."""
    values: list[str] = []
    for variable, setting in request.secret_environment_variables.items():
        with contextlib.suppress(SecretResolutionError):
            resolved = resolve_secrets({variable: setting}, allowed=settings.secret_settings)
            values.extend(resolved.values())
    return values


@activity(PollRequest)
async def get_execution(request: PollRequest, *, settings: SessionSettings | None = None) -> str:
    """Read the execution's status, the launcher summary and bounded output tails."""
    secrets: list[str] = []
    try:
        settings = _settings(settings)
        secrets = _secret_values(request, settings)
        identifier = _identifier(request, settings)
        execution = await get_client(settings).get_execution(identifier, request.execution_id)
    except Exception as exc:
        return _failure(
            exc,
            PollResult,
            activity="GetExecution",
            request=request,
            execution_id=request.execution_id,
            secrets=secrets,
        )
    stdout = execution.result.stdout if execution.result else ""
    stderr = execution.result.stderr if execution.result else ""
    summary = _runner().parse_launcher_summary(stdout) if stdout else None
    summary_doc = None
    if summary is not None:
        summary_doc = LauncherSummaryDoc(
            exit_code=summary.exit_code,
            timed_out=summary.timed_out,
            duration_ms=summary.duration_ms,
            stdout_tail=redact(_tail(summary.stdout_tail, request.tail_chars), secrets),
            stderr_tail=redact(_tail(summary.stderr_tail, request.tail_chars), secrets),
            error=redact(summary.error, secrets) if summary.error else None,
        )
    execution_error = None
    if execution.error is not None:
        execution_error = redact(
            " ".join(filter(None, (execution.error.code, execution.error.message))), secrets
        )
    status = str(execution.status)
    logger.info("GetExecution: %s", status)
    return PollResult(
        status=status,
        terminal=bool(execution.is_terminal),
        summary=summary_doc,
        stdout_tail=redact(_tail(stdout, request.tail_chars), secrets),
        stderr_tail=redact(_tail(stderr, request.tail_chars), secrets),
        execution_error=execution_error or None,
    ).to_wire()


def _parse_output(content: bytes) -> tuple[Any, str | None]:
    """output.json as JSON, or ``(None, why not)``, also when too deep to cross the boundary."""
    too_deep = f"nests objects or arrays more than {MAX_JSON_DEPTH} levels deep"
    try:
        document = json.loads(content.decode("utf-8"))
    except RecursionError:
        return None, too_deep
    except (UnicodeDecodeError, ValueError) as exc:
        return None, f"{type(exc).__name__}: {exc}"[:500]
    return (None, too_deep) if exceeds_depth(document) else (document, None)


@activity(DownloadRequest)
async def download_output(
    request: DownloadRequest, *, settings: SessionSettings | None = None
) -> str:
    """Download and parse output.json; absent → ``found=False``, not JSON → ``problem``.

    The document goes into the durable history, so it is bounded and every secret
    value still resolvable is blanked out of its strings (results and error texts).
    """
    secrets: list[str] = []
    try:
        settings = _settings(settings)
        secrets = _secret_values(request, settings)
        identifier = _identifier(request, settings)
        content = await get_client(settings).download_file(identifier, request.output_file_name)
    except SessionNotFound:
        logger.info("DownloadOutput: no output")
        return DownloadResult(found=False).to_wire()
    except Exception as exc:
        return _failure(
            exc,
            DownloadResult,
            activity="DownloadOutput",
            request=request,
            execution_id=request.execution_id,
        )
    if len(content) > request.max_output_bytes:
        problem = (
            f"output.json is {len(content)} bytes, over the {request.max_output_bytes}-byte "
            "limit (AzureSession__MaxOutputBytes)"
        )
        return DownloadResult(found=True, problem=problem).to_wire()
    document, problem = _parse_output(content)
    if problem is not None:
        return DownloadResult(found=True, problem=problem).to_wire()
    logger.info("DownloadOutput: %d bytes", len(content))
    return DownloadResult(found=True, document=redact_json(document, secrets)).to_wire()


@activity(CleanupRequest)
async def cleanup_session(
    request: CleanupRequest, *, settings: SessionSettings | None = None
) -> str:
    """Delete this run's files, and an ephemeral session itself so its pool slot is freed.

    Files go first: deleting the session needs api-version 2025-02-02-preview or
    later, which a pool may refuse; then the files are at least gone and the slot
    is freed by the pool's cooldown instead.
    """
    deleted: list[str] = []
    released = False
    try:
        settings = _settings(settings)
        identifier = _identifier(request, settings)
        client = get_client(settings)
        for name in request.file_names:
            with contextlib.suppress(SessionNotFound):
                await client.delete_file(identifier, name)
            deleted.append(name)
        if request.session.strategy == "ephemeral":
            released = await _release_session(client, identifier)
    except Exception as exc:
        return _failure(
            exc,
            CleanupResult,
            activity="CleanupSession",
            request=request,
            execution_id=request.execution_id,
        )
    logger.info("CleanupSession: %d files, session released: %s", len(deleted), released)
    return CleanupResult(deleted=deleted, session_released=released).to_wire()


async def _release_session(client: Any, identifier: str) -> bool:
    """Delete a finished ephemeral session; a refusal other than a transient one is not fatal."""
    try:
        await client.delete_session(identifier)
    except SessionNotFound:
        return True
    except SessionError as exc:
        if is_transient(exc):
            raise
        logger.warning("CleanupSession: the pool kept the session (%s)", type(exc).__name__)
        return False
    return True


@activity(StopRequest)
async def stop_session(request: StopRequest, *, settings: SessionSettings | None = None) -> str:
    """Delete the whole session so whatever runs in it stops (best effort)."""
    try:
        settings = _settings(settings)
        identifier = _identifier(request, settings)
        await get_client(settings).delete_session(identifier)
    except SessionNotFound:
        pass
    except Exception as exc:
        return _failure(
            exc,
            StopResult,
            activity="StopSession",
            request=request,
            execution_id=request.execution_id,
        )
    logger.info("StopSession: session deleted")
    return StopResult(stopped=True).to_wire()
