"""Opt-in: AzureSessionClient against a real session pool.

Runs when settings.py finds a pool (``AzureSession__PoolManagementEndpoint``, or
``AzureSession__BaseUrl`` + ``AzureSession__SessionPoolResourceId``) and a token can be had
(``AzureSession__AuthMode``: managed-identity uses DefaultAzureCredential, e.g. ``az login``,
unless ``AzureSession__ManagedIdentityClientId`` is set; static-token uses
``AzureSession__StaticToken``). Otherwise every test is skipped with the reason. The caller
needs the "Azure ContainerApps Session Executor" role on the pool (docs/azure.md).

    AzureSession__PoolManagementEndpoint=$(azd env get-value SESSION_POOL_MANAGEMENT_ENDPOINT) \\
        .venv/bin/python -m pytest tests/azure -m azure -v
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections.abc import AsyncIterator

import pytest

from session_client import AzureSessionClient, ExecutionStatus, SessionError, SessionNotFound
from session_client.auth import auth_from_settings
from settings import SessionSettings, SettingsError, load_settings

pytestmark = pytest.mark.azure

EXECUTION_TIMEOUT_SECONDS = 60
POLL_DEADLINE_SECONDS = 120.0


def _real_pool_settings() -> SessionSettings:
    """Settings naming a pool, or a skip that says what is missing."""
    try:
        settings = load_settings()
        endpoint = settings.pool_endpoint
    except SettingsError as exc:
        pytest.skip(f"no real session pool configured: {exc}")
    if not endpoint.startswith("https://"):
        pytest.skip(f"{endpoint} is not an https pool endpoint (a local emulator?)")
    return settings


@pytest.fixture(scope="module")
def pool_settings() -> SessionSettings:
    return _real_pool_settings()


@pytest.fixture(scope="module")
def token_available(pool_settings: SessionSettings) -> None:
    """Skip (not fail) when no credential can produce a token for the pool's audience."""

    async def probe() -> str | None:
        provider = auth_from_settings(pool_settings)
        try:
            return await provider.get_token()
        finally:
            await provider.aclose()

    try:
        token = asyncio.run(probe())
    except SessionError as exc:
        pytest.skip(f"no credential for https://dynamicsessions.io: {exc}")
    if pool_settings.auth_mode != "none" and not token:
        pytest.skip("the token provider returned no token")


@pytest.fixture
async def client(
    pool_settings: SessionSettings, token_available: None
) -> AsyncIterator[AzureSessionClient]:
    async with AzureSessionClient.from_settings(pool_settings) as session_client:
        yield session_client


@pytest.fixture
async def identifier(client: AzureSessionClient) -> AsyncIterator[str]:
    """A fresh session per test, deleted afterwards (best effort)."""
    value = f"aro-it-{uuid.uuid4().hex}"
    yield value
    # Best effort: older api-versions or custom pools may not offer DELETE /session.
    with contextlib.suppress(SessionError):
        await client.delete_session(value)


async def test_file_round_trip(client: AzureSessionClient, identifier: str) -> None:
    name = f"probe-{uuid.uuid4().hex[:8]}.txt"
    content = f"hello from {identifier}\n".encode()

    uploaded = await client.upload_file(identifier, name, content)
    assert uploaded.name == name

    listed = {f.name for f in await client.list_files(identifier)}
    assert name in listed

    assert await client.download_file(identifier, name) == content

    await client.delete_file(identifier, name)
    assert name not in {f.name for f in await client.list_files(identifier)}
    with pytest.raises(SessionNotFound):
        await client.download_file(identifier, name)


async def test_sync_execution_prints(client: AzureSessionClient, identifier: str) -> None:
    execution = await client.execute(
        identifier, "print(1)", timeout_seconds=EXECUTION_TIMEOUT_SECONDS
    )
    assert execution.status is ExecutionStatus.Succeeded, execution
    assert execution.result is not None
    assert execution.result.stdout.strip() == "1"


async def test_async_execution_polled_to_succeeded(
    client: AzureSessionClient, identifier: str
) -> None:
    marker = uuid.uuid4().hex
    code = f"import time\ntime.sleep(2)\nprint({marker!r})\n"
    started = await client.start_execution(
        identifier, code, timeout_seconds=EXECUTION_TIMEOUT_SECONDS
    )
    assert started.id

    execution = started
    deadline = time.monotonic() + POLL_DEADLINE_SECONDS
    delay = 0.5
    while not execution.is_terminal:
        assert time.monotonic() < deadline, f"still {execution.status} after polling"
        await asyncio.sleep(delay)
        delay = min(delay * 1.5, 5.0)
        execution = await client.get_execution(identifier, started.id)

    assert execution.status is ExecutionStatus.Succeeded, execution
    assert execution.result is not None
    assert marker in execution.result.stdout
