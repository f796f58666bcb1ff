"""Errors raised by the workflow client.

The tree::

    AroError                  base; .message
    ├── ConnectionFailed      no HTTP answer (refused, DNS, timeout); .url
    ├── ApiError              an error answer; .status .problem (synthesized if needed) .retry_after
    │   ├── ValidationFailed  400/413/415/422: the request was rejected, nothing started
    │   ├── Unauthorized      401/403: missing or wrong function key
    │   ├── NotFound          404: unknown instance id
    │   └── Conflict          409: already finished, or an idempotency key reused with another body
    ├── WorkflowFailed        the instance ended Failed/Terminated/Canceled; .status
    └── WaitTimeout           the client gave up (the instance goes on); .instance_id .status
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from aro.models import Problem, WorkflowStatus


class AroError(Exception):
    """Base of every error the client raises."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class ConnectionFailed(AroError):
    """The server could not be reached or did not answer in time."""

    def __init__(self, message: str, *, url: str) -> None:
        super().__init__(message)
        self.url = url


class ApiError(AroError):
    """The server answered with an error status."""

    def __init__(
        self,
        status: int,
        problem: Problem,
        *,
        retry_after: float | None = None,
        from_api: bool = True,
    ) -> None:
        super().__init__(f"HTTP {status}: {problem.summary()}")
        self.status = status
        self.problem = problem
        #: The answer's ``Retry-After`` in seconds (429/503), if any.
        self.retry_after = retry_after
        #: False when the body was not a problem document: a missing route, a proxy, a crash.
        self.from_api = from_api

    @property
    def is_transient(self) -> bool:
        """True for answers worth retrying later (429 and 5xx)."""
        return self.status == 429 or self.status >= 500


class ValidationFailed(ApiError):
    """The request was rejected; ``problem.errors`` names every bad field."""


class Unauthorized(ApiError):
    """The function key is missing or wrong."""


class NotFound(ApiError):
    """No instance with that id."""


class Conflict(ApiError):
    """The instance already finished, or the idempotency key belongs to another request."""


class WorkflowFailed(AroError):
    """The workflow ended without a result; ``status.error`` says why."""

    def __init__(self, status: WorkflowStatus) -> None:
        error = status.error
        reason = f"{error.type}: {error.message}" if error else status.runtime_status
        super().__init__(f"workflow {status.instance_id} {status.runtime_status.lower()}: {reason}")
        self.status = status


class WaitTimeout(AroError):
    """The client stopped waiting; the instance keeps running on the server."""

    def __init__(self, instance_id: str, *, waited: float, status: WorkflowStatus | None) -> None:
        where = f" (last seen {status.runtime_status}, phase {status.phase})" if status else ""
        seconds = f"{waited:.1f}".removesuffix(".0")
        super().__init__(f"gave up waiting for {instance_id} after {seconds} s{where}")
        self.instance_id = instance_id
        self.waited = waited
        self.status = status


#: HTTP status -> the most specific ApiError subclass.
STATUS_ERRORS: dict[int, type[ApiError]] = {
    400: ValidationFailed,
    401: Unauthorized,
    403: Unauthorized,
    404: NotFound,
    409: Conflict,
    413: ValidationFailed,
    415: ValidationFailed,
    422: ValidationFailed,
}
