"""``GetWorkflowStatus``: map a Durable status to the caller's answer.

The mapping functions are pure; :func:`get_workflow_status` only checks the owner,
fetches and wraps. A run of another caller answers exactly like an unknown id (404),
decided from the id's owner tag before the durable backend is asked.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from typing import Any

import azure.functions as func

from api.caller import belongs_to, resolve_caller
from api.problems import (
    TYPE_INVALID_REQUEST,
    TYPE_NOT_FOUND,
    ApiProblem,
    backend_problem,
    json_response,
    problem_response,
)
from orchestrator.errors import parse_error_message
from orchestrator.models import callback_instance_id
from settings import SessionSettings

INSTANCE_ID = re.compile(r"[A-Za-z0-9_-]{1,100}")
TERMINAL = frozenset({"Completed", "Failed", "Terminated", "Canceled"})
#: Runtime states of a run that was stopped from outside (``POST .../cancel`` terminates).
CANCELED = frozenset({"Terminated", "Canceled"})
#: Longest failure text copied into an unstructured error.
MAX_RAW_ERROR_CHARS = 4000


def _iso(value: datetime | str | None) -> str | None:
    if value is None or isinstance(value, str):
        return value
    return value.isoformat().replace("+00:00", "Z")


def parse_time(value: Any) -> datetime | None:
    """A timestamp as an aware UTC datetime (naive ones are taken as UTC); None if unreadable."""
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
        except ValueError:
            return None
    if not isinstance(value, datetime):
        return None
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def queued_ms(created_time: datetime | str | None, started_at: Any) -> int | None:
    """Milliseconds between the instance's creation and its orchestrator's first run."""
    created = parse_time(created_time)
    started = parse_time(started_at)
    if created is None or started is None:
        return None
    return max(0, int((started - created).total_seconds() * 1000))


def _maybe_json(value: Any) -> Any:
    """A JSON object kept as text by some hosts, decoded; anything else unchanged."""
    if isinstance(value, str) and value.lstrip().startswith("{"):
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


def phase_of(runtime_status: str | None, custom_status: Any) -> str:
    """The phase: terminal runtime states win, else the orchestrator's custom status."""
    if runtime_status in CANCELED:
        return "canceled"
    if runtime_status in TERMINAL:
        return runtime_status.lower()
    custom = _maybe_json(custom_status)
    if isinstance(custom, dict) and isinstance(custom.get("phase"), str):
        return custom["phase"]
    return "pending" if runtime_status in (None, "Pending") else runtime_status.lower()


def parse_failure(output: Any) -> dict[str, Any]:
    """The structured error document from a Failed orchestration's output."""
    text = output if isinstance(output, str) else json.dumps(output)
    document = parse_error_message(text)
    if document is not None:
        return document
    return {
        "type": "OrchestrationFailed",
        "message": (text or "The orchestration failed without a message.")[:MAX_RAW_ERROR_CHARS],
    }


def parse_cancellation(output: Any) -> dict[str, Any]:
    """``{canceledBy, reason}`` from a terminated instance's output (the terminate reason).

    ``POST .../cancel`` writes JSON text ``{"canceledBy", "reason"}``; a reason given
    elsewhere (the Durable management API, an operator) is plain text: ``canceledBy`` null.
    """
    value = _maybe_json(output)
    if isinstance(value, dict) and ("canceledBy" in value or "reason" in value):
        by, reason = value.get("canceledBy"), value.get("reason")
        return {
            "canceledBy": by if isinstance(by, str) else None,
            "reason": reason if isinstance(reason, str) else None,
            "callback": value.get("callback") is True,
        }
    if value is None or value == "":
        return {"canceledBy": None, "reason": None}
    text = value if isinstance(value, str) else json.dumps(value)
    return {"canceledBy": None, "reason": text[:MAX_RAW_ERROR_CHARS]}


def cancellation_message(cancellation: dict[str, Any]) -> str:
    """One line for the error of a canceled run."""
    by, reason = cancellation.get("canceledBy"), cancellation.get("reason")
    message = "The run was canceled" + (f" by {by}" if by else "")
    return message + (f": {reason}" if reason else ".")


def status_document(
    *,
    instance_id: str,
    runtime_status: str | None,
    custom_status: Any = None,
    created_time: datetime | str | None = None,
    last_updated_time: datetime | str | None = None,
    output: Any = None,
) -> dict[str, Any]:
    """The JSON answer of ``GET /api/workflowStatus/{instanceId}``."""
    document: dict[str, Any] = {
        "instanceId": instance_id,
        "runtimeStatus": runtime_status,
        "phase": phase_of(runtime_status, custom_status),
        "createdTime": _iso(created_time),
        "lastUpdatedTime": _iso(last_updated_time),
        "output": None,
        "error": None,
    }
    custom = _maybe_json(custom_status)
    if not isinstance(custom, dict):
        custom = {}
    if custom.get("executionId"):
        document["executionId"] = custom["executionId"]
    if runtime_status in ("Running", "Pending") and isinstance(custom.get("progress"), dict):
        document["progress"] = custom["progress"]
    if isinstance(custom.get("request"), dict):
        document["request"] = custom["request"]
    if runtime_status == "Completed":
        envelope = _maybe_json(output)
        if isinstance(envelope, dict) and envelope.get("status") == "succeeded":
            document["output"] = envelope.get("result")
            for key in ("logs", "timings", "executionId", "attempts"):
                if envelope.get(key) is not None:
                    document[key] = envelope[key]
            _trace_summary(document, envelope.get("trace"))
            _callback_flag(document, envelope.get("callback"))
        else:
            document["output"] = envelope
    elif runtime_status == "Failed":
        error = dict(parse_failure(output))
        _trace_summary(document, error.pop("trace", None))
        _callback_flag(document, error.pop("callback", None))
        logs = error.pop("logs", None)
        if isinstance(logs, dict):
            document["logs"] = logs
        timings = error.pop("timings", None)
        if isinstance(timings, dict):
            document["timings"] = timings
        attempts = error.pop("attempts", None)
        if isinstance(attempts, list):
            document["attempts"] = attempts
        if error.get("executionId"):
            document["executionId"] = error["executionId"]
        document["error"] = error
    elif runtime_status in CANCELED:
        cancellation = parse_cancellation(output)
        _callback_flag(document, cancellation.pop("callback", None))
        document["cancellation"] = cancellation
        document["error"] = {"type": "Canceled", "message": cancellation_message(cancellation)}
    if runtime_status in ("Completed", "Failed"):
        queued = queued_ms(created_time, custom.get("startedAt"))
        if queued is not None:
            document["timings"] = {"queuedMs": queued, **(document.get("timings") or {})}
    return document


