"""Errors raised by the session client, translated from httpx at one boundary.

The tree::

    SessionError                      base; .message
    ├── SessionRequestError           transport failure, no HTTP answer; .request .request_sent
    │   └── SessionTimeout            connect/read/write/pool timeout
    ├── SessionCredentialError        the credential could not produce a token
    ├── SessionProtocolError          a 2xx answer whose body is not the documented JSON; .response
    └── SessionHTTPError              non-2xx; .status_code .code .body .response .retry_after
        ├── SessionBadRequest         400
        ├── SessionAuthError          401/403 (the message says which role or audience is missing)
        ├── SessionNotFound           404
        ├── SessionConflict           409
        ├── SessionPayloadTooLarge    413
        ├── SessionThrottled          429
        └── SessionServerError        5xx

Messages name the method and the URL *path* only, never the query string: the
session ``identifier`` travels in the query and must not leak into logs or history.
"""

from __future__ import annotations

import contextlib
import email.utils
import json
import re
import time
from collections.abc import Iterable, Iterator
from typing import Any

import httpx

#: Longest slice of a response body quoted in an error message.
MAX_BODY_IN_MESSAGE = 2000
#: Longest ``Retry-After`` the client will honour, in seconds.
MAX_RETRY_AFTER_SECONDS = 60.0

SESSION_EXECUTOR_ROLE = "Azure ContainerApps Session Executor"
TOKEN_AUDIENCE = "https://dynamicsessions.io"

_AUTH_HINTS = {
    401: (
        "the bearer token is missing, expired or has the wrong audience; it must be issued "
        f"for {TOKEN_AUDIENCE} (scope {TOKEN_AUDIENCE}/.default)"
    ),
    403: (
        f'the calling identity needs the "{SESSION_EXECUTOR_ROLE}" role on the session pool '
        "(role assignments can take a few minutes to apply)"
    ),
}


class SessionError(Exception):
    """Base class of every error the session client raises."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class SessionContentTooLarge(SessionError):
    """A downloaded file is bigger than the caller's cap (the rest was not read)."""

    def __init__(self, *, limit: int, size: int | None) -> None:
        shown = f"{size} bytes" if size is not None else f"more than {limit} bytes"
        super().__init__(f"the file is {shown}, over the {limit}-byte limit")
        self.limit = limit
        self.size = size


class SessionRequestError(SessionError):
    """No HTTP answer arrived (connection, TLS or protocol failure)."""

    def __init__(
        self, message: str, *, request: httpx.Request | None = None, request_sent: bool = True
    ) -> None:
        super().__init__(message)
        self.request = request
        #: False only when the request certainly never reached the server (connect failures).
        self.request_sent = request_sent


class SessionTimeout(SessionRequestError):
    """The request timed out (connect, read, write or waiting for a pooled connection)."""


class SessionCredentialError(SessionError):
    """The Azure credential failed to produce an access token."""


class SessionProtocolError(SessionError):
    """A successful status whose body is not the JSON the API documents."""

    def __init__(self, message: str, *, response: httpx.Response | None = None) -> None:
        super().__init__(message)
        self.response = response


class SessionHTTPError(SessionError):
    """The pool answered with a non-2xx status."""

    def __init__(
        self,
        message: str,
        *,
        status_code: int,
        code: str | None = None,
        body: str = "",
        response: httpx.Response | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message)
        self.status_code = status_code
        #: ``x-ms-error-code`` header, else ``error.code`` of the body.
        self.code = code
        #: The full response body as text.
        self.body = body
        self.response = response
        #: Parsed ``Retry-After`` in seconds (capped), if the server sent one.
        self.retry_after = retry_after


class SessionBadRequest(SessionHTTPError):
    """400: the request was malformed or rejected by validation."""


class SessionAuthError(SessionHTTPError):
    """401 or 403: the token is missing/invalid or the identity lacks the pool role."""


class SessionNotFound(SessionHTTPError):
    """404: unknown file, execution or session (also: pool at its session limit)."""


class SessionConflict(SessionHTTPError):
    """409: the resource is in a conflicting state."""


class SessionPayloadTooLarge(SessionHTTPError):
    """413: the upload exceeds the pool's limit (128 MB)."""


class SessionThrottled(SessionHTTPError):
    """429: too many requests; ``retry_after`` says how long the server asked to wait."""


class SessionServerError(SessionHTTPError):
    """5xx: the pool failed; usually worth retrying."""


