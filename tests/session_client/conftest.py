"""Fixtures: a respx router behind ``httpx.MockTransport`` and a client with instant sleeps."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import pytest
import respx
from session_client_support import ENDPOINT, SleepRecorder, make_client

from session_client import AzureSessionClient


@pytest.fixture
def identifier() -> str:
    """A unique session identifier per test."""
    return f"sess-{uuid.uuid4().hex}"


@pytest.fixture
def token() -> str:
    """A unique bearer token per test."""
    return f"tok-{uuid.uuid4().hex}"


@pytest.fixture
def router() -> respx.Router:
    """Routes relative to the pool endpoint; unmatched requests fail the test."""
    return respx.Router(base_url=ENDPOINT, assert_all_mocked=True)


@pytest.fixture
def sleeps() -> SleepRecorder:
    """The delays the client asked to sleep between retries."""
    return SleepRecorder()


@pytest.fixture
async def client(
    router: respx.Router, sleeps: SleepRecorder, token: str
) -> AsyncIterator[AzureSessionClient]:
    """A client with a static token, 4 retries and instant sleeps."""
    async with make_client(router, sleeps, token=token) as c:
        yield c
