"""Fixtures: a running model server and an OpenAI/Agents SDK environment pointed at it.

The Agents SDK keeps process-wide state that would leak between tests: a shared
httpx client (bound to the event loop of the test that created it), an optional
default client and key, and the tracing switch read once from the environment.
``openai_env`` resets all of it, so every test builds a fresh ``AsyncOpenAI`` from
the environment exactly as an exported workflow does in a fresh process.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import agents
import pytest
from agents.models import _openai_shared, openai_provider
from guardrails.checks.text import moderation as guardrails_moderation

from model_server import ModelServer, run_model_server

_CLEARED_ENV = ("OPENAI_BASE_URL", "OPENAI_ORG_ID", "OPENAI_PROJECT_ID", "OPENAI_CUSTOM_HEADERS")


@pytest.fixture
async def openai_env(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[None]:
    """A test key, tracing off, and no SDK client cached from an earlier test."""
    for name in _CLEARED_ENV:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("OPENAI_API_KEY", "test-key")
    monkeypatch.setenv("OPENAI_AGENTS_DISABLE_TRACING", "1")
    # The env flag is read once per process; force it so no trace ever leaves the machine.
    agents.set_tracing_disabled(True)
    monkeypatch.setattr(openai_provider, "_http_client", None)
    monkeypatch.setattr(_openai_shared, "_default_openai_client", None)
    monkeypatch.setattr(_openai_shared, "_default_openai_key", None)
    guardrails_moderation._get_moderation_client.cache_clear()
    yield
    shared = openai_provider._http_client
    if shared is not None:
        await shared.aclose()
    guardrails_moderation._get_moderation_client.cache_clear()


@pytest.fixture(scope="module")
def _running_server() -> Iterator[ModelServer]:
    # One server per module: stopping uvicorn costs ~0.2 s, the per-test reset below is free.
    with run_model_server() as server:
        yield server


@pytest.fixture
def model_server(
    _running_server: ModelServer, openai_env: None, monkeypatch: pytest.MonkeyPatch
) -> ModelServer:
    """The server with an empty log and no script (``set_script`` it); OPENAI_BASE_URL on it."""
    _running_server.set_script([])
    _running_server.recorder.clear()
    monkeypatch.setenv("OPENAI_BASE_URL", _running_server.base_url)
    return _running_server
