"""Serve an ASGI app under uvicorn in a background thread, for tests and benchmarks.

The session emulator, the local Functions host and the model server all need the
same lifecycle in-process: bind (port 0 = any free port), start, wait until
uvicorn says it started, yield the port, stop and join. One implementation keeps
the details right in one place: the socket is created with ``IPPROTO_TCP`` so
asyncio sets ``TCP_NODELAY`` on accepted connections (else each small response
can wait ~40 ms for a delayed ACK), and a server that fails to start or stop is
reported instead of hanging.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import uvicorn

STARTUP_TIMEOUT_SECONDS = 15.0
SHUTDOWN_TIMEOUT_SECONDS = 15.0


class ThreadServerError(RuntimeError):
    """The server could not bind, did not start, or did not stop in time."""


def bind(host: str, port: int) -> socket.socket:
    """A bound TCP socket (IPv6 when ``host`` has a colon) ready for uvicorn."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise ThreadServerError(f"cannot bind {host}:{port}: {exc}") from exc
    return sock


@contextlib.contextmanager
def serve_in_thread(
    app: Any,
    *,
    host: str = "127.0.0.1",
    port: int = 0,
    name: str = "asgi-server",
    lifespan: str = "on",
    log_level: str = "warning",
    startup_timeout: float = STARTUP_TIMEOUT_SECONDS,
    sock: socket.socket | None = None,
    **config: Any,
) -> Iterator[int]:
    """Serve ``app`` until the block ends; yields the bound port.

    ``sock`` is a socket from :func:`bind` for callers that need the port before the
    app exists; it is closed at the end. Extra keyword arguments go to
    ``uvicorn.Config`` (e.g. ``log_config=None``).
    """
    sock = sock or bind(host, port)
    server = uvicorn.Server(
        uvicorn.Config(app, lifespan=lifespan, log_level=log_level, access_log=False, **config)
    )
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, name=name, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + startup_timeout
        while not server.started:
            if not thread.is_alive():
                raise ThreadServerError(f"{name} exited during start-up (see the log for why)")
            if time.monotonic() > deadline:
                raise ThreadServerError(f"{name} did not start within {startup_timeout} s")
            time.sleep(0.01)
        yield sock.getsockname()[1]
    finally:
        server.should_exit = True
        thread.join(SHUTDOWN_TIMEOUT_SECONDS)
        sock.close()
    if thread.is_alive():
        raise ThreadServerError(f"{name} did not stop within {SHUTDOWN_TIMEOUT_SECONDS} s")