_STATUS_CLASSES: dict[int, type[SessionHTTPError]] = {
    400: SessionBadRequest,
    401: SessionAuthError,
    403: SessionAuthError,
    404: SessionNotFound,
    409: SessionConflict,
    413: SessionPayloadTooLarge,
    429: SessionThrottled,
}

TRANSIENT_STATUS_CODES = frozenset({429, 500, 502, 503, 504})


def is_transient(exc: BaseException) -> bool:
    """True for failures worth retrying later: 429, 5xx and transport failures."""
    if isinstance(exc, SessionRequestError):
        return True
    if isinstance(exc, SessionHTTPError):
        return exc.status_code == 429 or exc.status_code >= 500
    return False


def parse_retry_after(value: str | None, *, now: float | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` value (delta-seconds or HTTP date), capped."""
    if value is None or not value.strip():
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError):
            return None
        if when is None:
            return None
        seconds = when.timestamp() - (time.time() if now is None else now)
    if seconds != seconds:  # NaN
        return None
    return min(max(seconds, 0.0), MAX_RETRY_AFTER_SECONDS)


def _error_fields(body: Any) -> tuple[str | None, str | None]:
    """``(code, message)`` from an Azure error body ``{"error": {"code", "message"}}``."""
    if not isinstance(body, dict):
        return None, None
    error = body.get("error", body)
    if not isinstance(error, dict):
        return None, error if isinstance(error, str) else None
    code = error.get("code")
    message = error.get("message")
    return (
        code if isinstance(code, str) else None,
        message if isinstance(message, str) else None,
    )


#: The operation part of a pool URL; what precedes it names subscription, group and pool.
_OPERATION = re.compile(r"/(?:files|executions|session|listSessions|metadata|\.management)(?:/|$)")


def describe(request: httpx.Request) -> str:
    """``METHOD /operation-path`` of a request.

    Without the query string (it holds the identifier) and without the pool's own
    path (subscription, resource group and pool name), since these messages can
    reach API callers through a run's error.
    """
    path = request.url.path
    match = _OPERATION.search(path)
    return f"{request.method} {path[match.start() :] if match else path}"


def error_from_response(
    response: httpx.Response, *, redact: Iterable[str] = ()
) -> SessionHTTPError:
    """The ``SessionHTTPError`` subclass for a non-2xx response (body already read).

    Each string in ``redact`` (the session identifier) is replaced in the message;
    ``.body`` keeps the raw text.
    """
    status = response.status_code
    text = response.text
    try:
        parsed: Any = json.loads(text) if text else None
    except ValueError:
        parsed = None
    body_code, body_message = _error_fields(parsed)
    code = response.headers.get("x-ms-error-code") or body_code
    detail = body_message or text.strip() or response.reason_phrase
    if len(detail) > MAX_BODY_IN_MESSAGE:
        detail = detail[:MAX_BODY_IN_MESSAGE] + f"... [{len(detail)} chars]"

    cls = _STATUS_CLASSES.get(status)
    if cls is None:
        cls = SessionServerError if status >= 500 else SessionHTTPError
    try:
        where = describe(response.request)
    except RuntimeError:  # a bare Response built without a request
        where = "request"
    message = f"{where} failed with {status}"
    if code:
        message += f" ({code})"
    message += f": {detail}"
    if status in _AUTH_HINTS:
        message += f". Hint: {_AUTH_HINTS[status]}"
    for secret in redact:
        if secret:
            message = message.replace(secret, "<identifier>")
    return cls(
        message,
        status_code=status,
        code=code,
        body=text,
        response=response,
        retry_after=parse_retry_after(response.headers.get("retry-after")),
    )


# Most specific first: ConnectTimeout is both a timeout and a connect failure.
_NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)


@contextlib.contextmanager
def map_exceptions(request: httpx.Request) -> Iterator[None]:
    """Translate httpx transport failures raised inside the block into session errors."""
    try:
        yield
    except httpx.TimeoutException as exc:
        raise SessionTimeout(
            f"{describe(request)} timed out ({type(exc).__name__})",
            request=request,
            request_sent=not isinstance(exc, _NOT_SENT),
        ) from exc
    except httpx.TransportError as exc:
        raise SessionRequestError(
            f"{describe(request)} failed: {type(exc).__name__}: {exc}",
            request=request,
            request_sent=not isinstance(exc, _NOT_SENT),
        ) from exc
