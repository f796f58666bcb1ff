"""The legacy data-plane dialect (api-version 2024-02-02-preview and 2024-08-02-preview).

The agent frameworks' session tools (LangChain, LlamaIndex, AutoGen, Semantic Kernel)
still speak it. Requests are wrapped in ``properties`` and so are answers, with ``$id``
reference numbers as the service's .NET serializer writes them:

- ``POST /code/execute`` → ``{"$id": "1", "properties": {"$id": "2", "status": "Success",
  "stdout", "stderr", "result", "executionTimeInMilliseconds"}}``; ``result`` is the last
  expression's text/plain form, decoded where it is JSON (``42`` stays a number, a
  string keeps its quotes), or ``{"type": "image", ...}`` for a picture;
- ``POST /files/upload``, ``GET /files`` and ``GET /files/{name}`` →
  ``{"$id": "1", "value": [{"$id": "2", "properties": {"$id": "3", "filename", "size",
  "lastModifiedTime"}}]}``.

Evidence for each shape is in docs/session_emulator.md ("Dialects"). Only the shapes live
here; the routes in :mod:`session_emulator.app` pick a dialect by ``api-version``.
"""

from __future__ import annotations

import json
import os
import stat
from datetime import UTC, datetime
from typing import Any

from .executions import Execution, ExecutionStatus
from .sessions import rfc3339

SUCCESS = "Success"
FAILURE = "Failure"


def request_properties(body: Any) -> Any:
    """The execution request inside ``properties`` (a flat body is taken as it is)."""
    if isinstance(body, dict) and isinstance(body.get("properties"), dict):
        return body["properties"]
    return body


def _not_json(constant: str) -> Any:
    """NaN and Infinity are not JSON (a response could not carry them)."""
    raise ValueError(constant)


def result_value(execution: Execution) -> Any:
    """``result``: the value's text/plain form, as JSON where it is JSON (``42``).

    Evidence: LangChain's docs show a real pool answering ``6 * 7`` with ``42`` (a number)
    and AutoGen parses a list of names by splitting IPython's pretty text on ``",\\n"``
    (docs/session_emulator.md, "Dialects").
    """
    if execution.result_text is None:
        return execution.execution_result  # "" (no value) or an image
    try:
        return json.loads(execution.result_text, parse_constant=_not_json)
    except ValueError:
        return execution.result_text


def execution_body(execution: Execution) -> dict[str, Any]:
    """A finished execution as ``POST /code/execute`` answers it.

    ``Success`` means the cell ran (an exception in it is reported in ``stderr``, as a
    notebook shows it); ``Failure`` means the execution itself failed (timeout, the
    process died, the session was deleted), and the reason is appended to ``stderr``
    since this dialect has no ``error`` field.
    """
    ok = execution.status is ExecutionStatus.SUCCEEDED
    stderr = execution.stderr
    if not ok and execution.error:
        reason = f"{execution.error.get('code', 'Error')}: {execution.error.get('message', '')}"
        stderr = f"{stderr}\n{reason}" if stderr else reason
    return {
        "$id": "1",
        "properties": {
            "$id": "2",
            "status": SUCCESS if ok else FAILURE,
            "stdout": execution.stdout,
            "stderr": stderr,
            "result": result_value(execution) if ok else None,
            "executionTimeInMilliseconds": execution.execution_time_ms,
        },
    }


def file_list(entries: list[tuple[str, os.stat_result]]) -> dict[str, Any]:
    """Regular files (directories left out) as the legacy ``value`` list."""
    files = [(name, st) for name, st in entries if not stat.S_ISDIR(st.st_mode)]
    value = []
    for index, (name, st) in enumerate(files):
        value.append(
            {
                "$id": str(2 + 2 * index),
                "properties": {
                    "$id": str(3 + 2 * index),
                    "filename": name,
                    "size": st.st_size,
                    "lastModifiedTime": rfc3339(datetime.fromtimestamp(st.st_mtime, UTC)),
                },
            }
        )
    return {"$id": "1", "value": value}
