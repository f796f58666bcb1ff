"""Run the app on a real loopback port in a background thread, for tests and manual use."""

from __future__ import annotations

import contextlib
import ipaddress
from collections.abc import Iterator, Sequence

from thread_server import ThreadServerError, serve_in_thread

from .app import DEFAULT_MODELS, ServerState, create_app
from .recorder import Recorder
from .requests import ModelRequest
from .scripts import Script

LOOPBACK = "127.0.0.1"


class ModelServerError(ThreadServerError):
    """The model server refused its address, or could not start or stop."""


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
    with serve_in_thread(
        create_app(state),
        host=host,
        port=port,
        name="model-server",
        lifespan="off",
        log_level=log_level,
        log_config=None,
    ) as bound:
        yield ModelServer(state=state, host=host, port=bound)


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
