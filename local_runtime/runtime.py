"""LocalRuntime: the store, the dispatcher, the activity worker and the timer scheduler.

The HTTP layers (`durable_api`, `http_host`) call the management operations here; the
engine parts are started on the server's event loop by `start()` and stopped by `stop()`.
"""

from __future__ import annotations

import asyncio
import enum
import json
import logging
import secrets
import uuid
from typing import Any

from local_runtime.config import RuntimeConfig
from local_runtime.dispatcher import OrchestrationDispatcher
from local_runtime.errors import LocalRuntimeError
from local_runtime.events import EventType, event, format_time, utc_now
from local_runtime.invocation import AppIndex, Callers
from local_runtime.loader import in_process_invoker
from local_runtime.store import DurableStore, Instance, NewInstance, NewMessage, SqliteStore
from local_runtime.worker import ActivityWorker, TimerScheduler

log = logging.getLogger("local_runtime")


class UnknownOrchestratorError(LocalRuntimeError):
    """start_new named a function that is not an orchestrator of this app."""


class Outcome(enum.Enum):
    """Result of a management operation on an instance."""

    ACCEPTED = "accepted"
    NOT_FOUND = "not found"
    GONE = "finished"


class LocalRuntime:
    """One app, one store, one engine; start/stop on the serving event loop."""

    def client_binding(self, task_hub: str | None = None) -> str:
        """The durable client binding a function's ``durable_client_input`` receives.

        Its management URLs carry the system key, as on Azure (a function must not hand
        them to callers as they are).
        """
        from local_runtime.durable_api import client_binding  # it imports this module

        hub = task_hub or self.config.options.hub_name
        return client_binding(
            self.config.base_url, hub, rpc_token=self.rpc_token, code=self.config.auth.system_key
        )

    def __init__(
        self,
        *,
        app: Any = None,
        config: RuntimeConfig,
        store: DurableStore | None = None,
        load_rules: bool = True,
        invoker: Callers | None = None,
    ) -> None:
        """Serve `app` called in this process, or the functions of `invoker` (the worker)."""
        self.config = config
        #: the secret in the durable client's RPC path (known to bindings, never to callers)
        self.rpc_token = secrets.token_urlsafe(32)
        self.invoker = invoker or in_process_invoker(app, load_rules=load_rules)
        self.index: AppIndex = self.invoker.index
        self.store: DurableStore = store or SqliteStore(config.db_path)
        options = config.options
        self.timers = TimerScheduler(store=self.store, on_due=self._notify)
        self.worker = ActivityWorker(
            store=self.store,
            activities=self.index.activities,
            max_concurrency=options.max_concurrent_activities,
            on_recorded=self._notify,
            client_binding=self.client_binding,
        )
        self.dispatcher = OrchestrationDispatcher(
            store=self.store,
            orchestrators=self.index.orchestrators,
            on_work_items=self.worker.submit,
            on_timers_added=self.timers.wake,
            max_workers=options.max_concurrent_orchestrations,
        )
        self._started = False

    # --- lifecycle ------------------------------------------------------------------------

    async def start(self) -> None:
        """Start the worker and scheduler and resume unfinished work from the store."""
        loop = asyncio.get_running_loop()
        self.worker.start(loop)
        pending = self.store.pending_work_items()
        if pending:
            log.info("resuming %d pending activity work item(s)", len(pending))
            self.worker.submit(pending)
        self.timers.start(loop)
        self._started = True

    async def stop(self) -> None:
        """Stop accepting work; running activities are cancelled and re-run next start."""
        if not self._started:
            return
        self._started = False
        await self.timers.stop()
        await asyncio.to_thread(self.dispatcher.close)
        await self.worker.stop()
        self.store.close()
        await asyncio.to_thread(self.invoker.close)

    def _notify(self, instance_id: str) -> None:
        self.dispatcher.notify(instance_id)

    # --- management operations ------------------------------------------------------------

    def start_new(self, name: str, *, instance_id: str | None, input_json: str | None) -> str:
        """Create an instance and run its first episode; returns the instance id."""
        if name not in self.index.orchestrators:
            raise UnknownOrchestratorError(
                f"The function '{name}' doesn't exist, is disabled, or is not an orchestrator "
                "function. Additional info: the app's orchestrators are "
                f"{sorted(self.index.orchestrators)}."
            )
        instance_id = instance_id or uuid.uuid4().hex
        self.store.create_instance(
            NewInstance(
                instance_id=instance_id,
                name=name,
                execution_id=uuid.uuid4().hex,
                input=input_json,
                now=format_time(utc_now()),
            )
        )
        log.info("instance %s: created (%s) -> Pending", instance_id, name)
        self._notify(instance_id)
        return instance_id

    def raise_event(self, instance_id: str, name: str, input_json: str | None) -> Outcome:
        """Deliver an external event (kept for the waiting or a later wait)."""
        return self._send(
            instance_id,
            event(EventType.EVENT_RAISED, format_time(utc_now()), Name=name, Input=input_json),
            f"event {name!r} raised",
        )

    def terminate(self, instance_id: str, reason: str | None) -> Outcome:
        """Terminate a running instance with a reason (becomes its output)."""
        return self._send(
            instance_id,
            event(EventType.EXECUTION_TERMINATED, format_time(utc_now()), Input=reason),
            "termination requested",
        )

    def suspend(self, instance_id: str, reason: str | None) -> Outcome:
        """Hold the instance's messages until resumed."""
        return self._set_suspended(instance_id, True, reason)

    def resume(self, instance_id: str, reason: str | None) -> Outcome:
        """Release a suspended instance."""
        return self._set_suspended(instance_id, False, reason)

    def get(self, instance_id: str) -> Instance | None:
        """The instance row."""
        return self.store.get_instance(instance_id)

    def _send(self, instance_id: str, ev: dict[str, Any], what: str) -> Outcome:
        instance = self.store.get_instance(instance_id)
        if instance is None:
            return Outcome.NOT_FOUND
        if instance.is_terminal:
            return Outcome.GONE
        self.store.enqueue(NewMessage(instance_id=instance_id, event=ev))
        log.info("instance %s: %s", instance_id, what)
        self._notify(instance_id)
        return Outcome.ACCEPTED

    def _set_suspended(self, instance_id: str, suspend: bool, reason: str | None) -> Outcome:
        instance = self.store.get_instance(instance_id)
        if instance is None:
            return Outcome.NOT_FOUND
        if instance.is_terminal:
            return Outcome.GONE
        target = "Suspended" if suspend else "Running"
        if (instance.status == "Suspended") != suspend:
            if not self.store.set_status(instance_id, target, now=format_time(utc_now())):
                return Outcome.GONE  # it finished since we read it
            log.info(
                "instance %s: %s -> %s (%s)", instance_id, instance.status, target, reason or ""
            )
        if not suspend:
            self._notify(instance_id)
        return Outcome.ACCEPTED


def decode_payload(body: bytes) -> str | None:
    """A start/raise body as JSON text: the client double-encodes, curl users do not."""
    if not body.strip():
        return None
    try:
        value = json.loads(body)
    except json.JSONDecodeError:
        return json.dumps(body.decode("utf-8", errors="replace"))
    if isinstance(value, str):
        try:
            json.loads(value)
        except json.JSONDecodeError:
            return json.dumps(value)
        return value
    return json.dumps(value)
