"""Helpers for the aro tests: fake API documents, and the shared fake clock."""

from __future__ import annotations

from typing import Any

import httpx

from tests.support.clock import FakeClock as FakeClock  # re-exported for the aro tests

URL = "http://aro.test:7071"


def accepted(instance_id: str, **headers: str) -> httpx.Response:
    """The 202 answer to a submission."""
    return httpx.Response(
        202,
        json={
            "id": instance_id,
            "statusUri": f"{URL}/api/workflowStatus/{instance_id}",
            "statusQueryGetUri": f"{URL}/api/workflowStatus/{instance_id}",
            "terminatePostUri": f"{URL}/api/workflows/{instance_id}/cancel",
        },
        headers={"Location": f"{URL}/api/workflowStatus/{instance_id}", **headers},
    )


def status_doc(instance_id: str, runtime: str, phase: str | None, **extra: Any) -> dict[str, Any]:
    """A status document."""
    return {
        "instanceId": instance_id,
        "runtimeStatus": runtime,
        "phase": phase,
        "createdTime": "2025-01-01T00:00:00Z",
        "lastUpdatedTime": "2025-01-01T00:00:01Z",
        **extra,
    }


def status(
    instance_id: str, runtime: str, phase: str | None, *, code: int = 200, **extra: Any
) -> httpx.Response:
    """A status answer."""
    return httpx.Response(code, json=status_doc(instance_id, runtime, phase, **extra))


def problem(code: int, title: str, detail: str, errors: list[dict[str, str]] | None = None):
    """A problem+json answer."""
    body: dict[str, Any] = {
        "type": "urn:aro:problem:test",
        "title": title,
        "status": code,
        "detail": detail,
    }
    if errors is not None:
        body["errors"] = errors
    return httpx.Response(code, json=body, headers={"Content-Type": "application/problem+json"})


FAILED_ERROR = {
    "type": "ValueError",
    "message": "boom",
    "stage": "running",
    "hint": "check the input",
    "traceback": "\n".join(f"line {i}" for i in range(30)) + "\nValueError: boom",
}
