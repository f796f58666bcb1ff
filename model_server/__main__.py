"""``python -m model_server``: serve scripted answers on 127.0.0.1 until Ctrl+C.

Without ``--script`` every model call echoes the last user message. A script file
is a JSON list of replies answered in order, e.g.::

    [{"kind": "tool_calls", "calls": [{"name": "get_weather",
                                       "arguments": "{\\"city\\": \\"Paris\\"}"}]},
     {"kind": "text", "text": "It is sunny in Paris."}]
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import time
from pathlib import Path
from typing import Annotated

from pydantic import Field, TypeAdapter

from thread_server import ThreadServerError

from .replies import Reply
from .requests import ModelRequest
from .scripts import ReplyQueue, ScriptFunction, echo, resolve_reply
from .server import ModelServerError, loopback_host, run_model_server

_REPLIES = TypeAdapter(list[Annotated[Reply, Field(discriminator="kind")]])


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m model_server", description=__doc__)
    parser.add_argument(
        "--host", default="127.0.0.1", help="a loopback address (default 127.0.0.1)"
    )
    parser.add_argument("--port", type=int, default=8000, help="0 picks a free port")
    parser.add_argument("--script", type=Path, help="JSON file: a list of replies, in order")
    parser.add_argument("--quiet", action="store_true", help="do not log each request")
    return parser


def _load_script(path: Path | None) -> ScriptFunction:
    if path is None:
        return echo
    return ReplyQueue(_REPLIES.validate_python(json.loads(path.read_text(encoding="utf-8"))))


def _logged(script: ScriptFunction) -> ScriptFunction:
    async def logging_script(request: ModelRequest) -> Reply | None:
        reply = await resolve_reply(script, request)
        kind = reply.kind if reply is not None else "default"
        print(f"#{request.index} {request.method} {request.path} -> {kind}", file=sys.stderr)
        return reply

    return logging_script


def main(argv: list[str] | None = None) -> int:
    """Parse arguments and serve until interrupted."""
    args = _parser().parse_args(argv)
    try:
        host = loopback_host(args.host)
    except ModelServerError as exc:
        print(exc, file=sys.stderr)
        return 2
    script = _load_script(args.script)
    if not args.quiet:
        script = _logged(script)
    signal.signal(signal.SIGTERM, _stop)
    try:
        with run_model_server(script=script, port=args.port, host=host) as server:
            print(f"OPENAI_BASE_URL={server.base_url}", flush=True)
            try:
                while True:
                    time.sleep(3600)
            except (KeyboardInterrupt, _Stop):
                print(f"stopping after {len(server.requests)} requests", file=sys.stderr)
    except ThreadServerError as exc:  # e.g. the port is taken
        print(exc, file=sys.stderr)
        return 2
    return 0


class _Stop(Exception):
    """SIGTERM arrived."""


def _stop(signum: int, frame: object) -> None:
    raise _Stop


if __name__ == "__main__":
    raise SystemExit(main())
