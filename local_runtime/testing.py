"""Run the local runtime in-process on a free port, for tests and benchmarks.

with run_local_runtime(app="scenarios_app:app", app_dir="tests/...", db_path=tmp) as rt:
    httpx.post(f"{rt.base_url}/api/orchestrators/o_hello", json="World")
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from local_runtime.auth import AuthConfig
from local_runtime.config import HostOptions, RuntimeConfig, read_auth_config, read_host_json
from local_runtime.http_host import build_asgi_app
from local_runtime.invocation import Callers
from local_runtime.loader import import_app
from local_runtime.runtime import LocalRuntime
from local_runtime.settings_file import apply_local_settings
from thread_server import bind, serve_in_thread


@dataclass(frozen=True)
class RunningRuntime:
    """A started runtime: where it listens and the runtime object (store, index)."""

    base_url: str
    runtime: LocalRuntime

    @property
    def api_url(self) -> str:
        """Base URL of the HTTP functions (`<base_url>/<routePrefix>`)."""
        prefix = self.runtime.config.options.route_prefix.strip("/")
        return f"{self.base_url}/{prefix}" if prefix else self.base_url


@contextlib.contextmanager
def run_local_runtime(
    *,
    app: Any = None,
    db_path: str | Path,
    app_dir: str | Path | None = None,
    host: str = "127.0.0.1",
    port: int = 0,
    host_json: str | Path | None = None,
    settings_file: str | Path | None = None,
    options: HostOptions | None = None,
    auth: AuthConfig | None = None,
    invoker: Callers | None = None,
) -> Iterator[RunningRuntime]:
    """Serve `app` (an object or `module:attr`) in a background thread until the block ends.

    `port=0` picks a free port. `settings_file` is applied to os.environ (without
    overriding) before the app is imported; `options` overrides `host_json`. `auth=None`
    reads the key settings from the environment, as the CLI does (no keys and no
    `LocalRuntime__AllowAnonymous=true` → only anonymous functions answer). `invoker`
    serves the functions instead of `app` (e.g. a `WorkerInvoker`: Azure's worker).
    """
    if settings_file is not None:
        apply_local_settings(settings_file)
    if isinstance(app, str) and invoker is None:
        app = import_app(app, app_dir=app_dir)
    sock = bind(host, port)  # bound first: the runtime's config needs the port
    port = sock.getsockname()[1]
    config = RuntimeConfig(
        host=host,
        port=port,
        db_path=str(db_path),
        options=options or read_host_json(host_json),
        auth=auth if auth is not None else read_auth_config(),
    )
    runtime = LocalRuntime(app=app, config=config, invoker=invoker)
    with serve_in_thread(build_asgi_app(runtime), sock=sock, name="local-runtime"):
        yield RunningRuntime(base_url=config.base_url, runtime=runtime)
