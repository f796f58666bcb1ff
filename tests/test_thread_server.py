"""The in-process server helper: serves, reports a failed start, frees its port."""

from __future__ import annotations

import socket

import httpx
import pytest
from starlette.applications import Starlette
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from thread_server import ThreadServerError, bind, serve_in_thread


def _app() -> Starlette:
    return Starlette(routes=[Route("/", lambda request: PlainTextResponse("ok"))])


def test_serves_on_a_free_port_and_releases_it() -> None:
    with serve_in_thread(_app(), name="t") as port:
        assert httpx.get(f"http://127.0.0.1:{port}/").text == "ok"
    with socket.socket() as probe:
        assert probe.connect_ex(("127.0.0.1", port)) != 0


def test_a_failing_start_is_reported_not_hung() -> None:
    async def lifespan(app: Starlette):
        raise RuntimeError("boom")
        yield  # pragma: no cover

    app = Starlette(lifespan=lifespan)
    with (
        pytest.raises(ThreadServerError, match="exited during start-up"),
        serve_in_thread(app, name="broken", log_level="critical"),
    ):
        pass


def test_a_taken_port_is_a_clear_error() -> None:
    sock = bind("127.0.0.1", 0)
    sock.listen()
    try:
        with pytest.raises(ThreadServerError, match="cannot bind"):
            bind("127.0.0.1", sock.getsockname()[1])
    finally:
        sock.close()
