"""What a client can make our servers hold: request heads, bodies and connections are bounded.

Each test attacks a real server on a real socket: a slowloris head, an oversized head, a
declared and an undeclared (chunked) body over the limit, a body that stalls.
"""

from __future__ import annotations

import contextlib
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from e2e_support import make_stack
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route

import thread_server
from local_runtime.bounds import BODY_LIMIT_SETTING, RequestBounds, max_body_bytes
from thread_server import serve_in_thread


async def _echo_length(request: Request) -> PlainTextResponse:
    return PlainTextResponse(str(len(await request.body())))


def _bounded_app(*, max_body: int = 1024, body_timeout: float = 30.0) -> RequestBounds:
    app = Starlette(routes=[Route("/", _echo_length, methods=["POST"])])
    return RequestBounds(app, max_body_bytes=max_body, body_timeout=body_timeout)


@pytest.fixture
def port() -> Iterator[int]:
    with serve_in_thread(_bounded_app(body_timeout=0.5), name="bounds") as port:
        yield port


def _connect(port: int) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", port), timeout=10)
    return sock


def _read_all(sock: socket.socket) -> bytes:
    chunks = []
    while chunk := sock.recv(65536):
        chunks.append(chunk)
    return b"".join(chunks)


def test_a_body_within_the_limit_is_served(port: int) -> None:
    response = httpx.post(f"http://127.0.0.1:{port}/", content=b"x" * 1024)
    assert response.status_code == 200 and response.text == "1024"


def test_a_declared_body_over_the_limit_is_refused_before_it_is_read(port: int) -> None:
    with _connect(port) as sock:
        # Only the head is sent: the answer must come without waiting for 10 MB.
        sock.sendall(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 10000000\r\n\r\n")
        reply = _read_all(sock)
    assert reply.startswith(b"HTTP/1.1 413")
    assert b"application/problem+json" in reply and BODY_LIMIT_SETTING.encode() in reply


def test_a_chunked_body_growing_past_the_limit_is_cut_off(port: int) -> None:
    def chunks() -> Iterator[bytes]:
        for _ in range(100):
            yield b"y" * 512

    response = httpx.post(f"http://127.0.0.1:{port}/", content=chunks())
    assert response.status_code == 413
    assert response.headers["content-type"] == "application/problem+json"


def test_a_stalled_body_is_answered_408(port: int) -> None:
    with _connect(port) as sock:
        sock.sendall(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\nabc")
        started = time.monotonic()
        reply = _read_all(sock)
    assert reply.startswith(b"HTTP/1.1 408")
    assert time.monotonic() - started < 5


def test_a_slowloris_head_is_closed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(thread_server, "HEADER_TIMEOUT_SECONDS", 0.5)
    with serve_in_thread(_bounded_app(), name="slowloris") as port, _connect(port) as sock:
        sock.sendall(b"POST / HTTP/1.1\r\nHost: x\r\n")
        started = time.monotonic()
        closed = False
        while time.monotonic() - started < 5:  # keeps trickling header bytes
            try:
                sock.sendall(b"X")
                if sock.recv(1, socket.MSG_DONTWAIT) == b"":
                    closed = True
                    break
            except BlockingIOError:
                pass
            except OSError:
                closed = True
                break
            time.sleep(0.05)
    assert closed, "a head trickled a byte at a time held its connection open"


def test_a_connection_that_finished_a_request_gets_a_fresh_deadline(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(thread_server, "HEADER_TIMEOUT_SECONDS", 0.5)
    with (
        serve_in_thread(_bounded_app(), name="keepalive") as port,
        httpx.Client(base_url=f"http://127.0.0.1:{port}") as client,
    ):
        for _ in range(3):  # keep-alive requests spanning more than one deadline all work
            assert client.post("/", content=b"ok").text == "2"
            time.sleep(0.3)


def test_an_oversized_head_is_refused(port: int) -> None:
    with _connect(port) as sock:
        head = b"POST / HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * (128 * 1024) + b"\r\n\r\n"
        # The server may close before the whole head is written.
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            sock.sendall(head)
        try:
            reply = _read_all(sock)
        except ConnectionResetError:
            reply = b""
    assert not reply.startswith(b"HTTP/1.1 2")


def test_the_limit_follows_the_azure_setting() -> None:
    assert max_body_bytes({BODY_LIMIT_SETTING: "2048"}) == 2048
    assert max_body_bytes({BODY_LIMIT_SETTING: "nonsense"}) == max_body_bytes({})


@pytest.mark.e2e
def test_the_stack_refuses_an_oversized_submission_before_auth(tmp_path: Path) -> None:
    runtime_env = {BODY_LIMIT_SETTING: "4096"}
    with make_stack(tmp_path, runtime_env=runtime_env) as stack:
        port = int(stack.base_url.rsplit(":", 1)[1])
        with _connect(port) as sock:  # no key, and no body: refused on the declared length
            sock.sendall(b"POST /api/workflows HTTP/1.1\r\nHost: x\r\nContent-Length: 5000\r\n\r\n")
            reply = _read_all(sock)
        small = httpx.post(f"{stack.base_url}/api/workflows", json={"workflowCode": ""})
    assert reply.startswith(b"HTTP/1.1 413"), reply[:200]
    assert small.status_code == 401  # under the limit, auth answers as before
