"""The JSON documents the workflow API exchanges, as pydantic models (camelCase on the wire)."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator
from pydantic.alias_generators import to_camel


class _Wire(BaseModel):
    """Lenient server documents: camelCase aliases; unknown fields kept, not rejected."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="allow")


class RuntimeStatus(StrEnum):
    """The durable runtime status of an instance (the server's ``runtimeStatus``)."""

    PENDING = "Pending"
    RUNNING = "Running"
    COMPLETED = "Completed"
    FAILED = "Failed"
    TERMINATED = "Terminated"
    CANCELED = "Canceled"
    SUSPENDED = "Suspended"
    CONTINUED_AS_NEW = "ContinuedAsNew"


#: Statuses after which nothing changes any more.
TERMINAL_STATUSES = frozenset(
    {
        RuntimeStatus.COMPLETED,
        RuntimeStatus.FAILED,
        RuntimeStatus.TERMINATED,
        RuntimeStatus.CANCELED,
    }
)

SessionStrategy = Literal["ephemeral", "reuse"]


class Submission(BaseModel):
    """A workflow to run: the body of ``POST /api/workflows``; unset fields are not sent."""

    model_config = ConfigDict(
        alias_generator=to_camel, populate_by_name=True, extra="forbid", frozen=True
    )

    workflow_code: str
    input: dict[str, Any] | None = None
    session_id: str | None = None
    environment_variables: dict[str, str] | None = None
    #: Variable name -> app-setting NAME; the server resolves the value, it never travels here.
    secret_environment_variables: dict[str, str] | None = None
    runner_preamble: str | None = None
    command_override: str | None = None
    timeout_seconds: int | None = Field(None, gt=0)
    session_strategy: SessionStrategy | None = None
    #: Where the server POSTs the final status (signed; see docs/api.md, *Webhooks*).
    callback_url: str | None = None

    @classmethod
    def from_file(cls, path: str | Path, **fields: Any) -> Submission:
        """A submission whose code is read from ``path`` (UTF-8)."""
        return cls(workflow_code=Path(path).read_text(encoding="utf-8"), **fields)

    def to_body(self) -> dict[str, Any]:
        """The JSON request body: camelCase, only the fields that were set."""
        return self.model_dump(mode="json", by_alias=True, exclude_none=True)


class Accepted(_Wire):
    """The ``202 Accepted`` answer to a submission."""

    id: str
    status_uri: str | None = None
    status_query_get_uri: str | None = None
    terminate_post_uri: str | None = None
    #: From the ``Location`` header.
    location: str | None = None
    #: From the ``Retry-After`` header, in seconds.
    retry_after: float | None = None


class WorkflowError(_Wire):
    """Why a workflow failed: the runner's or the service's structured error."""

    type: str = "Error"
    message: str = ""
    traceback: str | None = None
    stage: str | None = None
    hint: str | None = None


class Logs(_Wire):
    """Bounded tails of the workflow process's stdout and stderr."""

    stdout_tail: str | None = None
    stderr_tail: str | None = None


class Timings(_Wire):
    """Where the time went, in milliseconds."""

    queued_ms: int | None = None
    upload_ms: int | None = None
    run_ms: int | None = None
    collect_ms: int | None = None
    total_ms: int | None = None


class ProgressEvent(_Wire):
    """The latest finished step of a running workflow (an agent span or ``aro_progress``)."""

    type: str | None = None
    name: str | None = None
    at: str | None = None


class Progress(_Wire):
    """A running workflow's own account of itself (``progress`` while Running)."""

    steps: int = 0
    agent: str | None = None
    last: ProgressEvent | None = None
    tokens: dict[str, int] = Field(default_factory=dict)
    elapsed_ms: int | None = None

    def describe(self) -> str:
        """``Classifier → tool get_weather  (5 steps, 179+118 tokens)``."""
        parts = [self.agent or "-"]
        if self.last is not None and self.last.type:
            kind = "tool" if self.last.type == "function" else self.last.type
            parts.append(f"→ {kind} {self.last.name or ''}".rstrip())
        tokens = ""
        if any(self.tokens.values()):
            tokens = f", {self.tokens.get('input', 0)}+{self.tokens.get('output', 0)} tokens"
        return f"{' '.join(parts)}  ({self.steps} steps{tokens})"


class WorkflowStatus(_Wire):
    """``GET /api/workflowStatus/{id}``: where an instance is and, when done, what it produced."""

    instance_id: str
    runtime_status: str
    phase: str | None = None
    created_time: datetime | None = None
    last_updated_time: datetime | None = None
    output: Any = None
    error: WorkflowError | None = None
    logs: Logs | None = None
    timings: Timings | None = None
    progress: Progress | None = None

    @model_validator(mode="before")
    @classmethod
    def _tolerate_older_shapes(cls, data: Any) -> Any:
        """Accept a bare error string and a phase carried only in ``customStatus``."""
        if not isinstance(data, dict):
            return data
        data = dict(data)
        if isinstance(data.get("error"), str):
            data["error"] = {"type": "Error", "message": data["error"]}
        if data.get("phase") is None:
            custom = data.get("customStatus")
            if isinstance(custom, str):
                data["phase"] = custom
            elif isinstance(custom, dict) and isinstance(custom.get("phase"), str):
                data["phase"] = custom["phase"]
        return data

    @property
    def is_terminal(self) -> bool:
        """True once the instance can no longer change."""
        return self.runtime_status in TERMINAL_STATUSES

    @property
    def succeeded(self) -> bool:
        """True when the workflow completed and ``output`` holds its result."""
        return self.runtime_status == RuntimeStatus.COMPLETED


class WorkflowPage(_Wire):
    """One page of ``GET /api/workflows``; pass ``continuation_token`` back for the next."""

    items: list[WorkflowStatus] = Field(default_factory=list)
    continuation_token: str | None = None


class FieldError(_Wire):
    """One bad request field: a dotted ``path`` (empty for the whole body) and what is wrong."""

    path: str = ""
    message: str = ""


class Problem(_Wire):
    """An RFC 9457 problem document, the body of every error answer."""

    type: str = "about:blank"
    title: str = ""
    status: int | None = None
    detail: str | None = None
    errors: list[FieldError] = Field(default_factory=list)

    def summary(self) -> str:
        """Title and detail on one line."""
        parts = [p for p in (self.title, self.detail) if p]
        return ": ".join(parts) if parts else self.type
