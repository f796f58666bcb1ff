"""``StartWorkflow``: validate, build the orchestration input, start it, answer 202.

Nothing starts unless the whole request is valid. Every setting the
orchestrator needs is copied into :class:`OrchestrationInput` here, so the
orchestrator never reads settings. Every instance id starts with the caller's
owner tag (``api.caller``), so only that caller can read, list or cancel the run.
With an ``Idempotency-Key`` the rest of the id is derived from the caller and the
key (see ``api.idempotency``), and a repeat of the same request answers with the
existing instance; without one it is a random UUID.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import unquote, urlsplit, urlunsplit
from uuid import uuid4

import azure.functions as func

from activities.callback import CallbackRefused, check_target, parse_url
from api.caller import ANONYMOUS_OWNER, owner_tag, resolve_caller
from api.idempotency import (
    IDEMPOTENCY_HEADER,
    REPLAYED_HEADER,
    check_idempotency_key,
    idempotent_instance_id,
    request_hash,
)
from api.models import WorkflowRequest
from api.problems import (
    TYPE_IDEMPOTENCY_MISMATCH,
    ApiProblem,
    backend_problem,
    json_response,
    problem_response,
)
from api.status import read_status
from api.validation import parse_workflow_request
from orchestrator.models import OrchestrationInput, RunConfig, SessionRef
from orchestrator.names import ORCHESTRATOR
from settings import SessionSettings
from telemetry import bind, get_logger

logger = get_logger("api")

#: Seconds a caller should wait before the first status query.
RETRY_AFTER_SECONDS = 2
STATUS_ROUTE = "/api/workflowStatus/"


def run_config(settings: SessionSettings, *, timeout_seconds: int | None) -> RunConfig:
    """The settings the orchestration needs, frozen into its input."""
    return RunConfig(
        timeout_seconds=timeout_seconds or settings.default_timeout_seconds,
        max_execution_seconds=settings.max_execution_seconds,
        initial_poll_seconds=settings.initial_poll_interval_seconds,
        max_poll_seconds=settings.execution_poll_interval_seconds,
        poll_backoff_factor=settings.poll_backoff_factor,
        output_tail_chars=settings.output_tail_chars,
        max_output_bytes=settings.max_output_bytes,
        workflow_file_name=settings.workflow_file_name,
        runner_file_name=settings.runner_file_name,
        input_file_name=settings.input_file_name,
        output_file_name=settings.output_file_name,
        max_trace_bytes=settings.max_trace_bytes,
        progress_seconds=settings.progress_interval_seconds,
        pool_retry_attempts=settings.pool_exhausted_retries,
        pool_retry_seconds=settings.pool_exhausted_retry_seconds,
        poll_mode=settings.poll_mode,
        fast_watch_seconds=settings.fast_watch_seconds,
        watch_window_seconds=settings.watch_window_seconds,
        watch_max_poll_seconds=settings.watch_poll_max_seconds,
        session_loss_retries=settings.session_loss_retries,
    )


def session_of(request: WorkflowRequest, *, owner: str) -> SessionRef:
    """The session strategy: ``reuse`` with a ``sessionId`` (named per owner), else ephemeral."""
    if request.session_id and request.session_strategy in (None, "reuse"):
        return SessionRef(strategy="reuse", name=request.session_id, owner=owner)
    return SessionRef(strategy="ephemeral", owner=owner)


def build_orchestration_input(
    request: WorkflowRequest,
    *,
    settings: SessionSettings,
    owner: str = ANONYMOUS_OWNER,
    request_hash: str | None = None,
) -> OrchestrationInput:
    """``OrchestrationInput`` for a validated ``WorkflowRequest``."""
    return OrchestrationInput(
        workflow_code=request.workflow_code,
        input=request.input or {},
        session=session_of(request, owner=owner),
        environment_variables=request.environment_variables or {},
        secret_environment_variables=request.secret_environment_variables or {},
        runner_preamble=request.runner_preamble,
        rerun_on_session_loss=bool(request.rerun_on_session_loss),
        command=request.command_override or settings.python_command,
        config=run_config(settings, timeout_seconds=request.timeout_seconds),
        request_hash=request_hash,
        callback_url=request.callback_url,
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


def without_foreign_key(url: str, caller_code: str | None) -> str:
    """``url`` minus a ``code`` query parameter the caller did not send itself.

    On Azure the management URLs carry the Durable extension's system key, which
    opens every instance of the task hub; handing it to a caller would undo the
    per-owner scoping. A caller that authenticated with ``?code=`` keeps its own.
    """
    parts = urlsplit(url)
    if not parts.query:
        return url
    kept = [
        param
        for param in parts.query.split("&")
        if not param.startswith("code=") or unquote(param[5:]) == caller_code
    ]
    return urlunsplit(parts._replace(query="&".join(kept)))


def accepted_body(
    management: dict[str, str], *, origin: str, instance_id: str, caller_code: str | None = None
) -> dict[str, str]:
    """The Durable management payload (request's origin, no foreign key), plus ``statusUri``."""
    body = {
        key: without_foreign_key(replace_origin(value, origin), caller_code)
        for key, value in management.items()
    }
    body["id"] = instance_id
    body["statusUri"] = status_uri(origin, instance_id)
    return body


def new_instance_id(owner: str) -> str:
    """A fresh instance id carrying ``owner``'s tag, so the run is visible to that owner only."""
    return f"{owner_tag(owner)}-{uuid4().hex}"


async def _start(client: Any, orchestration_input: OrchestrationInput, *, instance_id: str) -> str:
    """``start_new`` under the owner-tagged ``instance_id``; any failure is a 503 problem."""
    try:
        return await client.start_new(
            ORCHESTRATOR, instance_id=instance_id, client_input=orchestration_input.to_wire()
        )
    except Exception as exc:
        raise backend_problem(exc, "start the workflow") from None


def _check_replay(status: Any, *, expected_hash: str | None, instance_id: str) -> None:
    """409 unless the existing instance was started by the same request."""
    try:
        stored = OrchestrationInput.from_wire(status.input_).request_hash
    except (ValueError, TypeError):
        stored = None
    if stored is None or stored != expected_hash:
        raise ApiProblem(
            409,
            "Idempotency key reused",
            f"This {IDEMPOTENCY_HEADER} was already used with a different request "
            f"(instance {instance_id}); use a new key for a new request.",
            type_=TYPE_IDEMPOTENCY_MISMATCH,
            extensions={"instanceId": instance_id},
        )


async def start_idempotent(
    client: Any, orchestration_input: OrchestrationInput, *, instance_id: str
) -> bool:
    """Start ``instance_id`` unless it exists; True when the answer is a replay."""
    expected = orchestration_input.request_hash
    existing = await read_status(client, instance_id, show_input=True)
    if existing is None:
        try:
            await client.start_new(
                ORCHESTRATOR, instance_id, client_input=orchestration_input.to_wire()
            )
            return False
        except Exception as exc:
            # A concurrent identical POST may have created it first: answer as a replay.
            existing = await read_status(client, instance_id, show_input=True)
            if existing is None:
                raise backend_problem(exc, "start the workflow") from None
    _check_replay(existing, expected_hash=expected, instance_id=instance_id)
    return True


async def check_callback(url: str, settings: SessionSettings) -> None:
    """Where ``callbackUrl`` resolves to must be allowed (400 naming why otherwise)."""
    try:
        target = parse_url(url, allow_http=settings.callback_allow_http)
        await check_target(target, allowed_hosts=settings.callback_hosts)
    except CallbackRefused as exc:
        raise ApiProblem(
            400,
            "Invalid request",
            f"callbackUrl {exc}.",
            errors=[{"path": "callbackUrl", "message": str(exc)}],
        ) from None


async def start_workflow(
    req: func.HttpRequest, client: Any, *, settings: SessionSettings | None = None
) -> func.HttpResponse:
    """Handle ``POST /api/workflows``."""
    replayed = False
    try:
        settings, owner = resolve_caller(req.headers, req.params, settings)
        key = check_idempotency_key(req.headers.get(IDEMPOTENCY_HEADER))
        request = parse_workflow_request(
            req.get_body() or b"",
            content_type=req.headers.get("content-type"),
            settings=settings,
        )
        if request.callback_url is not None:
            await check_callback(request.callback_url, settings)
        orchestration_input = build_orchestration_input(
            request,
            settings=settings,
            owner=owner,
            request_hash=request_hash(request) if key is not None else None,
        )
        if key is None:
            instance_id = await _start(
                client, orchestration_input, instance_id=new_instance_id(owner)
            )
        else:
            instance_id = idempotent_instance_id(owner, key)
            replayed = await start_idempotent(client, orchestration_input, instance_id=instance_id)
    except ApiProblem as problem:
        return problem_response(problem)
    origin = origin_of(req.url)
    body = accepted_body(
        client.create_http_management_payload(instance_id),
        origin=origin,
        instance_id=instance_id,
        caller_code=req.params.get("code"),
    )
    with bind(instance_id=instance_id):
        logger.info(
            "%s (%s session)",
            "idempotent replay" if replayed else "started",
            orchestration_input.session.strategy,
        )
    headers = {"Location": body["statusUri"], "Retry-After": str(RETRY_AFTER_SECONDS)}
    if replayed:
        headers[REPLAYED_HEADER] = "true"
    return json_response(body, status_code=202, headers=headers)
