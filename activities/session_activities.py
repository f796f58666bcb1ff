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

import asyncio
import contextlib
import functools
import json
import math
import re
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping
from types import ModuleType
from typing import Any, TypeVar

from activities.clients import get_client
from activities.identity import derive_identifier, identifier_key
from activities.secrets import (
    SecretResolutionError,
    redact,
    redact_json,
    resolve_secrets,
    secret_forms,
)
from activities.trace import download_progress, download_trace
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
    RunRequest,
    RunResult,
    StartRequest,
    StartResult,
    StopRequest,
    StopResult,
    UploadRequest,
    UploadResult,
    UploadSpec,
    WatchOptions,
    WatchRequest,
    WatchResult,
    exceeds_depth,
)
from session_client.errors import (
    SessionContentTooLarge,
    SessionError,
    SessionNotFound,
    is_transient,
)
from session_client.models import Execution
from settings import SessionSettings, SettingsError, get_settings
from telemetry import bind, get_logger

logger = get_logger("activities")

Result = TypeVar("Result", bound=BoundaryModel)
Request = TypeVar("Request", bound=ActivityRequest)

#: ``error.code`` of an execution its session's host interrupted (the emulator's; a session
#: that crashes on Azure ends the same way for the orchestrator).
INTERRUPTED_CODE = "ExecutionInterrupted"
#: Growth of the wait between polls inside a watching activity: gentle, so a run that ends
#: between two polls is seen soon (10, 12.5, 15.6 ... ms up to ``max_poll_seconds``).
WATCH_BACKOFF = 1.25
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
    elif isinstance(exc, InvalidRunRequest):
        error = ActivityError(type="InvalidRequest", message=message)
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


async def _upload(
    client: Any, identifier: str, spec: UploadSpec, *, stale_output: bool = True
) -> tuple[list[str], int]:
    """Render run.py, drop a stale output, upload the three files; (names, total bytes)."""
    run_py = _runner().render_run_py(
        preamble=spec.runner_preamble,
        workflow_file=spec.workflow_file_name,
        input_file=spec.input_file_name,
        output_file=spec.output_file_name,
        trace_file=spec.trace_file_name,
        progress_file=spec.progress_file_name,
        max_trace_bytes=spec.max_trace_bytes,
    )
    files = {
        spec.workflow_file_name: spec.workflow_code.encode("utf-8"),
        spec.runner_file_name: run_py.encode("utf-8"),
        spec.input_file_name: json.dumps(spec.input, ensure_ascii=False).encode("utf-8"),
    }
    if stale_output:  # a reused session may still hold the previous run's output
        with contextlib.suppress(SessionNotFound):
            await client.delete_file(identifier, spec.output_file_name)
    await client.upload_files(identifier, files)
    return list(files), sum(len(content) for content in files.values())


@activity(UploadRequest)
async def upload_workflow_files(
    request: UploadRequest, *, settings: SessionSettings | None = None
) -> str:
    """Render run.py and upload workflow.py, run.py and input.json; drop a stale output."""
    try:
        settings = _settings(settings)
        names, total = await _upload(get_client(settings), _identifier(request, settings), request)
    except Exception as exc:
        return _failure(exc, UploadResult, activity="UploadWorkflowFiles", request=request)
    logger.info("UploadWorkflowFiles: %d files, %d bytes", len(names), total)
    return UploadResult(files=names, total_bytes=total).to_wire()


def _launcher_code(request: StartRequest, secret_values: Mapping[str, str]) -> str:
    """The launcher that runs the command with the environment and resolved secrets."""
    return _runner().build_launcher_code(
        command=request.command,
        environment={**request.environment_variables, **secret_values},
        timeout_seconds=request.timeout_seconds,
        tail_chars=request.tail_chars,
        redact=set().union(*(secret_forms(v) for v in secret_values.values() if v)),
    )


async def _start(
    client: Any, identifier: str, request: StartRequest, secret_values: Mapping[str, str]
) -> Execution:
    return await client.start_execution(
        identifier,
        _launcher_code(request, secret_values),
        timeout_seconds=math.ceil(request.execution_timeout_seconds),
        execution_id=request.execution_id,
    )


