"""RFC 9457 problem details: the one error shape every endpoint answers with."""

from __future__ import annotations

import json
import logging
from typing import Any

import azure.functions as func

PROBLEM_CONTENT_TYPE = "application/problem+json"
#: Problem ``type`` URIs (URNs: stable names, nothing to dereference).
TYPE_INVALID_REQUEST = "urn:aro:problem:invalid-request"
TYPE_MALFORMED_JSON = "urn:aro:problem:malformed-json"
TYPE_UNSUPPORTED_MEDIA_TYPE = "urn:aro:problem:unsupported-media-type"
TYPE_PAYLOAD_TOO_LARGE = "urn:aro:problem:payload-too-large"
TYPE_NOT_FOUND = "urn:aro:problem:not-found"
TYPE_MISCONFIGURED = "urn:aro:problem:misconfigured"
TYPE_UPSTREAM = "urn:aro:problem:durable-backend"
TYPE_UNAUTHORIZED = "urn:aro:problem:unauthorized"
TYPE_CONFLICT = "urn:aro:problem:conflict"
TYPE_IDEMPOTENCY_MISMATCH = "urn:aro:problem:idempotency-key-reused"


def backend_problem(exc: Exception, what: str) -> ApiProblem:
    """503: the durable backend failed to ``what`` (the exception type only, never its text)."""
    logging.getLogger("api").error("durable backend: %s failed: %s", what, type(exc).__name__)
    return ApiProblem(
        503,
        "Service Unavailable",
        f"The durable backend did not {what}: {type(exc).__name__}",
        type_=TYPE_UPSTREAM,
    )


class ApiProblem(Exception):
    """An HTTP error answer; raised by validation, rendered by :func:`problem_response`."""

    def __init__(
        self,
        status: int,
        title: str,
        detail: str,
        *,
        type_: str = TYPE_INVALID_REQUEST,
        errors: list[dict[str, str]] | None = None,
        extensions: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.title = title
        self.detail = detail
        self.type = type_
        self.errors = errors
        #: Extra members of the problem document (RFC 9457 extensions), e.g. ``runtimeStatus``.
        self.extensions = extensions or {}

    def body(self) -> dict[str, Any]:
        """The problem document."""
        document: dict[str, Any] = {
            "type": self.type,
            "title": self.title,
            "status": self.status,
            "detail": self.detail,
        }
        if self.errors is not None:
            document["errors"] = self.errors
        for key, value in self.extensions.items():
            document.setdefault(key, value)
        return document


def problem_response(problem: ApiProblem) -> func.HttpResponse:
    """``problem`` as an ``application/problem+json`` response."""
    return func.HttpResponse(
        body=json.dumps(problem.body()),
        status_code=problem.status,
        headers={"Content-Type": PROBLEM_CONTENT_TYPE},
        mimetype=PROBLEM_CONTENT_TYPE,
    )


def json_response(
    document: Any, *, status_code: int = 200, headers: dict[str, str] | None = None
) -> func.HttpResponse:
    """``document`` as an ``application/json`` response."""
    return func.HttpResponse(
        body=json.dumps(document),
        status_code=status_code,
        headers={"Content-Type": "application/json", **(headers or {})},
        mimetype="application/json",
    )
