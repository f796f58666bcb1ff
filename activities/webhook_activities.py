"""The two webhook activities: schedule a run's delivery, and make one attempt at it.

Delivery runs in an orchestration of its own (``CallbackOrchestrator``), started by
``ScheduleCallback`` as the run ends, so a slow or failing receiver never holds the run:
its status turns Completed or Failed at once and the webhook follows. Both activities
take a durable client (``durable_client_input``): one to start that orchestration, the
other to read the run's status, which is what gets delivered (the same JSON as
``GET /api/workflowStatus/{id}``, built by the same code).
"""

from __future__ import annotations

import time
from typing import Any

from activities.callback import (
    ATTEMPT_HEADER,
    EVENT_ID_HEADER,
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    CallbackRefused,
    check_target,
    event_id,
    parse_url,
    payload,
    post_once,
    signature,
)
from api.status import TERMINAL, runtime_of, status_document
from orchestrator.models import (
    CallbackInput,
    DeliverRequest,
    DeliverResult,
    ScheduleCallbackRequest,
    callback_instance_id,
)
from orchestrator.names import CALLBACK_ORCHESTRATOR
from settings import SessionSettings, get_settings
from telemetry import bind, get_logger

logger = get_logger("activities")


async def start_delivery(
    client: Any, run_instance_id: str, callback_url: str, settings: SessionSettings
) -> str:
    """Start the run's delivery orchestration (once: a second start finds it there)."""
    instance_id = callback_instance_id(run_instance_id)
    existing = await client.get_status(instance_id)
    if runtime_of(existing) is not None:
        return instance_id
    document = CallbackInput(
        run_instance_id=run_instance_id,
        callback_url=callback_url,
        retry_seconds=settings.callback_retry_seconds,
        timeout_seconds=settings.callback_timeout_seconds,
    )
    await client.start_new(
        CALLBACK_ORCHESTRATOR, instance_id=instance_id, client_input=document.to_wire()
    )
    return instance_id


async def schedule_callback(
    raw: str, client: Any, *, settings: SessionSettings | None = None
) -> str:
    """``ScheduleCallback``: start the delivery of a run that is ending; its id."""
    request = ScheduleCallbackRequest.from_wire(raw)
    settings = settings or get_settings()
    with bind(instance_id=request.run_instance_id):
        instance_id = await start_delivery(
            client, request.run_instance_id, request.callback_url, settings
        )
        logger.info("webhook delivery scheduled")
    return instance_id


async def deliver_callback(
    raw: str, client: Any, *, settings: SessionSettings | None = None, transport: Any = None
) -> str:
    """``DeliverCallback``: POST the run's final status once, signed; what happened."""
    request = DeliverRequest.from_wire(raw)
    settings = settings or get_settings()
    status = await client.get_status(request.run_instance_id)
    runtime = runtime_of(status)
    if runtime not in TERMINAL:
        return DeliverResult(pending=True).to_wire()  # the run is still finishing
    secret = settings.callback_signing_secret
    if secret is None:
        error = "webhooks are not configured (AzureSession__CallbackSigningSecret)"
        return DeliverResult(error=error).to_wire()
    try:
        target = parse_url(request.callback_url, allow_http=settings.callback_allow_http)
        addresses = await check_target(target, allowed_hosts=settings.callback_hosts)
    except CallbackRefused as exc:  # e.g. the name now points into the network
        return DeliverResult(error=f"callbackUrl {exc}").to_wire()
    document = status_document(
        instance_id=request.run_instance_id,
        runtime_status=runtime,
        custom_status=status.custom_status,
        created_time=status.created_time,
        last_updated_time=status.last_updated_time,
        output=status.output,
    )
    document.pop("callback", None)  # the delivery's own state is not part of what it delivers
    body = payload(document)
    timestamp = int(time.time())
    headers = {
        EVENT_ID_HEADER: event_id(request.run_instance_id, runtime or ""),
        TIMESTAMP_HEADER: str(timestamp),
        SIGNATURE_HEADER: signature(secret.get_secret_value(), timestamp, body),
        ATTEMPT_HEADER: str(request.attempt),
    }
    attempt = await post_once(
        target,
        addresses,
        body=body,
        headers=headers,
        timeout=request.timeout_seconds,
        transport=transport,
    )
    with bind(instance_id=request.run_instance_id):
        logger.info(
            "webhook attempt %d: %s",
            request.attempt,
            "delivered" if attempt.delivered else attempt.error,
        )
    return DeliverResult(
        delivered=attempt.delivered,
        retry=attempt.retry,
        status=attempt.status,
        error=attempt.error,
    ).to_wire()
