"""``GetWorkflowTrace``: the agent trace a finished run left, in pages.

The trace (docs/runner.md, *The trace*) is kept with the run's result or failure, bounded
by ``AzureSession__MaxTraceBytes``; status shows only its size. Owner scoping is the
status endpoint's: another caller's run answers like an unknown id.
"""

from __future__ import annotations

import re
from typing import Any

import azure.functions as func

from api.caller import resolve_caller
from api.problems import TYPE_INVALID_REQUEST, ApiProblem, json_response, problem_response
from api.status import (
    TERMINAL,
    check_instance_id,
    check_owned,
    not_found,
    read_status,
    runtime_of,
    trace_of,
)
from settings import SessionSettings

DEFAULT_TOP = 500
MAX_TOP = 2000
MAX_SKIP = 1_000_000_000
DIGITS = re.compile(r"[0-9]{1,9}")


def _page_params(params: Any) -> tuple[int, int]:
    errors = []
    values = {}
    for name, default, low, high in (("skip", 0, 0, MAX_SKIP), ("top", DEFAULT_TOP, 1, MAX_TOP)):
        raw = params.get(name)
        if raw is None or raw == "":
            values[name] = default
        elif DIGITS.fullmatch(raw) and low <= int(raw) <= high:
            values[name] = int(raw)
        else:
            errors.append({"path": name, "message": f"must be an integer from {low} to {high}"})
    if errors:
        raise ApiProblem(
            400,
            "Invalid request",
            "Bad query parameter(s): " + ", ".join(e["path"] for e in errors) + ".",
            type_=TYPE_INVALID_REQUEST,
            errors=errors,
        )
    return values["skip"], values["top"]


def trace_page(
    instance_id: str, runtime_status: str | None, output: Any, *, skip: int, top: int
) -> dict[str, Any]:
    """The JSON answer: ``{"instanceId", "runtimeStatus", "spans", "total", "truncated", ...}``.

    A run still going has no trace yet (``spans`` empty, ``complete`` false); a finished run
    that wrote none has an empty one.
    """
    trace = trace_of(runtime_status, output) or {"spans": [], "truncated": False}
    spans = trace["spans"]
    page = spans[skip : skip + top]
    document: dict[str, Any] = {
        "instanceId": instance_id,
        "runtimeStatus": runtime_status,
        "complete": runtime_status in TERMINAL,
        "total": len(spans),
        "truncated": trace.get("truncated") is True,
        "spans": page,
        "nextSkip": skip + len(page) if skip + len(page) < len(spans) else None,
    }
    return document


async def get_workflow_trace(
    req: func.HttpRequest, client: Any, *, settings: SessionSettings | None = None
) -> func.HttpResponse:
    """Handle ``GET /api/workflows/{instanceId}/trace[?skip=&top=]``."""
    try:
        instance_id = check_instance_id(req.route_params.get("instanceId"))
        settings, owner = resolve_caller(req.headers, req.params, settings)
        check_owned(instance_id, owner)
        skip, top = _page_params(req.params)
        status = await read_status(client, instance_id)
        if status is None:
            raise not_found(instance_id)
    except ApiProblem as problem:
        return problem_response(problem)
    runtime = runtime_of(status)
    return json_response(trace_page(instance_id, runtime, status.output, skip=skip, top=top))
