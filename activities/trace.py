"""Reading a run's trace and progress files: hostile input, bounded, with secrets redacted.

run.py writes ``trace.jsonl`` (one JSON object a finished span) and ``progress.json`` (a
small running summary) into the session (docs/runner.md, *The trace*). Whatever the
sandbox wrote there is untrusted: a line may be anything, a file may be huge or not a
file. These functions download under a byte cap, keep only well-formed fields of
bounded size, and blank secrets out, so what reaches durable history is small and safe.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from activities.secrets import redact_json
from session_client.errors import SessionContentTooLarge, SessionNotFound

#: The longest progress.json read (run.py's is well under 1 KiB).
MAX_PROGRESS_BYTES = 16 * 1024
#: Spans kept from one trace, whatever its size in bytes.
MAX_SPANS = 2000
#: Characters of one span's ``data`` (as JSON) kept; longer data becomes a clipped string.
MAX_DATA_CHARS = 8000
_STRING_FIELDS = {
    "type": 40,
    "name": 200,
    "id": 100,
    "parentId": 100,
    "traceId": 100,
    "startedAt": 40,
    "endedAt": 40,
}


def _text(value: Any, limit: int) -> str | None:
    return value[:limit] if isinstance(value, str) else None


def _data(value: Any) -> Any:
    if not isinstance(value, dict):
        return {}
    text = json.dumps(value, ensure_ascii=False, default=str)
    if len(text) <= MAX_DATA_CHARS:
        return value
    return {"clipped": text[:MAX_DATA_CHARS]}


def parse_span(line: str) -> dict[str, Any] | None:
    """One trace line as a span with known fields only, or None when it is not one."""
    try:
        raw = json.loads(line)
    except (ValueError, RecursionError):
        return None
    if not isinstance(raw, dict) or not isinstance(raw.get("type"), str):
        return None
    span: dict[str, Any] = {key: _text(raw.get(key), n) for key, n in _STRING_FIELDS.items()}
    error = raw.get("error")
    span["error"] = None if error is None else _text(json.dumps(error, default=str), 1000)
    span["data"] = _data(raw.get("data"))
    return span


def parse_trace(content: bytes, secrets: Iterable[str]) -> dict[str, Any]:
    """``{"spans": [...], "truncated": bool}`` from the bytes of trace.jsonl."""
    spans: list[dict[str, Any]] = []
    truncated = False
    for line in content.decode("utf-8", errors="replace").splitlines():
        span = parse_span(line)
        if span is None:
            continue
        if span["type"] == "truncated" or len(spans) >= MAX_SPANS:
            truncated = True
            continue
        spans.append(span)
    return {"spans": redact_json(spans, list(secrets)), "truncated": truncated}


def parse_progress(content: bytes, secrets: Iterable[str]) -> dict[str, Any] | None:
    """The compact progress view from progress.json, or None if it is not one."""
    try:
        raw = json.loads(content.decode("utf-8", errors="replace"))
    except (ValueError, RecursionError):
        return None
    if not isinstance(raw, dict) or not isinstance(raw.get("steps"), int):
        return None
    last = raw.get("last") if isinstance(raw.get("last"), dict) else None
    tokens = raw.get("tokens") if isinstance(raw.get("tokens"), dict) else {}
    progress = {
        "steps": raw["steps"],
        "agent": _text(raw.get("agent"), 200),
        "last": None
        if last is None
        else {
            "type": _text(last.get("type"), 40),
            "name": _text(last.get("name"), 200),
            "at": _text(last.get("at"), 40),
        },
        "tokens": {k: v for k in ("input", "output") if isinstance(v := tokens.get(k), int)},
        "elapsedMs": raw["elapsedMs"] if isinstance(raw.get("elapsedMs"), int) else None,
        "truncated": raw.get("truncated") is True,
    }
    return redact_json(progress, list(secrets))


async def read_file(client: Any, identifier: str, name: str, max_bytes: int) -> bytes | None:
    """A small file of the session, or None if absent, too big or not a file."""
    try:
        return await client.download_file(identifier, name, max_bytes=max_bytes)
    except (SessionNotFound, SessionContentTooLarge):
        return None


async def download_trace(
    client: Any, identifier: str, name: str, max_bytes: int, secrets: Iterable[str]
) -> dict[str, Any] | None:
    """The run's trace (None when it wrote none). run.py stops at ``max_bytes``, so a
    bigger file was not written by it; it is refused whole rather than half read."""
    content = await read_file(client, identifier, name, max_bytes + 4096)
    return None if content is None else parse_trace(content, secrets)


async def download_progress(
    client: Any, identifier: str, name: str, secrets: Iterable[str]
) -> dict[str, Any] | None:
    """The run's progress view, or None."""
    content = await read_file(client, identifier, name, MAX_PROGRESS_BYTES)
    return None if content is None else parse_progress(content, secrets)
