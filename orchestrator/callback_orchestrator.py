"""``CallbackOrchestrator``: deliver one run's webhook, retrying with back-off for a while.

Deterministic like every orchestrator: time from the context, waits on durable timers.
A try that finds the run still finishing (it schedules its webhook just before it
completes) waits a second without counting. Network errors, 408, 429 and 5xx are tried
again after 1, 2, 4 ... 60 s until ``retry_seconds`` after the first try; any other
answer ends the delivery. Custom status and output hold the outcome for the run's status.
"""

from __future__ import annotations

from collections.abc import Generator
from datetime import timedelta
from typing import Any

import azure.durable_functions as df

from orchestrator.models import CallbackInput, CallbackOutcome, DeliverRequest, DeliverResult
from orchestrator.names import DELIVER_CALLBACK

FIRST_BACKOFF_SECONDS = 1.0
MAX_BACKOFF_SECONDS = 60.0
#: A run still finishing is looked at again this often (these tries are not counted).
PENDING_SECONDS = 1.0


def _outcome(state: str, attempts: int, last: DeliverResult | None, url: str) -> dict[str, Any]:
    return CallbackOutcome(
        state=state,  # type: ignore[arg-type]
        attempts=attempts,
        last_status=last.status if last else None,
        last_error=last.error if last else None,
        url=url,
    ).model_dump(mode="json", by_alias=True)


def callback_orchestrator(context: df.DurableOrchestrationContext) -> Generator[Any, Any, Any]:
    """Try until delivered, refused, or out of time; the outcome is the output."""
    spec = CallbackInput.from_wire(context.get_input(expected_type=str))
    started = context.current_utc_datetime
    give_up = started + timedelta(seconds=spec.retry_seconds)
    attempts = 0
    backoff = FIRST_BACKOFF_SECONDS
    last: DeliverResult | None = None
    context.set_custom_status(_outcome("pending", 0, None, spec.callback_url))
    while True:
        raw = yield context.call_activity(
            DELIVER_CALLBACK,
            DeliverRequest(
                run_instance_id=spec.run_instance_id,
                callback_url=spec.callback_url,
                attempt=attempts + 1,
                timeout_seconds=spec.timeout_seconds,
            ).to_wire(),
        )
        result = DeliverResult.from_wire(raw)
        now = context.current_utc_datetime
        if result.pending:
            if now >= give_up + timedelta(seconds=spec.timeout_seconds):
                return _outcome("failed", attempts, result, spec.callback_url)
            yield context.create_timer(now + timedelta(seconds=PENDING_SECONDS))
            continue
        attempts += 1
        last = result
        if result.delivered:
            return _outcome("delivered", attempts, last, spec.callback_url)
        wake = now + timedelta(seconds=backoff)
        if not result.retry or wake > give_up:
            return _outcome("failed", attempts, last, spec.callback_url)
        context.set_custom_status(_outcome("retrying", attempts, last, spec.callback_url))
        yield context.create_timer(wake)
        backoff = min(backoff * 2, MAX_BACKOFF_SECONDS)
