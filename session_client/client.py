"""``AzureSessionClient``: async client for the Dynamic Sessions data-plane REST API.

One reusable ``httpx.AsyncClient`` per instance; every call goes through
``_call`` (build, authenticate, send inside ``map_exceptions``, map non-2xx,
retry). Nothing here logs tokens, request bodies, file contents or the
session identifier.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from types import TracebackType
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

import httpx
from pydantic import ValidationError

from session_client._retry import DEFAULT_MAX_RETRIES, RetryPolicy, should_retry
from session_client.auth import NoAuth, TokenProvider, auth_from_settings
from session_client.errors import (
    SessionContentTooLarge,
    SessionError,
    SessionNotFound,
    SessionProtocolError,
    SessionRequestError,
    describe,
    error_from_response,
    is_transient,
    map_exceptions,
)
from session_client.models import Execution, ExecutionStatus, SessionFile

if TYPE_CHECKING:
    from settings import SessionSettings

logger = logging.getLogger("session_client")

DEFAULT_API_VERSION = "2024-10-02-preview"
#: ``/session`` exists from this api-version on.
SESSION_API_MIN_VERSION = "2025-02-02-preview"
DEFAULT_TIMEOUT_SECONDS = 30.0
#: Extra read time for a synchronous execution beyond its own ``timeoutInSeconds``.
SYNC_EXECUTION_GRACE_SECONDS = 30.0
USER_AGENT = "aro-session-client/0.1"

Sleep = Callable[[float], Awaitable[Any]]


def newer_api_version(configured: str, minimum: str) -> str:
    """``configured`` unless its date is older than ``minimum``'s (``YYYY-MM-DD[-preview]``)."""
    return configured if configured[:10] >= minimum[:10] else minimum


