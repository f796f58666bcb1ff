"""GET/DELETE /session use api-version 2025-02-02-preview or newer."""

from __future__ import annotations

import pytest
import respx
from session_client_support import POOL_PATH, SleepRecorder, make_client

from session_client import AzureSessionClient, SessionProtocolError
from session_client.client import newer_api_version


async def test_get_session_bumps_old_api_version(
    client: AzureSessionClient, router: respx.Router, identifier: str, token: str
) -> None:
    info = {
        "identifier": identifier,
        "createdAt": "2025-01-01T00:00:00Z",
        "lastAccessedAt": "2025-01-01T00:01:00Z",
        "expireAt": "2025-01-01T00:06:00Z",
        "etag": "container-1",
    }
    route = router.get("/session").respond(200, json=info)

    assert await client.get_session(identifier) == info

    request = route.calls.last.request
    assert request.url.path == f"{POOL_PATH}/session"
    assert request.url.params["api-version"] == "2025-02-02-preview"
    assert request.url.params["identifier"] == identifier
    assert request.headers["authorization"] == f"Bearer {token}"


async def test_delete_session_keeps_newer_api_version(
    router: respx.Router, sleeps: SleepRecorder, identifier: str
) -> None:
    route = router.delete("/session").respond(204)
    async with make_client(router, sleeps, api_version="2025-10-02-preview") as client:
        assert await client.delete_session(identifier) is None
    request = route.calls.last.request
    assert request.method == "DELETE"
    assert request.url.params["api-version"] == "2025-10-02-preview"
    assert request.url.params["identifier"] == identifier


async def test_other_calls_keep_configured_api_version(
    client: AzureSessionClient, router: respx.Router, identifier: str
) -> None:
    route = router.get("/files").respond(200, json={"value": []})
    await client.list_files(identifier)
    assert route.calls.last.request.url.params["api-version"] == "2024-10-02-preview"


async def test_get_session_non_object_is_protocol_error(
    client: AzureSessionClient, router: respx.Router, identifier: str
) -> None:
    router.get("/session").respond(200, json=["not", "an", "object"])
    with pytest.raises(SessionProtocolError, match="expected a JSON object"):
        await client.get_session(identifier)


@pytest.mark.parametrize(
    ("configured", "expected"),
    [
        ("2024-10-02-preview", "2025-02-02-preview"),
        ("2025-02-02-preview", "2025-02-02-preview"),
        ("2025-10-02-preview", "2025-10-02-preview"),
        ("2026-01-01", "2026-01-01"),
    ],
)
def test_newer_api_version(configured: str, expected: str) -> None:
    assert newer_api_version(configured, "2025-02-02-preview") == expected
