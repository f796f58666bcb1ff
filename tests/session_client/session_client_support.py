"""Shared constants and helpers for the session_client tests (imported by name, no package)."""

from __future__ import annotations

from typing import Any

import httpx
import respx

from session_client import AzureSessionClient, StaticTokenAuth

ENDPOINT = (
    "https://westus2.dynamicsessions.io/subscriptions/sub/resourceGroups/rg/sessionPools/pool"
)
POOL_PATH = "/subscriptions/sub/resourceGroups/rg/sessionPools/pool"
API_VERSION = "2024-10-02-preview"


class SleepRecorder:
    """Stands in for ``asyncio.sleep``: records the requested delays, returns at once."""

    def __init__(self) -> None:
        self.delays: list[float] = []

    async def __call__(self, delay: float) -> None:
        self.delays.append(delay)


def make_client(
    router: respx.Router,
    sleeps: SleepRecorder,
    *,
    token: str | None = "tok",
    api_version: str = API_VERSION,
    **options: Any,
) -> AzureSessionClient:
    """A client wired to ``router`` with recorded sleeps (``auth=`` overrides ``token``)."""
    options.setdefault("auth", StaticTokenAuth(token) if token else None)
    return AzureSessionClient(
        endpoint=ENDPOINT,
        api_version=api_version,
        transport=httpx.MockTransport(router.async_handler),
        sleep=sleeps,
        **options,
    )


def execution_body(
    identifier: str, *, id: str = "exec-1", status: str = "Running", **extra: Any
) -> dict[str, Any]:
    """A ``SessionCodeExecutionResource`` as the service returns it."""
    return {
        "id": id,
        "identifier": identifier,
        "executionType": "Asynchronous",
        "status": status,
        **extra,
    }