class AzureSessionClient:
    """Async client for one session pool's data plane (files, executions, sessions).

    Usage::

        async with AzureSessionClient.from_settings(get_settings()) as client:
            await client.upload_file(identifier, "run.py", code)
            execution = await client.start_execution(
                identifier, "print(1)", timeout_seconds=60, execution_id=op_id
            )
            execution = await client.get_execution(identifier, execution.id)

    Parameters:
        endpoint: pool management endpoint, e.g.
            ``https://<region>.dynamicsessions.io/subscriptions/<sub>/resourceGroups/<rg>/sessionPools/<pool>``.
        api_version: data-plane api-version sent on every call (``/session`` calls use at
            least ``2025-02-02-preview``).
        auth: token provider; ``None`` sends no Authorization header. The client owns it and
            closes it in ``aclose()``.
        timeout: default HTTP timeout in seconds.
        max_retries: retries after the first attempt for transient failures.
        transport: httpx transport (tests pass ``httpx.MockTransport`` or use respx).
        sleep: coroutine used between retries (tests pass a recorder).

    Retries: idempotent calls (GET, DELETE, file upload, which overwrites by name) retry
    on 429, 500, 502, 503, 504, transport errors and timeouts, with exponential backoff
    (base 0.5 s, cap 10 s, jitter) or the server's ``Retry-After`` (capped at 60 s).
    ``POST /executions`` is not idempotent: see :meth:`start_execution`.
    """

    def __init__(
        self,
        *,
        endpoint: str,
        api_version: str = DEFAULT_API_VERSION,
        auth: TokenProvider | None = None,
        timeout: float | httpx.Timeout = DEFAULT_TIMEOUT_SECONDS,
        max_retries: int = DEFAULT_MAX_RETRIES,
        transport: httpx.AsyncBaseTransport | None = None,
        sleep: Sleep | None = None,
    ) -> None:
        if not endpoint:
            raise ValueError("endpoint is required")
        if max_retries < 0:
            raise ValueError("max_retries must be >= 0")
        self.endpoint = endpoint.rstrip("/")
        self.api_version = api_version
        self._auth: TokenProvider = auth if auth is not None else NoAuth()
        self._retry = RetryPolicy(max_retries=max_retries)
        self._sleep: Sleep = sleep if sleep is not None else asyncio.sleep
        self._http = httpx.AsyncClient(
            base_url=self.endpoint,
            timeout=timeout,
            transport=transport,
            headers={"User-Agent": USER_AGENT},
        )
        self._closed = False

    @classmethod
    def from_settings(
        cls, settings: SessionSettings, *, transport: httpx.AsyncBaseTransport | None = None
    ) -> AzureSessionClient:
        """A client configured from the ``AzureSession`` settings section."""
        return cls(
            endpoint=settings.pool_endpoint,
            api_version=settings.api_version,
            auth=auth_from_settings(settings),
            timeout=settings.http_timeout_seconds,
            max_retries=settings.max_retries,
            transport=transport,
        )

    # --- lifecycle ----------------------------------------------------------

    async def __aenter__(self) -> AzureSessionClient:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the HTTP connection pool and the token provider (idempotent)."""
        if self._closed:
            return
        self._closed = True
        try:
            await self._http.aclose()
        finally:
            await self._auth.aclose()

    # --- files --------------------------------------------------------------

    async def upload_file(self, identifier: str, name: str, content: bytes) -> SessionFile:
        """Upload ``content`` to ``/mnt/data/<name>``, replacing any file of that name."""
        _check_name(name)
        response = await self._call(
            "POST",
            "/files",
            identifier=identifier,
            files={"file": (name, content, "application/octet-stream")},
        )
        return _uploaded_file(response, name)

    async def upload_files(self, identifier: str, files: Mapping[str, bytes]) -> list[SessionFile]:
        """Upload several files, one request each, in mapping order."""
        return [await self.upload_file(identifier, name, data) for name, data in files.items()]

    async def list_files(self, identifier: str) -> list[SessionFile]:
        """Files in ``/mnt/data`` (``nextLink`` is not followed)."""
        response = await self._call("GET", "/files", identifier=identifier)
        data = _json_body(response)
        items = data.get("value") if isinstance(data, dict) else data
        if not isinstance(items, list):
            raise _protocol_error(response, 'expected {"value": [...]}')
        return [_validate(SessionFile, item, response) for item in items]

    async def get_file(self, identifier: str, name: str) -> SessionFile:
        """Metadata of ``/mnt/data/<name>``."""
        response = await self._call("GET", _file_path(name), identifier=identifier)
        return _validate(SessionFile, _json_body(response), response)

    async def download_file(
        self, identifier: str, name: str, *, max_bytes: int | None = None
    ) -> bytes:
        """Raw content of ``/mnt/data/<name>``.

        With ``max_bytes`` the body is streamed and never read past the cap: a bigger file
        raises :class:`SessionContentTooLarge` (what a run writes is hostile input; a sparse
        256 MB file must not land in this process's memory to be refused).
        """
        path = _file_path(name) + "/content"
        if max_bytes is None:
            return (await self._call("GET", path, identifier=identifier)).content
        response = await self._call("GET", path, identifier=identifier, stream=True)
        try:
            declared = response.headers.get("content-length", "")
            if declared.isdigit() and int(declared) > max_bytes:
                raise SessionContentTooLarge(limit=max_bytes, size=int(declared))
            body = bytearray()
            async for chunk in response.aiter_bytes():
                body += chunk
                if len(body) > max_bytes:
                    raise SessionContentTooLarge(limit=max_bytes, size=None)
            return bytes(body)
        finally:
            await response.aclose()

    async def delete_file(self, identifier: str, name: str) -> None:
        """Delete ``/mnt/data/<name>`` (the service answers 204)."""
        await self._call("DELETE", _file_path(name), identifier=identifier)

    # --- executions ---------------------------------------------------------

    async def start_execution(
        self,
        identifier: str,
        code: str,
        *,
        timeout_seconds: int,
        execution_id: str | None = None,
    ) -> Execution:
        """Start an Asynchronous execution and return it (usually ``Running``).

        ``execution_id`` is sent as the ``operation-id`` header and becomes the
        execution's id. Retry rule: the POST is not idempotent, so it is retried only
        when the service certainly did not process it (connect failure, 429, 503).
        With an ``execution_id``, a failure that leaves this unknown (5xx, read
        timeout) is resolved by asking for the execution by id: if it exists it is
        returned, else the POST is sent once more. Whether the service itself
        deduplicates by ``operation-id`` is not documented, so this never relies on it.
        """
        return await self._execute(
            identifier,
            code,
            execution_type="Asynchronous",
            timeout_seconds=timeout_seconds,
            execution_id=execution_id,
            http_timeout=None,
        )

    async def execute(
        self,
        identifier: str,
        code: str,
        *,
        timeout_seconds: int,
        execution_id: str | None = None,
    ) -> Execution:
        """Run ``code`` synchronously and return the finished execution.

        The read timeout is stretched to ``timeout_seconds`` plus a grace period.
        Retries follow the same rule as :meth:`start_execution`.
        """
        read = max(
            _read_timeout(self._http.timeout), timeout_seconds + SYNC_EXECUTION_GRACE_SECONDS
        )
        return await self._execute(
            identifier,
            code,
            execution_type="Synchronous",
            timeout_seconds=timeout_seconds,
            execution_id=execution_id,
            http_timeout=self._http.timeout.as_dict() | {"read": read},
        )

    async def get_execution(self, identifier: str, execution_id: str) -> Execution:
        """Current state of an execution (poll until ``is_terminal``)."""
        if not execution_id:
            raise ValueError("execution_id is required")
        response = await self._call(
            "GET", "/executions/" + quote(execution_id, safe=""), identifier=identifier
        )
        return _execution(response, fallback_id=execution_id)

    async def _execute(
        self,
        identifier: str,
        code: str,
        *,
        execution_type: str,
        timeout_seconds: int,
        execution_id: str | None,
        http_timeout: dict[str, float | None] | None,
    ) -> Execution:
        if timeout_seconds <= 0:
            raise ValueError("timeout_seconds must be > 0")
        body = {
            "codeInputType": "Inline",
            "executionType": execution_type,
            "code": code,
            "timeoutInSeconds": int(timeout_seconds),
        }
        headers = {"operation-id": execution_id} if execution_id else None

        async def post() -> httpx.Response:
            return await self._call(
                "POST",
                "/executions",
                identifier=identifier,
                json_body=body,
                headers=headers,
                idempotent=False,
                timeout=http_timeout,
            )

        try:
            response = await post()
        except SessionError as exc:
            if execution_id is None or not is_transient(exc):
                raise
            # The POST may have reached the service: look for the execution before resending.
            try:
                return await self.get_execution(identifier, execution_id)
            except SessionNotFound:
                response = await post()
        return _execution(response, fallback_id=execution_id, execution_type=execution_type)

    # --- sessions -----------------------------------------------------------

    async def get_session(self, identifier: str) -> dict[str, Any]:
        """Session info (``identifier, createdAt, lastAccessedAt, expireAt, etag``)."""
        response = await self._call(
            "GET", "/session", identifier=identifier, api_version=self._session_api_version
        )
        data = _json_body(response)
        if not isinstance(data, dict):
            raise _protocol_error(response, "expected a JSON object")
        return data

    async def delete_session(self, identifier: str) -> None:
        """Destroy the session and its files now instead of after the cooldown."""
        await self._call(
            "DELETE", "/session", identifier=identifier, api_version=self._session_api_version
        )

    @property
    def _session_api_version(self) -> str:
        return newer_api_version(self.api_version, SESSION_API_MIN_VERSION)

    # --- the one send path --------------------------------------------------

    async def _call(
        self,
        method: str,
        path: str,
        *,
        identifier: str,
        api_version: str | None = None,
        json_body: Any = None,
        files: Any = None,
        headers: Mapping[str, str] | None = None,
        idempotent: bool = True,
        timeout: dict[str, float | None] | None = None,
        stream: bool = False,
    ) -> httpx.Response:
        """Send with auth and retries; return a 2xx response or raise a ``SessionError``.

        ``stream=True``: a 2xx response comes back unread (the caller reads and closes it).
        """
        if not identifier:
            raise ValueError("identifier is required")
        params = {"api-version": api_version or self.api_version, "identifier": identifier}
        retry = 0
        while True:
            request = await self._build(method, path, params, json_body, files, headers, timeout)
            error: SessionError
            try:
                response = await self._send(request, stream=stream)
            except SessionRequestError as exc:
                error = exc
            else:
                if response.is_success:
                    return response
                if stream:  # an error body is small: read it for the error, then close
                    try:
                        await response.aread()
                    finally:
                        await response.aclose()
                error = error_from_response(response, redact=(identifier,))
            if retry >= self._retry.max_retries or not should_retry(error, idempotent=idempotent):
                raise error
            delay = self._retry.delay(retry, retry_after=getattr(error, "retry_after", None))
            retry += 1
            logger.info(
                "session_client: %s failed (%s); retry %d/%d in %.2fs",
                describe(request),
                getattr(error, "status_code", type(error).__name__),
                retry,
                self._retry.max_retries,
                delay,
            )
            await self._sleep(delay)

    async def _build(
        self,
        method: str,
        path: str,
        params: Mapping[str, str],
        json_body: Any,
        files: Any,
        headers: Mapping[str, str] | None,
        timeout: dict[str, float | None] | None,
    ) -> httpx.Request:
        """A fresh request per attempt (multipart streams cannot be replayed)."""
        merged = dict(headers or {})
        token = await self._auth.get_token()
        if token:
            merged["Authorization"] = f"Bearer {token}"
        extensions = {"timeout": timeout} if timeout is not None else None
        return self._http.build_request(
            method,
            path,
            params=params,
            json=json_body,
            files=files,
            headers=merged,
            extensions=extensions,
        )

    async def _send(self, request: httpx.Request, *, stream: bool = False) -> httpx.Response:
        """The single place httpx is called; transport errors become ``SessionRequestError``."""
        started = time.perf_counter()
        try:
            with map_exceptions(request):
                response = await self._http.send(request, stream=stream)
        except SessionRequestError as exc:
            logger.debug(
                "session_client: %s -> %s after %.1f ms",
                describe(request),
                type(exc.__cause__).__name__,
                (time.perf_counter() - started) * 1000,
            )
            raise
        logger.debug(
            "session_client: %s -> %d in %.1f ms",
            describe(request),
            response.status_code,
            (time.perf_counter() - started) * 1000,
        )
        return response


# --- helpers ------------------------------------------------------------------


def _check_name(name: str) -> None:
    if not name or name in {".", ".."}:
        raise ValueError(f"invalid file name {name!r}")


def _file_path(name: str) -> str:
    """``/files/<url-quoted name>``; ``/`` is quoted too so a name is one path segment."""
    _check_name(name)
    return "/files/" + quote(name, safe="")


def _read_timeout(timeout: httpx.Timeout) -> float:
    return timeout.read if timeout.read is not None else 0.0


def _protocol_error(response: httpx.Response, expected: str) -> SessionProtocolError:
    ctype = response.headers.get("content-type", "no content-type")
    return SessionProtocolError(
        f"{describe(response.request)} returned {response.status_code} with an unexpected "
        f"body ({ctype}, {len(response.content)} bytes): {expected}",
        response=response,
    )


def _json_body(response: httpx.Response) -> Any:
    """The parsed JSON body, or ``SessionProtocolError`` when it is not JSON."""
    try:
        return json.loads(response.content)
    except ValueError:
        raise _protocol_error(response, "body is not JSON") from None


def _validate(model: type[Any], data: Any, response: httpx.Response) -> Any:
    """Validate ``data`` without echoing input values (they may include the identifier)."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc']) or model.__name__}: {err['msg']}"
            for err in exc.errors(include_input=False, include_url=False)
        )
        raise _protocol_error(response, f"not a valid {model.__name__}: {problems}") from None


