"""The driver side of the conformance suite: JSON lines in, JSON lines out.

A driver runs inside a client's own virtual environment (.venv-clients/<name>), imports
the published client unpatched, and exposes a few operations that call it. The test (in
the project's environment) sends ``{"op": ..., "args": {...}}`` per line and gets
``{"ok": true, "value": ...}`` or ``{"ok": false, "type": ..., "message": ...}`` back.
Objects the client hands out (tools, executors) live in the driver between calls, so a
session's state persists exactly as it would in an application.

The environment says where the emulator is: ``POOL`` (the pool management endpoint),
``TOKEN`` (its bearer token) and ``WORK`` (a local folder for files).
"""

from __future__ import annotations

import asyncio
import base64
import inspect
import json
import sys
import traceback
from collections.abc import Callable
from typing import Any


def b64(data: bytes) -> str:
    """Bytes for the JSON answer."""
    return base64.b64encode(data).decode()


def unb64(text: str) -> bytes:
    """Bytes from a JSON request."""
    return base64.b64decode(text)


def serve(ops: dict[str, Callable[..., Any]]) -> None:
    """Answer requests on stdin until it closes; async operations run on one loop."""
    loop = asyncio.new_event_loop()
    out = sys.stdout
    sys.stdout = sys.stderr  # a client's prints must not corrupt the protocol
    for line in sys.stdin:
        request = json.loads(line)
        try:
            value = ops[request["op"]](**request.get("args", {}))
            if inspect.isawaitable(value):
                value = loop.run_until_complete(value)
            answer = {"ok": True, "value": value}
        except BaseException as exc:  # reported to the test, which decides
            traceback.print_exc()
            answer = {"ok": False, "type": type(exc).__name__, "message": str(exc)}
        out.write(json.dumps(answer, default=repr) + "\n")
        out.flush()
