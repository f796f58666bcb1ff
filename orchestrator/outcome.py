"""Turn a finished execution and its output.json into a result or an error document.

Pure functions: the orchestrator calls them with activity results, tests call them
directly.
"""

from __future__ import annotations

from typing import Any, NoReturn

from orchestrator.errors import (
    DEADLINE_EXCEEDED,
    EXECUTION_TIMEOUT,
    HINTS,
    LIMIT_RUN_DEADLINE,
    LIMIT_SESSION_EXECUTION,
    WorkflowRunError,
)
from orchestrator.models import (
    ActivityError,
    DownloadResult,
    ErrorDoc,
    LimitDoc,
    Logs,
    PollResult,
)

#: Longest message or traceback copied into an error document.
MAX_MESSAGE_CHARS = 4000
MAX_TRACEBACK_CHARS = 8000


def clip(text: str, limit: int = MAX_MESSAGE_CHARS, *, keep_end: bool = False) -> str:
    """``text`` bounded to ``limit`` characters (a traceback keeps its end)."""
    if len(text) <= limit:
        return text
    if keep_end:
        return "..." + text[-limit:]
    return text[:limit] + f"... [{len(text)} chars]"


def logs_of(poll: PollResult | None) -> Logs:
    """stdout/stderr tails: the launcher's summary when it printed one, else the raw tails."""
    if poll is None:
        return Logs()
    if poll.summary is not None:
        return Logs(stdout_tail=poll.summary.stdout_tail, stderr_tail=poll.summary.stderr_tail)
    return Logs(stdout_tail=poll.stdout_tail, stderr_tail=poll.stderr_tail)


def activity_failure(
    error: ActivityError, *, stage: str, logs: Logs | None = None, execution_id: str | None = None
) -> WorkflowRunError:
    """A non-transient session error an activity returned, as a run failure."""
    return WorkflowRunError(
        ErrorDoc(
            type=error.type,
            message=clip(error.message),
            stage=stage,
            hint=HINTS.get(error.type),
            logs=logs or Logs(),
            execution_id=execution_id,
        )
    )


def is_session_timeout(poll: PollResult) -> bool:
    """True when the session ended the execution at its own timeout (code ``Timeout``)."""
    text = (poll.execution_error or "").lower()
    return poll.status == "Failed" and (text.startswith("timeout") or "timed out" in text)


def execution_failure(
    poll: PollResult, *, execution_id: str, execution_limit: float | None = None
) -> WorkflowRunError | None:
    """``ExecutionFailed`` when the session itself reports the execution Failed/Canceled.

    ``ExecutionTimeout`` instead when the session's execution timeout ended it before the
    launcher could report (``execution_limit`` is that timeout in seconds).
    """
    if poll.status not in ("Failed", "Canceled"):
        return None
    logs = logs_of(poll)
    if is_session_timeout(poll) and execution_limit is not None:
        return WorkflowRunError(
            ErrorDoc(
                type=EXECUTION_TIMEOUT,
                message=(
                    f"The session ended the execution at its timeout of {execution_limit:g} s: "
                    f"{clip(poll.execution_error or '', 500)}"
                ),
                stage="running",
                hint=HINTS.get(EXECUTION_TIMEOUT),
                logs=logs,
                execution_id=execution_id,
                limit=LimitDoc(name=LIMIT_SESSION_EXECUTION, seconds=execution_limit),
            )
        )
    message = f"The session execution ended with status {poll.status}"
    if poll.execution_error:
        message += f": {clip(poll.execution_error)}"
    if logs.stderr_tail:
        message += f". stderr tail: {clip(logs.stderr_tail, 500, keep_end=True)}"
    return WorkflowRunError(
        ErrorDoc(
            type="ExecutionFailed",
            message=message,
            stage="running",
            logs=logs,
            execution_id=execution_id,
        )
    )


def workflow_result(
    poll: PollResult,
    download: DownloadResult,
    *,
    execution_id: str,
    limit_description: str,
    limit: LimitDoc | None = None,
) -> Any:
    """The workflow's ``result`` from output.json, or raise the matching ``WorkflowRunError``.

    ``limit`` is the launcher's timeout: ``DeadlineExceeded`` when it was the run's
    ``timeoutSeconds``, ``ExecutionTimeout`` when it was the per-execution cap.
    """
    logs = logs_of(poll)

    def fail(
        type_: str,
        message: str,
        *,
        stage: str = "collecting",
        hint: str | None = None,
        **extra: Any,
    ) -> NoReturn:
        raise WorkflowRunError(
            ErrorDoc(
                type=type_,
                message=message,
                stage=stage,
                hint=hint or HINTS.get(type_),
                logs=logs,
                execution_id=execution_id,
                **extra,
            )
        )

    if download.error is not None:
        raise activity_failure(
            download.error, stage="collecting", logs=logs, execution_id=execution_id
        )
    summary = poll.summary
    if not download.found:
        if summary is not None and summary.timed_out:
            deadline = limit is None or limit.name == LIMIT_RUN_DEADLINE
            fail(
                DEADLINE_EXCEEDED if deadline else EXECUTION_TIMEOUT,
                f"The command did not finish within {limit_description} and was killed.",
                stage="running",
                limit=limit,
            )
        if summary is not None and (summary.exit_code not in (0, None) or summary.error):
            reason = f"exited with code {summary.exit_code}"
            if summary.error:
                reason = f"failed ({clip(summary.error, 500)})"
            fail(
                "RunnerExited",
                f"The command {reason} without writing output.json. "
                f"stderr tail: {clip(logs.stderr_tail, 500, keep_end=True)}",
                stage="running",
            )
        fail("OutputMissing", "The command finished but output.json was not written.")
    if download.problem is not None:
        fail("OutputInvalid", f"output.json was refused: {clip(download.problem, 500)}")

    document = download.document
    if not isinstance(document, dict):
        fail("OutputInvalid", "output.json must hold a JSON object with a 'status' field.")
    status = document.get("status")
    if status == "succeeded" and "result" in document:
        return document["result"]
    if status == "failed" and isinstance(document.get("error"), dict):
        error = document["error"]
        traceback = error.get("traceback")
        fail(
            str(error.get("type") or "WorkflowError"),
            clip(str(error.get("message") or "The workflow failed without a message.")),
            stage="running",
            hint=clip(str(error["hint"])) if error.get("hint") else None,
            traceback=clip(str(traceback), MAX_TRACEBACK_CHARS, keep_end=True)
            if traceback
            else None,
        )
    fail(
        "OutputInvalid",
        "output.json must be {'status': 'succeeded', 'result': ...} or "
        "{'status': 'failed', 'error': {...}}.",
    )
