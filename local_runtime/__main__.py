"""`python -m local_runtime`: serve a Functions app like `func start`, with a local durable engine.

Order matters: local.settings.json `Values` go into the environment before the app is
imported, as Core Tools does. The key settings (`LocalRuntime__FunctionKeys`,
`LocalRuntime__MasterKey`, `LocalRuntime__AllowAnonymous`) are read from there too.
"""

from __future__ import annotations

import argparse
import logging
import sys

import uvicorn

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
from local_runtime.loader import import_app
from local_runtime.runtime import LocalRuntime
from local_runtime.settings_file import apply_local_settings


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
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    """Run the server until interrupted."""
    args = parse_args(argv)
    logging.basicConfig(
        level=args.log_level.upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    log = logging.getLogger("local_runtime")
    try:
        applied = apply_local_settings(args.settings)
        log.info("applied %d setting(s) from %s", len(applied), args.settings)
        options = read_host_json(args.host_json)
        app = import_app(args.app, app_dir=args.app_dir)
        config = RuntimeConfig(
            host=args.host,
            port=args.port,
            db_path=args.db,
            options=options,
            auth=read_auth_config(),
        )
        runtime = LocalRuntime(app=app, config=config)
    except LocalRuntimeError as exc:
        print(f"local_runtime: {exc}", file=sys.stderr)
        return 2
    uvicorn.run(
        build_asgi_app(runtime),
        host=args.host,
        port=args.port,
        log_level="warning",
        lifespan="on",
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
