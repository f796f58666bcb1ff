"""Run the emulator in-process on a free port (uvicorn in a background thread) for tests."""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Iterator

import uvicorn

from .app import create_app
from .config import EmulatorConfig
from .sandbox import InterpreterInfo, Isolation

STARTUP_TIMEOUT_SECONDS = 30.0


class EmulatorStartError(RuntimeError):
    """The in-process server did not come up (see the log for why)."""


@contextlib.contextmanager
def run_emulator(
    config: EmulatorConfig | None = None,
    *,
    isolation: tuple[Isolation, InterpreterInfo] | None = None,
) -> Iterator[str]:
    """Serve ``config`` on 127.0.0.1 (port 0 = any free port); yields the pool endpoint URL."""
    config = config or EmulatorConfig(port=0)
    app = create_app(config, isolation=isolation)
    server = uvicorn.Server(
        uvicorn.Config(
            app,
            host=config.host,
            port=config.port,
            log_level="warning",
            lifespan="on",
            access_log=False,
        )
    )
    thread = threading.Thread(target=server.run, name="session-emulator", daemon=True)
    thread.start()
    deadline = time.monotonic() + STARTUP_TIMEOUT_SECONDS
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            server.should_exit = True
            raise EmulatorStartError("the session emulator did not start")
        time.sleep(0.01)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://{config.host}:{port}{config.pool_prefix}"
    finally:
        server.should_exit = True
        thread.join(timeout=15)
