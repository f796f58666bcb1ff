"""Small helpers shared by the emulator tests."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx

API_VERSION = "2024-10-02-preview"


def params(identifier: str, api_version: str = API_VERSION) -> dict[str, str]:
    """Query parameters for a session-scoped call."""
    return {"api-version": api_version, "identifier": identifier}


async def run_code(
    http: httpx.AsyncClient,
    identifier: str,
    code: str,
    *,
    timeout: int = 20,
    api_version: str = API_VERSION,
    **extra: Any,
) -> dict[str, Any]:
    """A synchronous execution's body (asserting the POST was accepted)."""
    body = {"code": code, "executionType": "Synchronous", "timeoutInSeconds": timeout, **extra}
    response = await http.post("/executions", params=params(identifier, api_version), json=body)
    assert response.status_code in (200, 202), response.text
    return response.json()


async def poll(http: httpx.AsyncClient, identifier: str, execution_id: str) -> dict[str, Any]:
    """Poll an execution until it is terminal (at most ~30 s)."""
    for _ in range(600):
        response = await http.get(f"/executions/{execution_id}", params=params(identifier))
        assert response.status_code == 200, response.text
        body = response.json()
        if body["status"] in ("Succeeded", "Failed", "Canceled"):
            return body
        await asyncio.sleep(0.05)
    raise AssertionError("execution did not finish")


async def assert_healthy(http: httpx.AsyncClient, identifier: str) -> None:
    """The emulator still runs print(1) afterwards."""
    body = await run_code(http, identifier, "print(1)")
    assert body["status"] == "Succeeded", body
    assert body["result"]["stdout"] == "1\n"
