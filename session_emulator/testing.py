"""Run the emulator in-process on a free port (uvicorn in a background thread) for tests."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from thread_server import serve_in_thread

from .app import create_app
from .config import EmulatorConfig
from .sandbox import InterpreterInfo, Isolation

#: Probing the sandbox at start-up can take a while on a loaded machine.
STARTUP_TIMEOUT_SECONDS = 30.0


@contextlib.contextmanager
def run_emulator(
    config: EmulatorConfig | None = None,
    *,
    isolation: tuple[Isolation, InterpreterInfo] | None = None,
) -> Iterator[str]:
    """Serve ``config`` on 127.0.0.1 (port 0 = any free port); yields the pool endpoint URL."""
    config = config or EmulatorConfig(port=0)
    app = create_app(config, isolation=isolation)
    with serve_in_thread(
        app,
        host=config.host,
        port=config.port,
        name="session-emulator",
        startup_timeout=STARTUP_TIMEOUT_SECONDS,
    ) as port:
        yield f"http://{config.host}:{port}{config.pool_prefix}"