def _callback_flag(document: dict[str, Any], scheduled: Any) -> None:
    """A run whose webhook was scheduled: the handler fills in the delivery's outcome."""
    if scheduled is True:
        document["callback"] = {"state": "pending", "attempts": 0}


async def callback_outcome(client: Any, run_instance_id: str) -> dict[str, Any]:
    """The webhook delivery of a run, from its orchestration (docs/api.md, *Webhooks*)."""
    try:
        status = await client.get_status(callback_instance_id(run_instance_id))
    except Exception:
        return {"state": "unknown", "attempts": 0}
    runtime = runtime_of(status)
    value = _maybe_json(status.output if runtime == "Completed" else status.custom_status)
    if runtime == "Failed":
        return {"state": "failed", "attempts": 0, "lastError": "the delivery itself failed"}
    if isinstance(value, dict) and value.get("state"):
        return {k: v for k, v in value.items() if k != "url"}
    return {"state": "pending", "attempts": 0}


def _trace_summary(document: dict[str, Any], trace: Any) -> None:
    """Status shows how big the trace is; the spans are at ``/api/workflows/{id}/trace``."""
    spans = trace.get("spans") if isinstance(trace, dict) else None
    if isinstance(spans, list):
        document["trace"] = {"spans": len(spans), "truncated": trace.get("truncated") is True}


def trace_of(runtime_status: str | None, output: Any) -> dict[str, Any] | None:
    """The full trace a finished run left in its output or failure, else None."""
    if runtime_status == "Completed":
        envelope = _maybe_json(output)
        trace = envelope.get("trace") if isinstance(envelope, dict) else None
    elif runtime_status == "Failed":
        trace = parse_failure(output).get("trace")
    else:
        return None
    return trace if isinstance(trace, dict) and isinstance(trace.get("spans"), list) else None


def list_item(document: dict[str, Any]) -> dict[str, Any]:
    """The status view without output bodies: for listings."""
    error = document.get("error")
    item = {
        key: document[key]
        for key in ("instanceId", "runtimeStatus", "phase", "createdTime", "lastUpdatedTime")
    }
    item["error"] = {"type": error.get("type")} if isinstance(error, dict) else None
    for key in ("executionId", "cancellation"):
        if key in document:
            item[key] = document[key]
    return item


def check_instance_id(instance_id: str | None) -> str:
    """``instance_id`` if well formed, else a 400 problem."""
    if instance_id is None or not INSTANCE_ID.fullmatch(instance_id):
        raise ApiProblem(
            400,
            "Invalid instance id",
            "An instance id is 1 to 100 characters of A-Z a-z 0-9 _ -.",
            type_=TYPE_INVALID_REQUEST,
            errors=[{"path": "instanceId", "message": "must match [A-Za-z0-9_-]{1,100}"}],
        )
    return instance_id


def runtime_of(status: Any) -> str | None:
    """The runtime status name of a durable status object (``None``: no such instance)."""
    runtime = getattr(status, "runtime_status", None) if status else None
    return getattr(runtime, "value", runtime)


async def read_status(client: Any, instance_id: str, **options: bool) -> Any | None:
    """The instance's status, ``None`` if unknown; a 503 problem if the backend fails."""
    try:
        status = await client.get_status(instance_id, **options)
    except Exception as exc:
        raise backend_problem(exc, "read the workflow") from None
    return status if runtime_of(status) is not None else None


def not_found(instance_id: str) -> ApiProblem:
    """404: no such instance."""
    return ApiProblem(
        404, "Not Found", f"No workflow instance {instance_id!r}.", type_=TYPE_NOT_FOUND
    )


def check_owned(instance_id: str, owner: str) -> str:
    """``instance_id`` if it is ``owner``'s run, else the unknown-id 404 (nothing else leaks)."""
    if not belongs_to(instance_id, owner):
        raise not_found(instance_id)
    return instance_id


async def get_workflow_status(
    req: func.HttpRequest, client: Any, *, settings: SessionSettings | None = None
) -> func.HttpResponse:
    """Handle ``GET /api/workflowStatus/{instanceId}``."""
    try:
        instance_id = check_instance_id(req.route_params.get("instanceId"))
        settings, owner = resolve_caller(req.headers, req.params, settings)
        check_owned(instance_id, owner)
        status = await read_status(client, instance_id)
        if status is None:
            raise not_found(instance_id)
    except ApiProblem as problem:
        return problem_response(problem)
    document = status_document(
        instance_id=instance_id,
        runtime_status=runtime_of(status),
        custom_status=status.custom_status,
        created_time=status.created_time,
        last_updated_time=status.last_updated_time,
        output=status.output,
    )
    if "callback" in document:
        document["callback"] = await callback_outcome(client, instance_id)
    return json_response(document)
