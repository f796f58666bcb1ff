"""``CancelWorkflow``: terminate a run and stop the work in its session.

The orchestration is terminated with a reason that records who and why (JSON text
``{"canceledBy", "reason"}``; ``api.status`` reads it back from the terminated
instance's output). Terminating does not reach into the session, so the handler
also deletes the run's session, derived exactly as the activities derive it: that
kills whatever still runs there (certain in the emulator, best effort on a pool)
and, for a reused session, deletes its files. Only the caller's own runs can be
canceled: another caller's id answers like an unknown one (404), decided from the
id's owner tag before anything is read or terminated.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

import azure.functions as func
from pydantic import ValidationError

from activities.clients import get_client
from activities.identity import derive_identifier, identifier_key
from activities.webhook_activities import start_delivery
from api.caller import resolve_caller
from api.models import CancelRequest
from api.problems import (
    TYPE_CONFLICT,
    ApiProblem,
    backend_problem,
    json_response,
    problem_response,
)
from api.starter import RETRY_AFTER_SECONDS, origin_of, status_uri
from api.status import (
    TERMINAL,
    check_instance_id,
    check_owned,
    not_found,
    read_status,
    runtime_of,
)
from api.validation import check_content_type, parse_body
from orchestrator.models import OrchestrationInput
from session_client.errors import SessionNotFound
from settings import SessionSettings
from telemetry import bind, get_logger

logger = get_logger("api")

#: Upper bound on deleting the session while answering the cancel request.
SESSION_DELETE_TIMEOUT_SECONDS = 15.0


def parse_cancel_body(body: bytes, *, content_type: str | None, settings: SessionSettings) -> str:
    """The optional ``reason``: an empty body is fine, anything else must be valid JSON."""
    if not body.strip():
        return ""
    check_content_type(content_type)
    raw = parse_body(body, settings=settings)
    try:
        return CancelRequest.model_validate(raw).reason or ""
    except ValidationError as exc:
        errors = [
            {
                "path": ".".join(str(p) for p in err["loc"]) or "(body)",
                "message": "unknown field" if err["type"] == "extra_forbidden" else err["msg"],
            }
            for err in exc.errors(include_url=False)
        ]
        fields = ", ".join(e["path"] for e in errors)
        raise ApiProblem(
            400, "Invalid request", f"Problem(s) with: {fields}.", errors=errors
        ) from None


def terminate_reason(*, canceled_by: str, reason: str, callback: bool = False) -> str:
    """The terminate reason: JSON text naming who canceled and why (and that a webhook
    delivery follows, so status shows its outcome)."""
    document: dict[str, Any] = {"canceledBy": canceled_by, "reason": reason or None}
    if callback:
        document["callback"] = True
    return json.dumps(document, ensure_ascii=False)


def callback_url_of(raw_input: Any) -> str | None:
    """The run's ``callbackUrl`` (None when it has none or the input is unreadable)."""
    try:
        return OrchestrationInput.from_wire(raw_input).callback_url
    except (ValueError, TypeError):
        return None


async def read_instance(client: Any, instance_id: str) -> Any:
    """The instance's status with input; 404 problem if unknown, 503 if the backend fails."""
    status = await read_status(client, instance_id, show_input=True)
    if status is None:
        raise not_found(instance_id)
    return status


def finished_problem(instance_id: str, runtime: str) -> ApiProblem:
    """409: a finished run cannot be canceled."""
    return ApiProblem(
        409,
        "Workflow already finished",
        f"Workflow instance {instance_id!r} is {runtime}; only a run that has not finished "
        "can be canceled.",
        type_=TYPE_CONFLICT,
        extensions={"instanceId": instance_id, "runtimeStatus": runtime},
    )


async def delete_run_session(raw_input: Any, *, instance_id: str, settings: SessionSettings) -> str:
    """Delete the run's session: ``deleted``, ``notFound``, ``failed`` or ``unknown``."""
    try:
        session = OrchestrationInput.from_wire(raw_input).session
    except (ValueError, TypeError):
        logger.warning("cancel: orchestration input unreadable; session left alone")
        return "unknown"
    try:
        identifier = derive_identifier(session, instance_id, identifier_key(settings))
        await asyncio.wait_for(
            get_client(settings).delete_session(identifier),
            timeout=SESSION_DELETE_TIMEOUT_SECONDS,
        )
    except SessionNotFound:
        logger.info("cancel: %s session already gone", session.strategy)
        return "notFound"
    except Exception as exc:  # best effort: the orchestration is terminated either way
        logger.warning(
            "cancel: deleting the %s session failed: %s", session.strategy, type(exc).__name__
        )
        return "failed"
    logger.info("cancel: %s session deleted", session.strategy)
    return "deleted"


async def cancel_workflow(
    req: func.HttpRequest, client: Any, *, settings: SessionSettings | None = None
) -> func.HttpResponse:
    """Handle ``POST /api/workflows/{instanceId}/cancel``."""
    try:
        instance_id = check_instance_id(req.route_params.get("instanceId"))
        settings, owner = resolve_caller(req.headers, req.params, settings)
        reason = parse_cancel_body(
            req.get_body() or b"", content_type=req.headers.get("content-type"), settings=settings
        )
        check_owned(instance_id, owner)
        status = await read_instance(client, instance_id)
        runtime = runtime_of(status) or ""
        if runtime in TERMINAL:
            raise finished_problem(instance_id, runtime)
        failure: Exception | None = None
        callback_url = callback_url_of(status.input_)
        try:
            await client.terminate(
                instance_id,
                terminate_reason(
                    canceled_by=owner, reason=reason, callback=callback_url is not None
                ),
            )
        except Exception as exc:
            failure = exc
        # It may have finished between the read and the terminate: the client then
        # answers 410 without raising, and the run's session must be left alone.
        current = runtime_of(await read_instance(client, instance_id)) or ""
        if current in TERMINAL and (failure is not None or current != "Terminated"):
            raise finished_problem(instance_id, current)
        if failure is not None:
            raise backend_problem(failure, "terminate the workflow")
    except ApiProblem as problem:
        return problem_response(problem)
    with bind(instance_id=instance_id):
        logger.info("canceled by %s (was %s)", owner, runtime)
        session = await delete_run_session(
            status.input_, instance_id=instance_id, settings=settings
        )
        if callback_url is not None:  # a canceled run notifies too
            try:
                await start_delivery(client, instance_id, callback_url, settings)
            except Exception as exc:
                logger.warning("webhook delivery not scheduled: %s", type(exc).__name__)
    location = status_uri(origin_of(req.url), instance_id)
    body = {
        "instanceId": instance_id,
        "runtimeStatus": runtime,
        "phase": "canceling",
        "cancellation": {"canceledBy": owner, "reason": reason or None},
        "sessionDeletion": session,
        "statusUri": location,
    }
    return json_response(
        body,
        status_code=202,
        headers={"Location": location, "Retry-After": str(RETRY_AFTER_SECONDS)},
    )
