"""Pydantic models of the Dynamic Sessions resources the client returns.

Field names are snake_case with the service's camelCase as aliases; unknown
fields are ignored so newer api-versions do not break parsing. Status and
execution-type casing varies between sources (``Succeeded``, ``succeeded``,
legacy ``Success``), so both are normalised to one spelling. A Shell pool reports a
finished command's exit code as the status itself (``"0"``, ``"3"``): that is a
``Succeeded`` execution with ``exit_code`` set.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, field_validator, model_validator
from pydantic.alias_generators import to_camel


class _ApiModel(BaseModel):
    """camelCase on the wire, snake_case in Python, unknown fields ignored."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="ignore")


class ExecutionStatus(StrEnum):
    """Lifecycle of an execution as the service reports it."""

    NotStarted = "NotStarted"
    Running = "Running"
    Succeeded = "Succeeded"
    Failed = "Failed"
    Canceled = "Canceled"

    @classmethod
    def _missing_(cls, value: object) -> ExecutionStatus | None:
        if isinstance(value, str):
            return _STATUS_ALIASES.get(value.strip().lower().replace("_", "").replace(" ", ""))
        return None


_STATUS_ALIASES: dict[str, ExecutionStatus] = {
    **{member.value.lower(): member for member in ExecutionStatus},
    "success": ExecutionStatus.Succeeded,  # legacy /code/execute contract
    "failure": ExecutionStatus.Failed,
    "cancelled": ExecutionStatus.Canceled,
}

TERMINAL_STATUSES = frozenset(
    {ExecutionStatus.Succeeded, ExecutionStatus.Failed, ExecutionStatus.Canceled}
)

_EXECUTION_TYPES = {"synchronous": "Synchronous", "asynchronous": "Asynchronous"}


class SessionFile(_ApiModel):
    """A file in the session's ``/mnt/data`` (``SessionResourceFile``)."""

    name: str
    type: str = "File"
    last_modified_at: datetime | None = None
    content_type: str | None = None
    size_in_bytes: int | None = None
    directory: str | None = None


class ExecutionResult(_ApiModel):
    """Output of an execution; ``execution_result`` is the last expression's JSON value."""

    stdout: str = ""
    stderr: str = ""
    execution_result: Any = None
    execution_time_in_milliseconds: int | None = None

    @field_validator("stdout", "stderr", mode="before")
    @classmethod
    def _none_is_empty(cls, value: Any) -> Any:
        return "" if value is None else value


class ExecutionError(_ApiModel):
    """The ``error`` of a failed execution (Azure ``ErrorDetail``)."""

    code: str | None = None
    message: str | None = None

    @model_validator(mode="before")
    @classmethod
    def _unwrap(cls, value: Any) -> Any:
        if isinstance(value, str):
            return {"message": value}
        if isinstance(value, dict) and isinstance(value.get("error"), dict):
            return value["error"]  # an ErrorResponse wrapper
        return value


class Execution(_ApiModel):
    """A code execution (``SessionCodeExecutionResource``)."""

    id: str
    identifier: str | None = None
    execution_type: str | None = None
    status: ExecutionStatus
    result: ExecutionResult | None = None
    error: ExecutionError | None = None
    #: A Shell pool's command exit code (its ``status`` string); None for Python pools.
    exit_code: int | None = None

    @model_validator(mode="before")
    @classmethod
    def _shell_exit_code(cls, value: Any) -> Any:
        status = value.get("status") if isinstance(value, dict) else None
        if isinstance(status, str) and status.strip().lstrip("-").isdigit():
            return {**value, "status": ExecutionStatus.Succeeded, "exit_code": int(status)}
        return value

    @field_validator("execution_type", mode="before")
    @classmethod
    def _normalise_type(cls, value: Any) -> Any:
        if isinstance(value, str):
            return _EXECUTION_TYPES.get(value.strip().lower(), value)
        return value

    @property
    def is_terminal(self) -> bool:
        """True once the execution can no longer change (Succeeded, Failed or Canceled)."""
        return self.status in TERMINAL_STATUSES


__all__ = [
    "TERMINAL_STATUSES",
    "Execution",
    "ExecutionError",
    "ExecutionResult",
    "ExecutionStatus",
    "SessionFile",
]
