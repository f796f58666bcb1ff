"""Run the app on a real loopback port in a background thread, for tests and manual use."""

from __future__ import annotations

import contextlib
import ipaddress
import socket
import threading
import time
from collections.abc import Iterator, Sequence

import uvicorn

from .app import DEFAULT_MODELS, ServerState, create_app
from .recorder import Recorder
from .requests import ModelRequest
from .scripts import Script

LOOPBACK = "127.0.0.1"
STARTUP_TIMEOUT_SECONDS = 10.0
SHUTDOWN_TIMEOUT_SECONDS = 10.0


class ModelServerError(RuntimeError):
    """The model server could not start or stop."""


class ModelServer:
    """A running server: its URL, its recorded requests, and a swappable script."""

    def __init__(self, *, state: ServerState, host: str, port: int) -> None:
        self._state = state
        self.host = host
        self.port = port

    @property
    def url(self) -> str:
        """``http://127.0.0.1:PORT`` (no path)."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    @property
    def base_url(self) -> str:
        """The value for ``OPENAI_BASE_URL``: ``http://127.0.0.1:PORT/v1``."""
        return f"{self.url}/v1"

    @property
    def recorder(self) -> Recorder:
        """The request log."""
        return self._state.recorder

    @property
    def requests(self) -> list[ModelRequest]:
        """Every request received so far, oldest first."""
        return self._state.recorder.requests

    def requests_to(self, endpoint: str) -> list[ModelRequest]:
        """Requests to one endpoint: ``"responses"``, ``"chat/completions"``, ``"moderations"``."""
        return self._state.recorder.to(endpoint)

    def set_script(self, script: Script) -> None:
        """Answer the next requests from another script."""
        self._state.set_script(script)

    def __str__(self) -> str:
        return self.base_url


@contextlib.contextmanager
def run_model_server(
    *,
    script: Script = None,
    host: str = LOOPBACK,
    port: int = 0,
    models: Sequence[str] = DEFAULT_MODELS,
    log_level: str = "warning",
) -> Iterator[ModelServer]:
    """Serve the fake OpenAI API on 127.0.0.1 (a free port by default) while the block runs.

    Usage::

        with run_model_server(script=[text("hi")]) as server:
            os.environ["OPENAI_BASE_URL"] = server.base_url
            ...
            assert server.requests_to("responses")[0].instructions == "..."
    """
    host = loopback_host(host)
    state = ServerState(script=script, models=models)
    sock = _bind(host, port)
    config = uvicorn.Config(
        create_app(state), log_level=log_level, log_config=None, lifespan="off", access_log=False
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(
        target=server.run, kwargs={"sockets": [sock]}, name="model-server", daemon=True
    )
    thread.start()
    try:
        _wait_started(server, thread)
        yield ModelServer(state=state, host=host, port=sock.getsockname()[1])
    finally:
        server.should_exit = True
        thread.join(SHUTDOWN_TIMEOUT_SECONDS)
        sock.close()
        if thread.is_alive():
            raise ModelServerError("model server did not stop within 10 seconds")


def loopback_host(host: str) -> str:
    """``host`` as a loopback IP address (``localhost`` is 127.0.0.1); anything else is refused."""
    if host == "localhost":
        return LOOPBACK
    try:
        loopback = ipaddress.ip_address(host).is_loopback
    except ValueError:  # a host name: it could resolve anywhere
        loopback = False
    if not loopback:
        raise ModelServerError(f"refusing to bind {host}: the model server binds loopback only")
    return host


def _bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise ModelServerError(f"cannot bind {host}:{port}: {exc}") from exc
    return sock


def _wait_started(server: uvicorn.Server, thread: threading.Thread) -> None:
    deadline = time.monotonic() + STARTUP_TIMEOUT_SECONDS
    while not server.started:
        if not thread.is_alive():
            raise ModelServerError("model server thread exited during startup")
        if time.monotonic() > deadline:
            server.should_exit = True
            raise ModelServerError("model server did not start within 10 seconds")
        time.sleep(0.01)
