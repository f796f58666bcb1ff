"""Serve an ASGI app under uvicorn: in a background thread (tests, benchmarks) or as a process.

The session emulator, the local Functions host and the model server all need the
same lifecycle in-process: bind (port 0 = any free port), start, wait until
uvicorn says it started, yield the port, stop and join. One implementation keeps
the details right in one place: the socket is created with ``IPPROTO_TCP`` so
asyncio sets ``TCP_NODELAY`` on accepted connections (else each small response
can wait ~40 ms for a delayed ACK), and a server that fails to start or stop is
reported instead of hanging.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import sys
import threading
import time
from collections.abc import Iterator
from typing import Any

import uvicorn
from uvicorn.protocols.http.h11_impl import H11Protocol

STARTUP_TIMEOUT_SECONDS = 15.0
SHUTDOWN_TIMEOUT_SECONDS = 15.0
#: A connection must deliver a request's complete head within this time (slowloris guard).
HEADER_TIMEOUT_SECONDS = 10.0
#: Connections (and in-flight requests) served at once; beyond it uvicorn answers 503.
MAX_CONNECTIONS = 256
#: Largest request head (request line + headers) accepted.
MAX_HEAD_BYTES = 64 * 1024


class BoundedH11Protocol(H11Protocol):
    """uvicorn's h11 protocol with a deadline for each request head.

    uvicorn times out idle keep-alive connections but not a client that sends a request
    line and then headers a byte at a time: each such connection would stay open for
    ever. Here a connection that has not completed a request head within
    ``HEADER_TIMEOUT_SECONDS`` (from its opening, or from the end of its previous
    response) is closed.
    """

    _head_timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm_head_timer()

    def handle_events(self) -> None:
        super().handle_events()
        if self.cycle is not None and self._head_timer is not None:  # a request has begun
            self._head_timer.cancel()
            self._head_timer = None

    def on_response_complete(self) -> None:
        super().on_response_complete()
        self._arm_head_timer()  # the next request on this connection gets a deadline too

    def connection_lost(self, exc: Exception | None) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None
        super().connection_lost(exc)

    def _arm_head_timer(self) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
        self._head_timer = self.loop.call_later(HEADER_TIMEOUT_SECONDS, self._head_timed_out)

    def _head_timed_out(self) -> None:
        self._head_timer = None
        in_request = self.cycle is not None and not self.cycle.response_complete
        if not in_request and not self.transport.is_closing():
            self.transport.close()


#: uvicorn settings every server here runs with (bounded heads, connections).
BOUNDED = {
    "http": BoundedH11Protocol,
    "limit_concurrency": MAX_CONNECTIONS,
    "h11_max_incomplete_event_size": MAX_HEAD_BYTES,
}


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
        uvicorn.Config(
            app, lifespan=lifespan, log_level=log_level, access_log=False, **(BOUNDED | config)
        )
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


# --- serving in a child process of devstack ----------------------------------------------------

#: devstack passes its pid: the child stops (SIGTERM) when that process dies.
PARENT_PID_ENV = "ARO_PARENT_PID"
#: devstack passes the write end of a pipe: the child writes one line once it serves.
READY_FD_ENV = "ARO_READY_FD"
_PR_SET_PDEATHSIG = 1


def follow_parent() -> None:
    """Stop when the process named by ``ARO_PARENT_PID`` dies (Linux parent-death signal).

    ``make run`` starts the emulator and the host in sessions of their own, so a SIGKILL of
    ``make run`` would leave them serving (and holding the state dir and the ports). With
    the parent-death signal the kernel sends them SIGTERM instead, and they shut down.
    """
    expected = os.environ.get(PARENT_PID_ENV)
    if not expected or not sys.platform.startswith("linux"):
        return
    import ctypes

    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0) != 0:
        return
    if os.getppid() != int(expected):  # the parent died before the signal was armed
        raise SystemExit("the parent process is gone: not starting")


class _ReadyServer(uvicorn.Server):
    """A uvicorn server that reports on a pipe once it has started (startup complete)."""

    def __init__(self, config: uvicorn.Config, ready_fd: int | None) -> None:
        super().__init__(config)
        self._ready_fd = ready_fd

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets=sockets)
        if self.started and self._ready_fd is not None:
            with contextlib.suppress(OSError):
                os.write(self._ready_fd, f"ready {os.getpid()}\n".encode())
                os.close(self._ready_fd)
            self._ready_fd = None


def serve_process(app: Any, *, sock: socket.socket, log_level: str = "warning", **config: Any):
    """Serve ``app`` in this process on the already bound ``sock`` until SIGINT/SIGTERM.

    Binding first (see :func:`bind`) means a port taken by another server fails the start
    before any stored work is touched; the ready line on ``ARO_READY_FD`` tells devstack
    that this process, not some other one on the port, answers.
    """
    ready = os.environ.pop(READY_FD_ENV, None)
    server = _ReadyServer(
        uvicorn.Config(app, log_level=log_level, lifespan="on", **(BOUNDED | config)),
        int(ready) if ready else None,
    )
    server.run(sockets=[sock])
