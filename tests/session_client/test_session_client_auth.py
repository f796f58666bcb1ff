"""Token providers: caching, refresh under a lock, credential errors, settings modes."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import uuid
from pathlib import Path

import httpx
import pytest
import respx
from azure.core.credentials import AccessToken
from azure.core.exceptions import ClientAuthenticationError
from session_client_support import SleepRecorder, make_client

from session_client import (
    AzureIdentityAuth,
    AzureSessionClient,
    NoAuth,
    SessionCredentialError,
    SessionServerError,
    StaticTokenAuth,
    TokenProvider,
    auth_from_settings,
    is_transient,
)
from settings import TOKEN_SCOPE, SessionSettings

REPO_ROOT = Path(__file__).resolve().parents[2]


class FakeCredential:
    """Counts get_token calls; each token expires ``lifetime`` seconds after the fake clock."""

    def __init__(self, clock: list[float], *, lifetime: float = 3600.0) -> None:
        self.clock = clock
        self.lifetime = lifetime
        self.scopes: list[tuple[str, ...]] = []
        self.closed = False
        self.gate: asyncio.Event | None = None
        self.error: Exception | None = None

    async def get_token(self, *scopes: str) -> AccessToken:
        self.scopes.append(scopes)
        if self.gate is not None:
            await self.gate.wait()
        if self.error is not None:
            raise self.error
        n = len(self.scopes)
        return AccessToken(f"token-{n}", int(self.clock[0] + self.lifetime))

    async def close(self) -> None:
        self.closed = True


@pytest.fixture
def clock() -> list[float]:
    return [1_700_000_000.0]


def make_auth(credential: FakeCredential, clock: list[float]) -> AzureIdentityAuth:
    return AzureIdentityAuth(credential, TOKEN_SCOPE, clock=lambda: clock[0])


async def test_token_is_cached_until_five_minutes_before_expiry(clock: list[float]) -> None:
    credential = FakeCredential(clock, lifetime=3600)
    auth = make_auth(credential, clock)

    assert await auth.get_token() == "token-1"
    clock[0] += 3600 - 301  # still more than 5 minutes left
    assert await auth.get_token() == "token-1"
    assert len(credential.scopes) == 1

    clock[0] += 2  # now within the 5-minute margin
    assert await auth.get_token() == "token-2"
    assert await auth.get_token() == "token-2"
    assert credential.scopes == [(TOKEN_SCOPE,), (TOKEN_SCOPE,)]
    assert TOKEN_SCOPE == "https://dynamicsessions.io/.default"


async def test_concurrent_callers_share_one_refresh(clock: list[float]) -> None:
    credential = FakeCredential(clock)
    credential.gate = asyncio.Event()
    auth = make_auth(credential, clock)

    tasks = [asyncio.create_task(auth.get_token()) for _ in range(5)]
    await asyncio.sleep(0)
    credential.gate.set()
    tokens = await asyncio.gather(*tasks)

    assert tokens == ["token-1"] * 5
    assert len(credential.scopes) == 1


async def test_credential_failure_becomes_session_credential_error(clock: list[float]) -> None:
    credential = FakeCredential(clock)
    credential.error = ClientAuthenticationError("no managed identity endpoint")
    auth = make_auth(credential, clock)

    with pytest.raises(SessionCredentialError) as info:
        await auth.get_token()

    assert "https://dynamicsessions.io/.default" in str(info.value)
    assert "no managed identity endpoint" in str(info.value)
    assert isinstance(info.value.__cause__, ClientAuthenticationError)
    assert not is_transient(info.value)


async def test_aclose_closes_the_credential(clock: list[float]) -> None:
    credential = FakeCredential(clock)
    await make_auth(credential, clock).aclose()
    assert credential.closed


async def test_client_sends_identity_token_and_closes_credential(
    router: respx.Router, sleeps: SleepRecorder, identifier: str, clock: list[float]
) -> None:
    credential = FakeCredential(clock)
    route = router.get("/files").respond(200, json={"value": []})

    async with make_client(router, sleeps, auth=make_auth(credential, clock)) as client:
        await client.list_files(identifier)
        await client.list_files(identifier)

    assert [c.request.headers["authorization"] for c in route.calls] == ["Bearer token-1"] * 2
    assert len(credential.scopes) == 1
    assert credential.closed


async def test_credential_error_surfaces_from_client_without_request(
    router: respx.Router, sleeps: SleepRecorder, identifier: str, clock: list[float]
) -> None:
    credential = FakeCredential(clock)
    credential.error = ClientAuthenticationError("denied")
    route = router.get("/files").respond(200, json={"value": []})
    async with make_client(router, sleeps, auth=make_auth(credential, clock)) as client:
        with pytest.raises(SessionCredentialError):
            await client.list_files(identifier)
    assert not route.called
    assert sleeps.delays == []


async def test_static_and_no_auth() -> None:
    secret = f"secret-{uuid.uuid4().hex}"
    static = StaticTokenAuth(secret)
    assert await static.get_token() == secret
    assert secret not in repr(static)
    assert await NoAuth().get_token() is None
    assert isinstance(static, TokenProvider)
    assert isinstance(NoAuth(), TokenProvider)
    with pytest.raises(ValueError):
        StaticTokenAuth("")


def settings(**values: object) -> SessionSettings:
    return SessionSettings(pool_management_endpoint="https://pool.example/x", **values)


async def test_auth_from_settings_modes() -> None:
    assert isinstance(auth_from_settings(settings(auth_mode="none")), NoAuth)

    static = auth_from_settings(settings(auth_mode="static-token", static_token="emu-token"))
    assert isinstance(static, StaticTokenAuth)
    assert await static.get_token() == "emu-token"


async def test_auth_from_settings_managed_identity_with_client_id() -> None:
    from azure.identity.aio import ManagedIdentityCredential

    client_id = str(uuid.uuid4())
    auth = auth_from_settings(
        settings(auth_mode="managed-identity", managed_identity_client_id=client_id)
    )
    assert isinstance(auth, AzureIdentityAuth)
    assert isinstance(auth._credential, ManagedIdentityCredential)
    assert auth._scope == TOKEN_SCOPE
    await auth.aclose()


async def test_auth_from_settings_managed_identity_default_chain() -> None:
    from azure.identity.aio import DefaultAzureCredential

    auth = auth_from_settings(settings(auth_mode="managed-identity"))
    assert isinstance(auth, AzureIdentityAuth)
    assert isinstance(auth._credential, DefaultAzureCredential)
    await auth.aclose()


def test_azure_identity_is_imported_only_for_managed_identity() -> None:
    code = (
        "import sys\n"
        "from session_client import AzureSessionClient, auth_from_settings\n"
        "from settings import SessionSettings\n"
        "s = SessionSettings(pool_management_endpoint='https://p.example', auth_mode='none')\n"
        "AzureSessionClient.from_settings(s)\n"
        "print('azure.identity' in sys.modules)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO_ROOT, capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == "False"


async def test_from_settings_uses_endpoint_version_timeout_retries_and_token(
    identifier: str,
) -> None:
    s = SessionSettings(
        pool_management_endpoint="https://emu.local:8080/pools/p1/",
        api_version="2025-10-02-preview",
        auth_mode="static-token",
        static_token="emu-token",
        http_timeout_seconds=12.5,
        max_retries=1,
    )
    router = respx.Router(base_url="https://emu.local:8080/pools/p1", assert_all_mocked=True)
    route = router.get("/files").respond(500)
    async with AzureSessionClient.from_settings(
        s, transport=httpx.MockTransport(router.async_handler)
    ) as client:
        client._sleep = SleepRecorder()
        with pytest.raises(SessionServerError):
            await client.list_files(identifier)

    assert client.endpoint == "https://emu.local:8080/pools/p1"
    assert route.call_count == 2  # max_retries=1
    request = route.calls.last.request
    assert request.url.params["api-version"] == "2025-10-02-preview"
    assert request.headers["authorization"] == "Bearer emu-token"
    assert request.extensions["timeout"]["read"] == 12.5
