"""``aro trace``: a run's spans as an indented tree with durations and tokens.

::

    trace     Agent workflow                         1.28 s
      task    Agent workflow                         1.27 s  179+118 tokens
        agent   Agent                                1.26 s
          turn    turn                               0.61 s
            response gpt-5                           0.22 s   23+58 tokens
            function get_weather                     0.00 s
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any


def _time(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None


def duration_seconds(span: dict[str, Any]) -> float | None:
    """``endedAt - startedAt`` in seconds, when both are there."""
    start, end = _time(span.get("startedAt")), _time(span.get("endedAt"))
    return None if start is None or end is None else (end - start).total_seconds()


def _tokens(span: dict[str, Any]) -> str:
    usage = (span.get("data") or {}).get("usage") or {}
    if not isinstance(usage, dict) or not usage:
        return ""
    return f"{usage.get('input', 0)}+{usage.get('output', 0)} tokens"


def render(spans: Iterable[dict[str, Any]], *, width: int = 44) -> list[str]:
    """The tree's lines: children under their parent, siblings by start time.

    A ``trace`` line (the ``with trace(...)`` block) holds the spans of its trace id that
    have no parent; spans whose parent is unknown are shown at the top level.
    """
    spans = [s for s in spans if isinstance(s, dict)]
    ids = {s.get("id") for s in spans}
    children: dict[Any, list[dict[str, Any]]] = {}
    roots: list[dict[str, Any]] = []
    traces = {s.get("traceId"): s for s in spans if s.get("type") == "trace"}
    for span in spans:
        parent = span.get("parentId")
        if span.get("type") == "trace":
            roots.append(span)
        elif parent in ids and parent is not None:
            children.setdefault(parent, []).append(span)
        elif span.get("traceId") in traces:
            children.setdefault(traces[span["traceId"]].get("id"), []).append(span)
        else:
            roots.append(span)

    def start(span: dict[str, Any]) -> str:
        return str(span.get("startedAt") or "")

    lines: list[str] = []

    def walk(span: dict[str, Any], depth: int) -> None:
        label = f"{'  ' * depth}{span.get('type', '?'):<8} {span.get('name') or ''}"
        seconds = duration_seconds(span)
        took = f"{seconds:6.2f} s" if seconds is not None else "       -"
        extra = [x for x in (_tokens(span), "error" if span.get("error") else "") if x]
        lines.append(f"{label[:width]:<{width}} {took}  {'  '.join(extra)}".rstrip())
        for child in sorted(children.get(span.get("id"), []), key=start):
            walk(child, depth + 1)

    for root in sorted(roots, key=start):
        walk(root, 0)
    return lines
