"""Bounds on what a request may make the host hold: body size and body read time.

Applied to every route before anything else (auth included), as the Functions host does
with ``FUNCTIONS_REQUEST_BODY_SIZE_LIMIT``: a declared ``Content-Length`` over the limit is
refused before a byte is read, and a body that grows past it is cut off while it is read,
so neither a huge body nor an endless trickle is ever held in memory. The head of a
request is bounded by the server (``thread_server.BoundedH11Protocol``).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

#: Azure's app setting for the same limit (its default there is 100 MB).
BODY_LIMIT_SETTING = "FUNCTIONS_REQUEST_BODY_SIZE_LIMIT"
#: Locally lower by default: the app's own largest request is ~12 MiB (code + input).
DEFAULT_MAX_BODY_BYTES = 16 * 1024 * 1024
#: Longest wait for the next piece of a request body.
BODY_READ_TIMEOUT_SECONDS = 30.0


class _Refused(Exception):
    """Aborts the app once the body broke a bound (the answer has been sent)."""


class RequestBounds:
    """ASGI middleware: 413 for bodies over ``max_body_bytes``, 408 for stalled bodies."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
        body_timeout: float = BODY_READ_TIMEOUT_SECONDS,
    ) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes
        self.body_timeout = body_timeout

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = _header(scope, b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > self.max_body_bytes):
            await _problem(send, 413, "Payload too large", self._too_large())
            return
        read = 0
        complete = False
        started = False  # the app has begun its response
        refused = False  # we answered instead: whatever the app still sends is dropped

        async def refuse(status: int, title: str, detail: str) -> None:
            # Answered from here, before the app's error handling turns the abort into a 500.
            nonlocal refused
            if not started:
                refused = True
                await _problem(send, status, title, detail)

        async def bounded_receive() -> Message:
            nonlocal read, complete
            if complete:  # after the body: e.g. waiting for a disconnect, unbounded
                return await receive()
            try:
                message = await asyncio.wait_for(receive(), self.body_timeout)
            except TimeoutError:
                detail = f"The request body stalled for more than {self.body_timeout:g} s."
                await refuse(408, "Request timeout", detail)
                raise _Refused from None
            if message["type"] == "http.request":
                read += len(message.get("body", b""))
                if read > self.max_body_bytes:
                    await refuse(413, "Payload too large", self._too_large())
                    raise _Refused
                complete = not message.get("more_body", False)
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if refused:
                return
            started = started or message["type"] == "http.response.start"
            await send(message)

        with contextlib.suppress(_Refused):
            await self.app(scope, bounded_receive, tracking_send)

    def _too_large(self) -> str:
        return (
            f"The request body is over the host's limit of {self.max_body_bytes} bytes "
            f"({BODY_LIMIT_SETTING})."
        )


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", ()):
        if key.lower() == name:
            return value.decode("latin-1").strip()
    return None


async def _problem(send: Send, status: int, title: str, detail: str) -> None:
    body = json.dumps({"type": "about:blank", "title": title, "status": status, "detail": detail})
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/problem+json"),
                (b"content-length", str(len(body)).encode()),
                (b"connection", b"close"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body.encode()})


def max_body_bytes(environ: MutableMapping[str, str]) -> int:
    """The limit from ``FUNCTIONS_REQUEST_BODY_SIZE_LIMIT``, else the local default."""
    raw = (environ.get(BODY_LIMIT_SETTING) or "").strip()
    return int(raw) if raw.isdigit() and int(raw) > 0 else DEFAULT_MAX_BODY_BYTES
