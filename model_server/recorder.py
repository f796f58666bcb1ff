"""A thread-safe log of every request the server received, for test assertions."""

from __future__ import annotations

import threading
from typing import Any

from .requests import ModelRequest, credential_sha256, redact_headers


class Recorder:
    """Appends requests as they arrive; readers get snapshots."""

    def __init__(self) -> None:
        self._requests: list[ModelRequest] = []
        self._lock = threading.Lock()

    def record(self, *, method: str, path: str, headers: dict[str, str], body: Any) -> ModelRequest:
        """Store one request (credentials redacted) and return it."""
        with self._lock:
            request = ModelRequest(
                index=len(self._requests),
                method=method,
                path=path,
                headers=redact_headers(headers),
                body=body,
                credential_sha256=credential_sha256(headers),
            )
            self._requests.append(request)
            return request

    @property
    def requests(self) -> list[ModelRequest]:
        """Every request so far, oldest first."""
        with self._lock:
            return list(self._requests)

    def to(self, endpoint: str) -> list[ModelRequest]:
        """Requests to one endpoint, e.g. ``to("responses")``."""
        return [r for r in self.requests if r.endpoint == endpoint.strip("/")]

    def clear(self) -> None:
        """Forget everything recorded so far."""
        with self._lock:
            self._requests.clear()
