"""Async client for the Azure Container Apps Dynamic Sessions data-plane REST API."""

from session_client.auth import (
    AzureIdentityAuth,
    NoAuth,
    StaticTokenAuth,
    TokenProvider,
    auth_from_settings,
)
from session_client.client import AzureSessionClient
from session_client.errors import (
    SessionAuthError,
    SessionBadRequest,
    SessionConflict,
    SessionCredentialError,
    SessionError,
    SessionHTTPError,
    SessionNotFound,
    SessionPayloadTooLarge,
    SessionProtocolError,
    SessionRequestError,
    SessionServerError,
    SessionThrottled,
    SessionTimeout,
    is_transient,
)
from session_client.models import (
    Execution,
    ExecutionError,
    ExecutionResult,
    ExecutionStatus,
    SessionFile,
)

__all__ = [
    "AzureIdentityAuth",
    "AzureSessionClient",
    "Execution",
    "ExecutionError",
    "ExecutionResult",
    "ExecutionStatus",
    "NoAuth",
    "SessionAuthError",
    "SessionBadRequest",
    "SessionConflict",
    "SessionCredentialError",
    "SessionError",
    "SessionFile",
    "SessionHTTPError",
    "SessionNotFound",
    "SessionPayloadTooLarge",
    "SessionProtocolError",
    "SessionRequestError",
    "SessionServerError",
    "SessionThrottled",
    "SessionTimeout",
    "StaticTokenAuth",
    "TokenProvider",
    "auth_from_settings",
    "is_transient",
]