@activity(StartRequest)
async def start_execution(request: StartRequest, *, settings: SessionSettings | None = None) -> str:
    """Start the launcher asynchronously with the environment and resolved secrets."""
    secret_values: dict[str, str] = {}
    try:
        settings = _settings(settings)
        secret_values = resolve_secrets(
            request.secret_environment_variables, allowed=settings.secret_settings
        )
        execution = await _start(
            get_client(settings), _identifier(request, settings), request, secret_values
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
    _log_start("StartExecution", execution, request, secret_values)
    return StartResult(execution_id=execution.id, status=str(execution.status)).to_wire()


def _log_start(
    name: str, execution: Execution, request: StartRequest, secret_values: Mapping[str, str]
) -> None:
    logger.info(
        "%s: status %s, %d variables (%d secret)",
        name,
        execution.status,
        len(request.environment_variables) + len(secret_values),
        len(secret_values),
    )


def _secret_values(request: RedactingRequest, settings: SessionSettings) -> list[str]:
    """Secret values to redact from returned output: each one that still resolves."""
    values: list[str] = []
    for variable, setting in request.secret_environment_variables.items():
        with contextlib.suppress(SecretResolutionError):
            resolved = resolve_secrets({variable: setting}, allowed=settings.secret_settings)
            values.extend(resolved.values())
    return values


def _poll_result(execution: Execution, tail_chars: int, secrets: list[str]) -> PollResult:
    """The execution's status, the launcher summary and bounded tails, secrets blanked out."""
    stdout = execution.result.stdout if execution.result else ""
    stderr = execution.result.stderr if execution.result else ""
    summary = _runner().parse_launcher_summary(stdout) if stdout else None
    summary_doc = None
    if summary is not None:
        summary_doc = LauncherSummaryDoc(
            exit_code=summary.exit_code,
            timed_out=summary.timed_out,
            duration_ms=summary.duration_ms,
            stdout_tail=redact(_tail(summary.stdout_tail, tail_chars), secrets),
            stderr_tail=redact(_tail(summary.stderr_tail, tail_chars), secrets),
            error=redact(summary.error, secrets) if summary.error else None,
        )
    execution_error = None
    if execution.error is not None:
        execution_error = redact(
            " ".join(filter(None, (execution.error.code, execution.error.message))), secrets
        )
    lost = None
    if execution.error is not None and execution.error.code == INTERRUPTED_CODE:
        lost = execution_error or "the execution was interrupted by its session's host"
    return PollResult(
        status=str(execution.status),
        terminal=bool(execution.is_terminal),
        lost=lost,
        summary=summary_doc,
        stdout_tail=redact(_tail(stdout, tail_chars), secrets),
        stderr_tail=redact(_tail(stderr, tail_chars), secrets),
        execution_error=execution_error or None,
    )


def _lost(exc: SessionNotFound, execution_id: str) -> PollResult:
    """A 404 for a known execution: the session lost it (expired, deleted, host restarted)."""
    reason = (
        f"the pool no longer knows execution {execution_id}: its session expired, was "
        f"deleted or lost its state ({getattr(exc, 'code', None) or 'NotFound'})"
    )
    logger.warning("%s", reason)
    return PollResult(status="Lost", terminal=False, lost=reason)


@activity(PollRequest)
async def get_execution(request: PollRequest, *, settings: SessionSettings | None = None) -> str:
    """Read the execution's status, the launcher summary and bounded output tails."""
    secrets: list[str] = []
    try:
        settings = _settings(settings)
        secrets = _secret_values(request, settings)
        identifier = _identifier(request, settings)
        execution = await get_client(settings).get_execution(identifier, request.execution_id)
    except SessionNotFound as exc:
        if is_pool_exhausted(exc):
            return _failure(exc, PollResult, activity="GetExecution", request=request)
        return _lost(exc, request.execution_id).to_wire()
    except Exception as exc:
        return _failure(
            exc,
            PollResult,
            activity="GetExecution",
            request=request,
            execution_id=request.execution_id,
            secrets=secrets,
        )
    poll = _poll_result(execution, request.tail_chars, secrets)
    logger.info("GetExecution: %s", poll.status)
    return poll.to_wire()


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


async def _download(
    client: Any, identifier: str, name: str, max_bytes: int, secrets: list[str]
) -> DownloadResult:
    """output.json, read as hostile input: streamed under ``max_bytes`` and never read whole.

    Absent → ``found=False``; bigger than the cap, not a regular file (a directory, FIFO,
    symlink or device the pool will not serve) or not JSON → ``problem``; secrets redacted.
    """
    try:
        content = await client.download_file(identifier, name, max_bytes=max_bytes)
    except SessionContentTooLarge as exc:
        size = f"{exc.size} bytes" if exc.size is not None else f"more than {max_bytes} bytes"
        problem = (
            f"output.json is {size}, over the {max_bytes}-byte limit (AzureSession__MaxOutputBytes)"
        )
        return DownloadResult(found=True, problem=problem)
    except SessionNotFound:
        return await _not_downloadable(client, identifier, name)
    document, problem = _parse_output(content)
    if problem is not None:
        return DownloadResult(found=True, problem=problem)
    logger.info("DownloadOutput: %d bytes", len(content))
    return DownloadResult(found=True, document=redact_json(document, secrets))


async def _not_downloadable(client: Any, identifier: str, name: str) -> DownloadResult:
    """Absent, or there but not a regular file (its content is refused, its entry listed)."""
    try:
        entry = await client.get_file(identifier, name)
    except SessionNotFound:
        logger.info("DownloadOutput: no output")
        return DownloadResult(found=False)
    kind = "a directory" if entry.type.lower() == "directory" else "not a regular file"
    return DownloadResult(
        found=True,
        problem=f"output.json is {kind} (a symlink, FIFO or device is not read)",
    )


@activity(DownloadRequest)
async def download_output(
    request: DownloadRequest, *, settings: SessionSettings | None = None
) -> str:
    """Download and parse output.json; absent → ``found=False``, not JSON → ``problem``.

    The document goes into the durable history, so it is bounded and every secret
    value still resolvable is blanked out of its strings (results and error texts).
    """
    try:
        settings = _settings(settings)
        secrets = _secret_values(request, settings)
        client, identifier = get_client(settings), _identifier(request, settings)
        result = await _download(
            client, identifier, request.output_file_name, request.max_output_bytes, secrets
        )
        trace = await download_trace(
            client, identifier, request.trace_file_name, request.max_trace_bytes, secrets
        )
        if trace is not None:
            result = result.model_copy(update={"trace": trace})
    except Exception as exc:
        return _failure(
            exc,
            DownloadResult,
            activity="DownloadOutput",
            request=request,
            execution_id=request.execution_id,
        )
    return result.to_wire()


async def _delete_files(client: Any, identifier: str, names: Iterable[str]) -> list[str]:
    """Delete files (an absent file counts as deleted)."""
    deleted = []
    for name in names:
        with contextlib.suppress(SessionNotFound):
            await client.delete_file(identifier, name)
        deleted.append(name)
    return deleted


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
        deleted = await _delete_files(client, identifier, request.file_names)
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


# --- watching: few durable hops ---------------------------------------------------


def _ms_since(start: float) -> int:
    return max(0, int((time.monotonic() - start) * 1000))


async def _watch(
    client: Any,
    identifier: str,
    execution: Execution,
    execution_id: str,
    options: WatchOptions,
    secrets: list[str],
) -> tuple[Execution, dict[str, Any] | None]:
    """Poll until the execution is terminal or ``options.seconds`` have passed.

    Waits grow from ``first_poll_seconds`` by half each time up to ``max_poll_seconds``, so
    a short run is seen within tens of milliseconds and a long one at most that cap late;
    the last poll happens at the end of the window. Every ``progress_seconds`` the run's
    progress.json is read: a change ends the window early, with the new progress, so the
    orchestration can show it while the run goes on.
    """
    deadline = time.monotonic() + options.seconds
    delay = options.first_poll_seconds
    next_progress = (
        time.monotonic() + options.progress_seconds if options.progress_seconds > 0 else None
    )
    while not execution.is_terminal:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            break
        await asyncio.sleep(min(delay, remaining))
        execution = await client.get_execution(identifier, execution_id)
        delay = min(delay * WATCH_BACKOFF, options.max_poll_seconds)
        due = next_progress is not None and time.monotonic() >= next_progress
        if due and not execution.is_terminal:
            next_progress = time.monotonic() + options.progress_seconds
            progress = await download_progress(
                client, identifier, options.progress_file_name, secrets
            )
            if progress is not None and progress["steps"] != options.known_steps:
                return execution, progress
    return execution, None


async def _finish(
    client: Any, identifier: str, poll: PollResult, options: WatchOptions, secrets: list[str]
) -> tuple[DownloadResult | None, dict[str, Any] | None, bool]:
    """For a terminal execution: its output (if it succeeded), its trace, and the cleanup.

    Cleanup never fails the activity: a refusal leaves ``cleaned`` False and the
    orchestrator runs ``CleanupSession`` (retried) before it completes.
    """
    download = None
    if poll.status == "Succeeded":
        download = await _download(
            client, identifier, options.output_file_name, options.max_output_bytes, secrets
        )
    trace = await download_trace(
        client, identifier, options.trace_file_name, options.max_trace_bytes, secrets
    )
    cleaned = True
    try:
        # deleting the session deletes its files; they go one by one only if it stays
        released = options.release_session and await _release_session(client, identifier)
        if not released:
            await _delete_files(client, identifier, options.cleanup_files)
    except Exception as exc:
        logger.warning("cleanup after the run deferred: %s", type(exc).__name__)
        cleaned = False
    return download, trace, cleaned


async def _watch_and_finish(
    client: Any,
    identifier: str,
    execution: Execution,
    request: RunRequest | WatchRequest,
    secrets: list[str],
) -> dict[str, Any]:
    started = time.monotonic()
    try:
        execution, progress = await _watch(
            client, identifier, execution, request.execution_id, request.watch, secrets
        )
    except SessionNotFound as exc:
        if is_pool_exhausted(exc):
            raise
        return {"poll": _lost(exc, request.execution_id), "run_ms": _ms_since(started)}
    run_ms = _ms_since(started)
    poll = _poll_result(execution, request.tail_chars, secrets)
    report: dict[str, Any] = {"poll": poll, "run_ms": run_ms, "progress": progress}
    if poll.terminal and poll.lost is None:
        collecting = time.monotonic()
        report["download"], report["trace"], report["cleaned"] = await _finish(
            client, identifier, poll, request.watch, secrets
        )
        report["collect_ms"] = _ms_since(collecting)
    return report


async def _existing_execution(client: Any, identifier: str, execution_id: str) -> Execution | None:
    """The execution if this activity started it before (a retry or a re-run), else None."""
    try:
        return await client.get_execution(identifier, execution_id)
    except SessionNotFound as exc:
        if is_pool_exhausted(exc):
            raise
        return None


class InvalidRunRequest(ValueError):
    """What reached the activity breaks the submission rules (it did not come through them)."""


def _recheck(request: RunRequest, settings: SessionSettings) -> None:
    """The API's checks again, with this host's settings (limits, allow-list, timeout)."""
    from api.problems import ApiProblem
    from api.validation import recheck

    raw: dict[str, Any] = {
        "workflowCode": request.workflow_code,
        "input": request.input,
        "environmentVariables": request.environment_variables,
        "secretEnvironmentVariables": request.secret_environment_variables,
        "runnerPreamble": request.runner_preamble,
        "timeoutSeconds": request.run_timeout_seconds,
    }
    if request.command != settings.python_command:
        raw["commandOverride"] = request.command
    if request.session.strategy == "reuse":
        raw |= {"sessionStrategy": "reuse", "sessionId": request.session.name}
    try:
        recheck({k: v for k, v in raw.items() if v is not None}, settings=settings)
    except ApiProblem as problem:
        raise InvalidRunRequest(problem.detail) from None


@activity(RunRequest)
async def run_execution(request: RunRequest, *, settings: SessionSettings | None = None) -> str:
    """Upload, start, watch for ``watch.seconds``; a run that ends in time is collected too.

    Idempotent: it first asks for the execution by id, so a retried or re-run activity
    watches the execution it started instead of starting the workflow a second time.
    """
    secret_values: dict[str, str] = {}
    try:
        settings = _settings(settings)
        _recheck(request, settings)
        secret_values = resolve_secrets(
            request.secret_environment_variables, allowed=settings.secret_settings
        )
        identifier = _identifier(request, settings)
        client = get_client(settings)
        began = time.monotonic()
        execution = await _existing_execution(client, identifier, request.execution_id)
        resumed = execution is not None
        upload_ms = None
        if execution is None:
            # a new ephemeral session holds no earlier output to drop
            stale = request.session.strategy != "ephemeral"
            await _upload(client, identifier, request, stale_output=stale)
            upload_ms = _ms_since(began)
            execution = await _start(client, identifier, request, secret_values)
            _log_start("RunExecution", execution, request, secret_values)
        report = await _watch_and_finish(
            client, identifier, execution, request, list(secret_values.values())
        )
    except Exception as exc:
        return _failure(
            exc,
            RunResult,
            activity="RunExecution",
            request=request,
            execution_id=request.execution_id,
            secrets=secret_values.values(),
        )
    logger.info("RunExecution: %s%s", report["poll"].status, " (resumed)" if resumed else "")
    return RunResult(
        execution_id=execution.id, upload_ms=upload_ms, resumed=resumed, **report
    ).to_wire()


@activity(WatchRequest)
async def watch_execution(request: WatchRequest, *, settings: SessionSettings | None = None) -> str:
    """Look at the execution, then poll for up to ``watch.seconds``; collect it if it ended."""
    secrets: list[str] = []
    try:
        settings = _settings(settings)
        secrets = _secret_values(request, settings)
        identifier = _identifier(request, settings)
        client = get_client(settings)
        try:
            execution = await client.get_execution(identifier, request.execution_id)
        except SessionNotFound as exc:
            if is_pool_exhausted(exc):
                raise
            return WatchResult(poll=_lost(exc, request.execution_id)).to_wire()
        report = await _watch_and_finish(client, identifier, execution, request, secrets)
    except Exception as exc:
        return _failure(
            exc,
            WatchResult,
            activity="WatchExecution",
            request=request,
            execution_id=request.execution_id,
            secrets=secrets,
        )
    logger.info("WatchExecution: %s", report["poll"].status)
    return WatchResult(**report).to_wire()
