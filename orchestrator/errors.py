"""How a failed run fails the orchestration, so ``api/status.py`` can read it back.

The Durable runtime keeps only the failure's message text (on Azure prefixed by
``Orchestrator function 'WorkflowOrchestrator' failed: ``), so the structured
error document travels inside the message after a marker.
"""

from __future__ import annotations

import json
from typing import Any

from orchestrator.models import ErrorDoc, public_dump

#: Precedes the JSON error document in the orchestration's failure message.
ERROR_MARKER = "__ARO_ERROR__"

#: The request's whole-run deadline (``timeoutSeconds``, default ``DefaultTimeoutSeconds``).
DEADLINE_EXCEEDED = "DeadlineExceeded"
#: The per-execution limit (launcher timeout / session execution timeout) ended the command.
EXECUTION_TIMEOUT = "ExecutionTimeout"
#: The pool stayed full (it answers 404 with a capacity error code) through every retry.
POOL_EXHAUSTED = "SessionPoolExhausted"
#: The session lost the run (host restart, expiry, deletion) and it could not start over.
SESSION_LOST = "SessionLost"

#: ``limit.name`` values in error documents.
LIMIT_RUN_DEADLINE = "timeoutSeconds"
LIMIT_MAX_EXECUTION = "AzureSession__MaxExecutionSeconds"
LIMIT_SESSION_EXECUTION = "sessionExecutionTimeout"

#: Operator hints per error type, shown next to the message.
HINTS: dict[str, str] = {
    "SessionAuthError": (
        'Grant the Function App\'s identity the "Azure ContainerApps Session Executor" role '
        "on the session pool (assignments can take minutes to apply) and check the token "
        "audience https://dynamicsessions.io."
    ),
    "SessionCredentialError": (
        "The managed identity could not get a token: check AzureSession__AuthMode and "
        "AzureSession__ManagedIdentityClientId."
    ),
    "SettingsError": "Fix the named AzureSession__ app setting and restart the app.",
    "SessionPayloadTooLarge": "Upload less: the pool accepts files up to 128 MB.",
    "SessionNotFound": (
        "The pool answered 404: check AzureSession__PoolManagementEndpoint; a pool at its "
        "session limit also answers 404."
    ),
    DEADLINE_EXCEEDED: "Raise timeoutSeconds (up to AzureSession__MaxTimeoutSeconds).",
    EXECUTION_TIMEOUT: (
        "One execution may run at most AzureSession__MaxExecutionSeconds (the service caps "
        "it at 220 s): split the work or make it faster."
    ),
    POOL_EXHAUSTED: (
        "Every session of the pool is in use: retry later, raise the pool's "
        "maxConcurrentSessions, or lower its cooldownPeriodInSeconds."
    ),
    SESSION_LOST: (
        "The session lost the run (its host restarted, it expired or was deleted). Ephemeral "
        "runs start over up to AzureSession__SessionLossRetries times; in a reuse session "
        "send rerunOnSessionLoss=true to allow a re-run (its earlier files may be gone)."
    ),
    "OutputMissing": (
        "The command ended without writing output.json: a commandOverride must run run.py "
        "or write output.json itself."
    ),
}


class WorkflowRunError(Exception):
    """Fails the orchestration; ``str()`` is the marker followed by the error document."""

    def __init__(self, error: ErrorDoc) -> None:
        self.error = error
        super().__init__(ERROR_MARKER + json.dumps(self.document, separators=(",", ":")))

    @property
    def document(self) -> dict[str, Any]:
        """The camelCase error document."""
        return public_dump(self.error)


def parse_error_message(text: str) -> dict[str, Any] | None:
    """The error document inside a failure message, wherever the marker sits; else None."""
    start = text.find(ERROR_MARKER)
    if start < 0:
        return None
    try:
        document, _ = json.JSONDecoder().raw_decode(text, start + len(ERROR_MARKER))
    except ValueError:
        return None
    return document if isinstance(document, dict) else None
