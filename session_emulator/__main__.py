"""CLI: ``session-emulator --port 8081 ...`` (or ``python -m session_emulator``)."""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from pydantic import ValidationError

from thread_server import ThreadServerError, bind, follow_parent, serve_process

from .app import create_app
from .config import (
    DEFAULT_COOLDOWN_SECONDS,
    DEFAULT_DATA_DIR,
    DEFAULT_MAX_SESSIONS,
    DEFAULT_MAX_UPLOAD_BYTES,
    DEFAULT_POOL_PREFIX,
    EmulatorConfig,
    ResourceLimits,
)
from .sandbox import SandboxUnavailable, select_isolation

#: Environment the CLI reads: default egress policy (``none`` or ``all``) and the bearer
#: token (an argument would show in ``ps`` to every local user).
EGRESS_ENV = "SESSION_EGRESS"
TOKEN_ENV = "SESSION_EMULATOR_TOKEN"


def _parser() -> argparse.ArgumentParser:
    egress = os.environ.get(EGRESS_ENV, "none").strip().lower()
    if egress not in ("none", "all"):
        raise SystemExit(f"{EGRESS_ENV} must be 'none' or 'all', not {egress!r}")
    p = argparse.ArgumentParser(
        prog="session-emulator",
        description="A local Azure Container Apps code-interpreter session pool.",
    )
    p.add_argument("--host", default="127.0.0.1", help="bind address (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=8081)
    p.add_argument("--data-dir", type=Path, default=DEFAULT_DATA_DIR, help="session storage")
    p.add_argument(
        "--token",
        default=os.environ.get(TOKEN_ENV) or None,
        help=f"require Authorization: Bearer <token> (default from {TOKEN_ENV})",
    )
    p.add_argument(
        "--allow-network",
        action=argparse.BooleanOptionalAction,
        default=egress == "all",
        help=f"let sandboxed code use the network (default from {EGRESS_ENV}=none|all)",
    )
    p.add_argument("--max-sessions", type=int, default=DEFAULT_MAX_SESSIONS)
    p.add_argument("--cooldown", type=float, default=DEFAULT_COOLDOWN_SECONDS, help="seconds")
    p.add_argument("--pool-prefix", default=DEFAULT_POOL_PREFIX)
    p.add_argument("--python", default=sys.executable, help="interpreter used in the sandbox")
    p.add_argument("--max-upload-bytes", type=int, default=DEFAULT_MAX_UPLOAD_BYTES)
    defaults = ResourceLimits()
    p.add_argument(
        "--session-memory-bytes",
        type=int,
        default=defaults.session_memory_bytes,
        help="memory of all of a session's processes together, /tmp included (a cgroup)",
    )
    p.add_argument(
        "--tmp-bytes", type=int, default=defaults.tmp_bytes, help="size of a session's /tmp"
    )
    p.add_argument(
        "--disk-bytes", type=int, default=defaults.disk_bytes, help="quota of a session's /mnt/data"
    )
    p.add_argument(
        "--disk-files",
        type=int,
        default=defaults.disk_entries,
        help="files and folders a session's /mnt/data may hold",
    )
    p.add_argument(
        "--insecure-no-sandbox",
        action="store_true",
        help="run code WITHOUT isolation if no sandbox works (never on shared machines)",
    )
    p.add_argument(
        "--single-session-dir",
        type=Path,
        default=None,
        metavar="DIR",
        help="keep every session's files directly in DIR (e.g. /mnt/data) for one-session-per-"
        "container images; needs --insecure-no-sandbox; DIR's contents are deleted",
    )
    p.add_argument(
        "--tls-cert",
        type=Path,
        default=None,
        metavar="PEM",
        help="serve https with this certificate (clients such as Semantic Kernel require https)",
    )
    p.add_argument("--tls-key", type=Path, default=None, metavar="PEM", help="its private key")
    p.add_argument("--log-level", default="info")
    return p


def _tls(args: argparse.Namespace) -> dict[str, str]:
    """uvicorn's TLS settings for --tls-cert/--tls-key (both or neither)."""
    if (args.tls_cert is None) != (args.tls_key is None):
        raise ValueError("--tls-cert and --tls-key go together")
    if args.tls_cert is None:
        return {}
    for path in (args.tls_cert, args.tls_key):
        if not path.is_file():
            raise ValueError(f"{path} is not a file")
    return {"ssl_certfile": str(args.tls_cert), "ssl_keyfile": str(args.tls_key)}


def _config(args: argparse.Namespace) -> EmulatorConfig:
    """The validated configuration for the parsed flags."""
    return EmulatorConfig(
        host=args.host,
        port=args.port,
        data_dir=args.data_dir,
        token=args.token,
        allow_network=args.allow_network,
        max_sessions=args.max_sessions,
        cooldown_seconds=args.cooldown,
        pool_prefix=args.pool_prefix,
        python=args.python,
        insecure_no_sandbox=args.insecure_no_sandbox,
        max_upload_bytes=args.max_upload_bytes,
        single_session_dir=args.single_session_dir,
        limits=ResourceLimits(
            session_memory_bytes=args.session_memory_bytes,
            tmp_bytes=args.tmp_bytes,
            disk_bytes=args.disk_bytes,
            disk_entries=args.disk_files,
        ),
    )


class _WithoutQuery(logging.Filter):
    """Access log lines without the query string: it holds the session identifier."""

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        if isinstance(args, tuple) and len(args) == 5 and isinstance(args[2], str):
            record.args = (args[0], args[1], args[2].split("?", 1)[0], args[3], args[4])
        return True


def main(argv: Sequence[str] | None = None) -> int:
    """Parse flags, probe the sandbox (refusing to start without one), serve."""
    args = _parser().parse_args(argv)
    logging.basicConfig(
        level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    logging.getLogger("uvicorn.access").addFilter(_WithoutQuery())
    try:
        config = _config(args)
        tls = _tls(args)
    except ValidationError as exc:
        problems = "; ".join(e["msg"].removeprefix("Value error, ") for e in exc.errors())
        logging.error("refusing to start: %s", problems)
        return 2
    except ValueError as exc:
        logging.error("refusing to start: %s", exc)
        return 2
    if config.host not in ("127.0.0.1", "localhost", "::1"):
        logging.warning("binding %s: the emulator is reachable beyond this machine", config.host)
    if config.single_session_dir is not None:
        logging.warning(
            "every session keeps its files in %s (one session per container)",
            config.single_session_dir,
        )
    follow_parent()
    try:  # the port first: a second emulator must not touch the sessions on disk
        sock = bind(config.host, config.port)
    except ThreadServerError as exc:
        logging.error("refusing to start: %s", exc)
        return 3
    try:
        isolation = select_isolation(config)
    except SandboxUnavailable as exc:
        sock.close()
        logging.error("refusing to start: %s", exc)
        return 2
    app = create_app(config, isolation=isolation)
    logging.info("sandbox: %s", isolation[0].describe())
    scheme = "https" if tls else "http"
    port = sock.getsockname()[1]
    print(
        f"session emulator: pool endpoint {scheme}://{config.host}:{port}{config.pool_prefix}",
        flush=True,
    )
    serve_process(app, sock=sock, log_level=args.log_level.lower(), **tls)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
