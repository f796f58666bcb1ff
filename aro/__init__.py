"""Client library and CLI (``python -m aro``) for the Agent Runtime Orchestrator's workflow API."""

from aro.async_client import AsyncWorkflowClient
from aro.client import WorkflowClient
from aro.errors import (
    ApiError,
    AroError,
    Conflict,
    ConnectionFailed,
    NotFound,
    Unauthorized,
    ValidationFailed,
    WaitTimeout,
    WorkflowFailed,
)
from aro.models import (
    Accepted,
    FieldError,
    Problem,
    RuntimeStatus,
    Submission,
    WorkflowError,
    WorkflowPage,
    WorkflowStatus,
)

__all__ = [
    "Accepted",
    "ApiError",
    "AroError",
    "AsyncWorkflowClient",
    "Conflict",
    "ConnectionFailed",
    "FieldError",
    "NotFound",
    "Problem",
    "RuntimeStatus",
    "Submission",
    "Unauthorized",
    "ValidationFailed",
    "WaitTimeout",
    "WorkflowClient",
    "WorkflowError",
    "WorkflowFailed",
    "WorkflowPage",
    "WorkflowStatus",
]
