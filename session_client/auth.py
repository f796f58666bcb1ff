"""Bearer-token providers: Entra ID via azure.identity, a static token, or none.

The client asks its provider for a token before every attempt; providers cache,
so this is cheap. ``azure.identity`` is imported only when managed identity is
chosen, so the emulator path never loads it.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from pydantic import SecretStr

from session_client.errors import SessionCredentialError

if TYPE_CHECKING:
    from settings import SessionSettings

logger = logging.getLogger("session_client")

#: Dynamic Sessions data-plane scope (token audience ``https://dynamicsessions.io``).
DEFAULT_SCOPE = "https://dynamicsessions.io/.default"
#: Refresh a cached token this many seconds before it expires.
REFRESH_MARGIN_SECONDS = 300.0


@runtime_checkable
class TokenProvider(Protocol):
    """Supplies the bearer token for each request (``None`` sends no Authorization)."""

    async def get_token(self) -> str | None:
        """The current token, or ``None`` for unauthenticated requests."""
        ...

    async def aclose(self) -> None:
        """Release resources (credentials, their HTTP sessions)."""
        ...


class NoAuth:
    """No Authorization header: for an emulator started without ``--token``."""

    async def get_token(self) -> str | None:
        """Always ``None``."""
        return None

    async def aclose(self) -> None:
        """Nothing to release."""

    def __repr__(self) -> str:
        return "NoAuth()"


class StaticTokenAuth:
    """A fixed bearer token: for the local emulator started with ``--token``."""

    def __init__(self, token: str | SecretStr) -> None:
        secret = token if isinstance(token, SecretStr) else SecretStr(token)
        if not secret.get_secret_value():
            raise ValueError("StaticTokenAuth needs a non-empty token")
        self._token = secret

    async def get_token(self) -> str | None:
        """The configured token."""
        return self._token.get_secret_value()

    async def aclose(self) -> None:
        """Nothing to release."""

    def __repr__(self) -> str:
        return "StaticTokenAuth(token='**********')"


class AzureIdentityAuth:
    """Tokens from an ``azure.identity.aio`` credential, cached until near expiry.

    One refresh at a time (an ``asyncio.Lock``), so concurrent requests share a
    single token call. The provider owns the credential: ``aclose()`` closes it.
    """

    def __init__(
        self,
        credential: Any,
        scope: str = DEFAULT_SCOPE,
        *,
        refresh_margin_seconds: float = REFRESH_MARGIN_SECONDS,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._credential = credential
        self._scope = scope
        self._margin = refresh_margin_seconds
        self._clock = clock
        self._token: str | None = None
        self._expires_on = 0.0
        self._lock = asyncio.Lock()

    def _fresh(self) -> bool:
        return self._token is not None and self._clock() < self._expires_on - self._margin

    async def get_token(self) -> str | None:
        """A cached token, refreshed when it is within the margin of ``expires_on``."""
        if self._fresh():
            return self._token
        async with self._lock:
            if self._fresh():  # another task refreshed while we waited
                return self._token
            try:
                access = await self._credential.get_token(self._scope)
            except Exception as exc:  # azure-identity raises several unrelated types
                raise SessionCredentialError(
                    f"could not get a token for {self._scope} from "
                    f"{type(self._credential).__name__}: {type(exc).__name__}: {exc}"
                ) from exc
            self._token = access.token
            self._expires_on = float(access.expires_on)
            logger.debug("session_client: token refreshed, expires_on=%d", access.expires_on)
            return self._token

    async def aclose(self) -> None:
        """Close the credential (it holds an HTTP session)."""
        close = getattr(self._credential, "close", None)
        if close is not None:
            await close()

    def __repr__(self) -> str:
        kind = type(self._credential).__name__
        return f"AzureIdentityAuth(credential={kind}, scope={self._scope!r})"


def auth_from_settings(settings: SessionSettings) -> TokenProvider:
    """The provider for ``settings.auth_mode`` (managed-identity, static-token or none)."""
    mode = settings.auth_mode
    if mode == "none":
        return NoAuth()
    if mode == "static-token":
        if settings.static_token is None:
            raise ValueError("auth_mode static-token needs static_token")
        return StaticTokenAuth(settings.static_token)
    if mode == "managed-identity":
        from azure.identity.aio import DefaultAzureCredential, ManagedIdentityCredential

        from settings import TOKEN_SCOPE

        credential: Any
        if settings.managed_identity_client_id:
            credential = ManagedIdentityCredential(client_id=settings.managed_identity_client_id)
        else:
            credential = DefaultAzureCredential()
        return AzureIdentityAuth(credential, TOKEN_SCOPE)
    raise ValueError(f"unknown auth_mode {mode!r}")
