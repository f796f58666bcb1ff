"""``StartWorkflow``: validate, build the orchestration input, start it, answer 202.

Nothing starts unless the whole request is valid. Every setting the
orchestrator needs is copied into :class:`OrchestrationInput` here, so the
orchestrator never reads settings.
"""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import urlsplit

import azure.functions as func

from api.problems import (
    TYPE_MISCONFIGURED,
    TYPE_UPSTREAM,
    ApiProblem,
    json_response,
    problem_response,
)
from api.validation import parse_workflow_request
from orchestrator.models import OrchestrationInput, RunConfig, SessionRef
from orchestrator.names import ORCHESTRATOR
from settings import SessionSettings, SettingsError, get_settings

logger = logging.getLogger("api")

#: Seconds a caller should wait before the first status query.
RETRY_AFTER_SECONDS = 2
#: The owner of every session until callers are identified by their function key.
ANONYMOUS_OWNER = "anonymous"
STATUS_ROUTE = "/api/workflowStatus/"


def load_settings_or_problem(settings: SessionSettings | None) -> SessionSettings:
    """``settings`` or the process settings; a 500 problem naming bad settings."""
    if settings is not None:
        return settings
    try:
        return get_settings()
    except SettingsError as exc:
        logger.error("settings: %s", exc)
        raise ApiProblem(500, "Service misconfigured", str(exc), type_=TYPE_MISCONFIGURED) from None


def run_config(settings: SessionSettings, *, timeout_seconds: int | None) -> RunConfig:
    """The settings the orchestration needs, frozen into its input."""
    return RunConfig(
        timeout_seconds=timeout_seconds or settings.default_timeout_seconds,
        max_execution_seconds=settings.max_execution_seconds,
        initial_poll_seconds=settings.initial_poll_interval_seconds,
        max_poll_seconds=settings.execution_poll_interval_seconds,
        poll_backoff_factor=settings.poll_backoff_factor,
        output_tail_chars=settings.output_tail_chars,
        workflow_file_name=settings.workflow_file_name,
        runner_file_name=settings.runner_file_name,
        input_file_name=settings.input_file_name,
        output_file_name=settings.output_file_name,
    )


def build_orchestration_input(
    request: Any, *, settings: SessionSettings, owner: str = ANONYMOUS_OWNER
) -> OrchestrationInput:
    """``OrchestrationInput`` for a validated ``WorkflowRequest``."""
    session = (
        SessionRef(strategy="reuse", name=request.session_id, owner=owner)
        if request.session_id
        else SessionRef(strategy="ephemeral", owner=owner)
    )
    return OrchestrationInput(
        workflow_code=request.workflow_code,
        input=request.input or {},
        session=session,
        environment_variables=request.environment_variables or {},
        secret_environment_variables=request.secret_environment_variables or {},
        runner_preamble=request.runner_preamble,
        command=request.command_override or settings.python_command,
        config=run_config(settings, timeout_seconds=request.timeout_seconds),
    )


def origin_of(url: str) -> str:
    """``scheme://host[:port]`` of ``url``."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def replace_origin(url: str, origin: str) -> str:
    """``url`` with its origin swapped for ``origin`` (as ``create_check_status_response``)."""
    parts = urlsplit(url)
    if not parts.scheme or not parts.netloc:
        return url
    return origin + url[len(f"{parts.scheme}://{parts.netloc}") :]


def status_uri(origin: str, instance_id: str) -> str:
    """Our status endpoint for ``instance_id``."""
    return f"{origin}{STATUS_ROUTE}{instance_id}"


def accepted_body(management: dict[str, str], *, origin: str, instance_id: str) -> dict[str, str]:
    """The Durable management payload with the request's origin, plus ``statusUri``."""
    body = {key: replace_origin(value, origin) for key, value in management.items()}
    body["id"] = instance_id
    body["statusUri"] = status_uri(origin, instance_id)
    return body


async def start_workflow(
    req: func.HttpRequest, client: Any, *, settings: SessionSettings | None = None
) -> func.HttpResponse:
    """Handle ``POST /api/workflows``."""
    try:
        settings = load_settings_or_problem(settings)
        request = parse_workflow_request(
            req.get_body() or b"",
            content_type=req.headers.get("content-type"),
            settings=settings,
        )
        orchestration_input = build_orchestration_input(request, settings=settings)
        try:
            instance_id = await client.start_new(
                ORCHESTRATOR, client_input=orchestration_input.to_wire()
            )
        except Exception as exc:
            logger.exception("start_new failed")
            raise ApiProblem(
                503,
                "Service Unavailable",
                f"The durable backend did not start the workflow: {type(exc).__name__}",
                type_=TYPE_UPSTREAM,
            ) from None
    except ApiProblem as problem:
        return problem_response(problem)
    origin = origin_of(req.url)
    body = accepted_body(
        client.create_http_management_payload(instance_id), origin=origin, instance_id=instance_id
    )
    logger.info(
        "started instance %s (%s session)", instance_id, orchestration_input.session.strategy
    )
    return json_response(
        body,
        status_code=202,
        headers={"Location": body["statusUri"], "Retry-After": str(RETRY_AFTER_SECONDS)},
    )
