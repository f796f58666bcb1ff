"""One ``AzureSessionClient`` per process and event loop, created lazily from settings.

An httpx client is bound to the loop it first ran on, so the cache is keyed by
the running loop. Tests swap the factory with :func:`set_client_factory`.
"""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import Callable
from typing import Any

from settings import SessionSettings

ClientFactory = Callable[[SessionSettings], Any]


def _default_factory(settings: SessionSettings) -> Any:
    from session_client import AzureSessionClient

    return AzureSessionClient.from_settings(settings)


_factory: ClientFactory = _default_factory
_clients: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, Any] = weakref.WeakKeyDictionary()


def set_client_factory(factory: ClientFactory | None) -> None:
    """Use ``factory(settings)`` to build clients (``None`` restores the real one)."""
    global _factory
    _factory = factory or _default_factory
    _clients.clear()


def get_client(settings: SessionSettings) -> Any:
    """The session client of the running event loop, built on first use."""
    loop = asyncio.get_running_loop()
    client = _clients.get(loop)
    if client is None:
        client = _factory(settings)
        _clients[loop] = client
    return client
