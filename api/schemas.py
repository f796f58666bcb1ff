"""Pydantic models of the JSON answers, for the OpenAPI document.

The handlers build their answers as plain dicts (``api.status`` and friends); these
models describe them, and tests validate real answers against them (extra fields
forbidden), so the published document cannot drift from what the API sends.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field


class _Answer(BaseModel):
    """A camelCase answer document; unknown fields are a bug in the schema."""

    model_config = ConfigDict(extra="forbid")


class ProblemError(_Answer):
    """One bad field: its path (``workflowCode``, ``environmentVariables.PATH``, ``top``)."""

    path: str
    message: str


class Problem(_Answer):
    """RFC 9457 problem details (``application/problem+json``), the only error shape."""

    model_config = ConfigDict(extra="allow")

    type: str = Field(description="A stable URN such as urn:aro:problem:invalid-request.")
    title: str
    status: int
    detail: str
    errors: list[ProblemError] | None = None
    runtimeStatus: str | None = Field(None, description="409 on cancel: the current status.")
    instanceId: str | None = None


class Accepted(_Answer):
    """202 of ``POST /api/workflows``: Durable's management URLs plus ``statusUri``."""

    model_config = ConfigDict(extra="allow")

    id: str
    statusUri: str
    statusQueryGetUri: str | None = None
    sendEventPostUri: str | None = None
    terminatePostUri: str | None = None
    purgeHistoryDeleteUri: str | None = None


class Limit(_Answer):
    """The limit that ended a run."""

    name: str = Field(
        description="timeoutSeconds, AzureSession__MaxExecutionSeconds or sessionExecutionTimeout."
    )
    seconds: float


class RunError(_Answer):
    """Why a run failed (or ``Canceled``)."""

    model_config = ConfigDict(extra="allow")

    type: str
    message: str
    stage: str | None = None
    traceback: str | None = None
    hint: str | None = None
    executionId: str | None = None
    limit: Limit | None = None
    details: Any = None


class Logs(_Answer):
    """Bounded tails of the command's output (secrets shown as ``***``)."""

    stdoutTail: str = ""
    stderrTail: str = ""


class StatusTimings(_Answer):
    """Milliseconds per stage; stages not reached are absent."""

    queuedMs: int | None = Field(None, description="createdTime to the orchestrator's start.")
    uploadMs: int | None = None
    runMs: int | None = None
    collectMs: int | None = None
    totalMs: int | None = None
    activities: int | None = Field(None, description="Durable activity calls the run made.")
    timers: int | None = Field(None, description="Durable timers the run waited on.")


class Cancellation(_Answer):
    """Who canceled a run and why (``canceledBy`` null when terminated elsewhere)."""

    canceledBy: str | None = None
    reason: str | None = None


class ProgressEvent(_Answer):
    """The latest finished span or progress event of a running workflow."""

    type: str | None = None
    name: str | None = None
    at: str | None = None


class Progress(_Answer):
    """A running workflow's own account of itself (from its trace), refreshed while it runs."""

    steps: int = Field(description="Spans and progress events finished so far.")
    agent: str | None = Field(None, description="The agent running now, if any.")
    last: ProgressEvent | None = None
    tokens: dict[str, int] = Field(default_factory=dict, description="input / output so far.")
    elapsedMs: int | None = None
    truncated: bool = False


class TraceSummary(_Answer):
    """How big a finished run's trace is (the spans: ``GET /api/workflows/{id}/trace``)."""

    spans: int
    truncated: bool = False


class TraceSpan(_Answer):
    """One span: agent, response (model, token usage), function (tool), guardrail, handoff,
    custom, progress (``aro_progress``) or trace."""

    model_config = ConfigDict(extra="allow")

    type: str
    name: str | None = None
    id: str | None = None
    parentId: str | None = None
    traceId: str | None = None
    startedAt: str | None = None
    endedAt: str | None = None
    error: str | None = None
    data: dict[str, Any] = Field(default_factory=dict)


class TracePage(_Answer):
    """``GET /api/workflows/{instanceId}/trace``: a page of the run's spans, in end order."""

    instanceId: str
    runtimeStatus: str | None
    complete: bool = Field(description="The run has ended (a running run has no trace yet).")
    total: int
    truncated: bool = Field(description="The run wrote more than MaxTraceBytes of spans.")
    spans: list[TraceSpan]
    nextSkip: int | None = Field(None, description="skip= of the next page, if any.")


class CallbackState(_Answer):
    """The webhook delivery of a run that gave ``callbackUrl``."""

    state: Literal["pending", "retrying", "delivered", "failed", "unknown"]
    attempts: int = Field(0, description="POSTs made so far.")
    lastStatus: int | None = Field(None, description="The receiver's last HTTP status.")
    lastError: str | None = None


class RequestSummary(_Answer):
    """What the run was asked to do: names only, never values (for viewers)."""

    sessionStrategy: str | None = None
    timeoutSeconds: int | None = None
    environmentVariables: list[str] = Field(default_factory=list, description="Names only.")
    secretEnvironmentVariables: list[str] = Field(default_factory=list, description="Names.")
    command: str | None = None
    callback: bool = False


class WorkflowStatus(_Answer):
    """``GET /api/workflowStatus/{instanceId}``."""

    instanceId: str
    runtimeStatus: str | None
    phase: str
    createdTime: str | None
    lastUpdatedTime: str | None
    output: Any = None
    error: RunError | None = None
    executionId: str | None = None
    logs: Logs | None = None
    timings: StatusTimings | None = None
    cancellation: Cancellation | None = None
    attempts: list[dict[str, Any]] | None = Field(
        None, description="Executions lost with their session before the last one."
    )
    progress: Progress | None = Field(None, description="While Running, if the run reports it.")
    trace: TraceSummary | None = None
    callback: CallbackState | None = None
    request: RequestSummary | None = None


class ErrorType(_Answer):
    """Only the error's type, in listings."""

    type: str | None


class WorkflowListItem(_Answer):
    """One run in ``GET /api/workflows`` (no output, logs or messages)."""

    instanceId: str
    runtimeStatus: str | None
    phase: str
    createdTime: str | None
    lastUpdatedTime: str | None
    error: ErrorType | None = None
    executionId: str | None = None
    cancellation: Cancellation | None = None
    statusUri: str


class WorkflowList(_Answer):
    """A page of recent runs, newest first."""

    items: list[WorkflowListItem]
    count: int
    continuationToken: str | None = Field(
        None, description="Pass as continuationToken for the next page; null on the last."
    )


class CancelAccepted(_Answer):
    """202 of ``POST /api/workflows/{instanceId}/cancel``."""

    instanceId: str
    runtimeStatus: str = Field(description="The status when the cancel was accepted.")
    phase: Literal["canceling"]
    cancellation: Cancellation
    sessionDeletion: Literal["deleted", "notFound", "failed", "unknown"]
    statusUri: str


class Health(_Answer):
    """``GET /api/health``."""

    status: Literal["ok", "degraded"]
    version: str
    settings: str = Field(description='"ok" or the error naming the bad setting.')
    pool: Literal["ok", "unreachable", "unknown"]
    poolDetail: str | None = None
