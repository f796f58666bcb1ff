"""With nothing listening at OPENAI_BASE_URL an export fails fast with APIConnectionError.

The openai client retries a refused connection twice (``DEFAULT_MAX_RETRIES = 2``,
backoff 0.5 s then 1 s, minus up to 25 % jitter), so the run fails after about
1.1-1.5 s. There is no ``OPENAI_MAX_RETRIES`` variable; a runner preamble can
install a default client with ``max_retries=0`` instead, and then it fails in ms.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator

import agents
import openai
import pytest

from tests.support.fixture_scripts import fixture_path
from tests.support.workflows import load_workflow


@pytest.fixture
def closed_port_url(openai_env: None, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """OPENAI_BASE_URL on a loopback port that is bound but not listening (refuses at once)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{sock.getsockname()[1]}/v1"
        monkeypatch.setenv("OPENAI_BASE_URL", url)
        yield url


async def _run_weather() -> None:
    module = load_workflow(fixture_path("ghidx_weather_function_tool.py"))
    await module.run_workflow(module.WorkflowInput(input_as_text="Paris?"))


async def test_unreachable_server_fails_after_the_default_retries(closed_port_url: str) -> None:
    started = time.monotonic()

    with pytest.raises(openai.APIConnectionError):
        await _run_weather()

    elapsed = time.monotonic() - started
    # Two backoff sleeps of at least 0.375 s and 0.75 s, and nowhere near a hang.
    assert 1.1 <= elapsed < 5.0


async def test_unreachable_server_fails_at_once_without_retries(closed_port_url: str) -> None:
    async with openai.AsyncOpenAI(max_retries=0) as client:
        agents.set_default_openai_client(client)
        started = time.monotonic()

        with pytest.raises(openai.APIConnectionError):
            await _run_weather()

        assert time.monotonic() - started < 0.5
