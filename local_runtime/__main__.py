"""`python -m local_runtime`: serve a Functions app like `func start`, with a local durable engine.

Order matters: local.settings.json `Values` go into the environment before the app is
imported, as Core Tools does. The key settings (`LocalRuntime__FunctionKeys`,
`LocalRuntime__MasterKey`, `LocalRuntime__AllowAnonymous`) are read from there too.

Before serving, the app must pass the verdict of Azure's Python worker (`loader.load_app`):
on Python 3.13 with `azure-functions-runtime` the worker itself serves every invocation;
elsewhere it indexes the app from `.venv-worker` (or `--worker-python`) when that exists,
else its load rules are applied. A function Azure would refuse stops the host here, with the
function named.
"""

from __future__ import annotations

import argparse
import logging
import sys

from local_runtime.config import (
    DEFAULT_DB_PATH,
    DEFAULT_HOST,
    DEFAULT_PORT,
    RuntimeConfig,
    read_auth_config,
    read_host_json,
)
from local_runtime.errors import LocalRuntimeError
from local_runtime.http_host import build_asgi_app
from local_runtime.loader import LoadedApp, load_app
from local_runtime.runtime import LocalRuntime
from local_runtime.settings_file import apply_local_settings
from thread_server import ThreadServerError, bind, follow_parent, serve_process


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """The CLI options (same defaults as `func start`)."""
    parser = argparse.ArgumentParser(
        prog="python -m local_runtime",
        description="Serve an Azure Functions Python v2 app with a local Durable engine.",
    )
    parser.add_argument("--app", default="function_app:app", help="module:attribute")
    parser.add_argument("--app-dir", default=".", help="directory put on sys.path")
    parser.add_argument("--host", default=DEFAULT_HOST)
    parser.add_argument("--port", type=int, default=DEFAULT_PORT)
    parser.add_argument("--db", default=DEFAULT_DB_PATH, help="SQLite file for durable state")
    parser.add_argument("--settings", default="local.settings.json")
    parser.add_argument("--host-json", default="host.json")
    parser.add_argument("--log-level", default="info")
    parser.add_argument(
        "--worker-python",
        default=None,
        help="Python 3.13 with azure-functions-runtime that indexes the app first "
        "(default: this Python if it can, else .venv-worker's, else the worker's rules)",
    )
    parser.add_argument(
        "--no-worker",
        action="store_true",
        help="check the app with the worker's load rules in-process, not the worker itself",
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    """Run the server until interrupted."""
    args = parse_args(argv)
    logging.basicConfig(
        level=args.log_level.upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    log = logging.getLogger("local_runtime")
    follow_parent()
    try:  # the port first: a second host must not open the durable store
        sock = bind(args.host, args.port)
    except ThreadServerError as exc:
        print(f"local_runtime: {exc}", file=sys.stderr)
        return 3
    try:
        applied = apply_local_settings(args.settings)
        log.info("applied %d setting(s) from %s", len(applied), args.settings)
        options = read_host_json(args.host_json)
        loaded = load_app(
            args.app,
            app_dir=args.app_dir,
            use_worker=not args.no_worker,
            worker_python=args.worker_python,
        )
        log.info("%d function(s), loaded by %s", _count(loaded), loaded.judge)
        config = RuntimeConfig(
            host=args.host,
            port=args.port,
            db_path=args.db,
            options=options,
            auth=read_auth_config(),
        )
        runtime = LocalRuntime(config=config, invoker=loaded.invoker)
    except LocalRuntimeError as exc:
        print(f"local_runtime: {exc}", file=sys.stderr)
        return 2
    serve_process(build_asgi_app(runtime), sock=sock)
    return 0


def _count(loaded: LoadedApp) -> int:
    index = loaded.invoker.index
    return len(index.http) + len(index.activities) + len(index.orchestrators) + len(index.other)


if __name__ == "__main__":
    sys.exit(main())