def _uploaded_file(response: httpx.Response, name: str) -> SessionFile:
    """The uploaded file from a single object, ``{"value": [...]}`` or a bare list."""
    data = _json_body(response)
    if isinstance(data, dict) and isinstance(data.get("value"), list):
        data = data["value"]
    if isinstance(data, list):
        if not data:
            raise _protocol_error(response, "empty file list after upload")
        matches = [item for item in data if isinstance(item, dict) and item.get("name") == name]
        data = matches[0] if matches else data[0]
    return _validate(SessionFile, data, response)


def _execution(
    response: httpx.Response,
    *,
    fallback_id: str | None = None,
    execution_type: str | None = None,
) -> Execution:
    """The Execution in the body; a missing ``id`` comes from ``operation-id`` or the caller."""
    header_id = response.headers.get("operation-id")
    if not response.content.strip():
        # A bare 202 still tells us the id; polling reports the real status.
        if response.status_code == 202 and (header_id or fallback_id):
            return Execution(
                id=header_id or fallback_id,
                execution_type=execution_type,
                status=ExecutionStatus.NotStarted,
            )
        raise _protocol_error(response, "expected an execution, got an empty body")
    data = _json_body(response)
    if not isinstance(data, dict):
        raise _protocol_error(response, "expected an execution object")
    if not data.get("id") and (header_id or fallback_id):
        data = {**data, "id": header_id or fallback_id}
    return _validate(Execution, data, response)
