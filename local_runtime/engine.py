"""One orchestrator episode: replay the history through the library, diff the actions.

`run_episode` is pure apart from calling the user's orchestrator: it takes the instance
row, its history and its due messages, and returns an `EpisodeResult` whose `commit` the
dispatcher writes in one transaction. Sequence ids follow the library (one counter per
execution, assigned in yield order, none for external events); retries take ids for their
timers and re-attempts as failures and timers arrive, so a batch of new events ends at the
first retry-related event, keeping the engine's counter in step with the library's.
"""

from __future__ import annotations

import json
import logging
import traceback
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from local_runtime.events import (
    EventType,
    completion_id,
    event,
    format_time,
    parse_time,
)
from local_runtime.invocation import InvocationError, OrchestratorFunction
from local_runtime.store import (
    EpisodeCommit,
    Instance,
    Message,
    NewInstance,
    NewMessage,
    NewWorkItem,
)

log = logging.getLogger("local_runtime.engine")

OUT_OF_PROC_MARKER = "\n\n$OutOfProcData$:"
CONTEXT_SCHEMA = {"upperSchemaVersion": 1, "upperSchemaVersionNew": 2}

# actionType values (azure.durable_functions ActionType)
CALL_ACTIVITY = 0
CALL_ACTIVITY_WITH_RETRY = 1
CALL_SUB_ORCHESTRATOR = 2
CALL_SUB_ORCHESTRATOR_WITH_RETRY = 3
CONTINUE_AS_NEW = 4
CREATE_TIMER = 5
WAIT_FOR_EXTERNAL_EVENT = 6
WHEN_ANY = 11
WHEN_ALL = 12

_KINDS = {
    CALL_ACTIVITY: "activity",
    CALL_ACTIVITY_WITH_RETRY: "activity",
    CALL_SUB_ORCHESTRATOR: "sub-orchestration",
    CALL_SUB_ORCHESTRATOR_WITH_RETRY: "sub-orchestration",
    CONTINUE_AS_NEW: "continue_as_new",
    CREATE_TIMER: "timer",
    WAIT_FOR_EXTERNAL_EVENT: "external event",
    7: "entity call",
    8: "HTTP call",
    9: "entity signal",
}
_UNSUPPORTED = {7, 8, 9}


@dataclass
class EngineState:
    """Per-execution bookkeeping kept in the instance row, next to the history."""

    next_id: int = 0
    leaves: list[dict[str, Any]] = field(default_factory=list)
    groups: dict[str, dict[str, Any]] = field(default_factory=dict)
    task_groups: dict[str, str] = field(default_factory=dict)
    last_timestamp: str | None = None

    @classmethod
    def load(cls, text: str | None) -> EngineState:
        """Parse the JSON column ('{}' for a new execution)."""
        return cls(**json.loads(text or "{}"))

    def dump(self) -> str:
        """The JSON column value."""
        return json.dumps(self.__dict__)

    def allocate(self) -> int:
        """The next sequence id, as the library would assign it."""
        task_id = self.next_id
        self.next_id += 1
        return task_id


@dataclass
class EpisodeResult:
    """What an episode changes, plus what to wake up after it commits."""

    commit: EpisodeCommit
    notify: list[str] = field(default_factory=list)
    timers_added: bool = False
    more: bool = False


class _Finish(Exception):
    """Internal: the episode ends the execution with this status and output."""

    def __init__(self, status: str, output: Any, details: str | None = None) -> None:
        super().__init__(output)
        self.status = status
        self.output = output
        self.details = details


def run_episode(
    *,
    instance: Instance,
    history: list[dict[str, Any]],
    messages: list[Message],
    orchestrators: Mapping[str, OrchestratorFunction],
    now: datetime,
) -> EpisodeResult:
    """Apply due messages to one instance: replay, schedule new work, or finish."""
    return _Episode(instance, history, orchestrators, now).run(messages)


class _Episode:
    """The working state of one episode (one instance, one commit)."""

    def __init__(
        self,
        instance: Instance,
        history: list[dict[str, Any]],
        orchestrators: Mapping[str, OrchestratorFunction],
        now: datetime,
    ) -> None:
        self.instance = instance
        self.history = history
        self.orchestrators = orchestrators
        self.state = EngineState.load(instance.engine_state)
        self.now = now
        last = self.state.last_timestamp
        if last is not None and parse_time(last) >= now:
            now = parse_time(last) + timedelta(microseconds=1)
        self.timestamp = format_time(now)
        self.state.last_timestamp = self.timestamp
        self.commit = EpisodeCommit(instance_id=instance.instance_id)
        self.result = EpisodeResult(commit=self.commit)
        self.events: list[dict[str, Any]] = []
        self.messages: list[NewMessage] = []
        self.work: list[NewWorkItem] = []
        self.children: list[NewInstance] = []
        self.canceled: list[int] = []

    # --- entry ----------------------------------------------------------------------------

    def run(self, messages: list[Message]) -> EpisodeResult:
        inst = self.instance
        if inst.is_terminal:
            self.commit.consumed_message_ids = [m.id for m in messages]
            return self.result
        terminate = next(
            (m for m in messages if m.event["EventType"] == EventType.EXECUTION_TERMINATED), None
        )
        if terminate is not None:
            self.commit.consumed_message_ids = [m.id for m in messages]
            self.events.append(dict(terminate.event, Timestamp=self.timestamp))
            reason = terminate.event.get("Input")
            return self._finish(_Finish("Terminated", reason, details=None))
        batch, consumed, more = self._select(messages)
        self.commit.consumed_message_ids = consumed
        self.result.more = more
        if not batch:
            return self.result
        try:
            state = self._replay(batch)
            self._apply(state, batch)
        except _Finish as finish:
            return self._finish(finish)
        return self._save("Running")

    # --- choosing the events --------------------------------------------------------------

    def _select(self, messages: list[Message]) -> tuple[list[dict], list[int], bool]:
        """Due messages to apply now: dedup, drop stale, stop after a retry event."""
        done = {completion_id(e) for e in self.history} - {None}
        scheduled = {
            e["EventId"]
            for e in self.history
            if e["EventType"]
            in (
                EventType.TASK_SCHEDULED,
                EventType.TIMER_CREATED,
                EventType.SUB_ORCHESTRATION_INSTANCE_CREATED,
            )
        }
        started = any(e["EventType"] == EventType.EXECUTION_STARTED for e in self.history)
        ordered = sorted(messages, key=lambda m: (m.event["EventType"] != 0, m.id))
        batch: list[dict] = []
        consumed: list[int] = []
        for index, message in enumerate(ordered):
            ev = message.event
            execution = message.execution_id
            if execution is not None and execution != self.instance.execution_id:
                consumed.append(message.id)
                continue
            if ev["EventType"] == EventType.EXECUTION_STARTED:
                if started:
                    consumed.append(message.id)
                    continue
                started = True
            elif not started:
                continue  # wait for ExecutionStarted
            task_id = completion_id(ev)
            if task_id is not None:
                if task_id in done or task_id not in scheduled:
                    log.info(
                        "instance %s: ignored duplicate or unknown completion of task #%s",
                        self.instance.instance_id,
                        task_id,
                    )
                    consumed.append(message.id)
                    continue
                done.add(task_id)
            consumed.append(message.id)
            batch.append(ev)
            if self._is_retry_event(ev):
                return batch, consumed, index + 1 < len(ordered)
        return batch, consumed, False

    def _is_retry_event(self, ev: dict[str, Any]) -> bool:
        task_id = completion_id(ev)
        if task_id is None or str(task_id) not in self.state.task_groups:
            return False
        return ev["EventType"] in (
            EventType.TASK_FAILED,
            EventType.SUB_ORCHESTRATION_INSTANCE_FAILED,
            EventType.TIMER_FIRED,
        )

    # --- replay ---------------------------------------------------------------------------

    def _replay(self, batch: list[dict]) -> dict[str, Any]:
        """Call the library's orchestrator handle with the whole history."""
        orchestrator = self.orchestrators.get(self.instance.name)
        if orchestrator is None:
            raise _Finish(
                "Failed",
                f"The orchestrator function '{self.instance.name}' doesn't exist in this app.",
            )
        new = [event(EventType.ORCHESTRATOR_STARTED, self.timestamp), *batch]
        self.events.extend(new)
        context = {
            "history": [dict(e, IsPlayed=True) for e in self.history]
            + [dict(e, IsPlayed=False) for e in new],
            "instanceId": self.instance.instance_id,
            "isReplaying": False,
            "parentInstanceId": self.instance.parent_instance_id,
            "input": self.instance.input,
            **CONTEXT_SCHEMA,
        }
        try:
            return json.loads(orchestrator.handle(json.dumps(context)))
        except Exception as exc:
            message, details, custom = _describe_failure(exc)
            if custom is not _MISSING:
                self.commit.instance_updates["custom_status"] = _json_or_none(custom)
            raise _Finish(
                "Failed",
                f"Orchestrator function '{self.instance.name}' failed: {message}",
                details=details,
            ) from exc

    # --- applying the new state ----------------------------------------------------------

    def _apply(self, state: dict[str, Any], batch: list[dict]) -> None:
        leaves = list(_flatten(state.get("actions") or []))
        self._check_determinism(leaves)
        self._cancel_timers(leaves)
        continue_as_new = None
        for index in range(len(self.state.leaves), len(leaves)):
            action = leaves[index]
            if action["actionType"] == CONTINUE_AS_NEW:
                continue_as_new = action
            self._schedule(index, action)
        if state.get("isDone"):
            continue_as_new = continue_as_new or next(
                (a for a in leaves if a["actionType"] == CONTINUE_AS_NEW), None
            )
        self.commit.instance_updates["custom_status"] = _json_or_none(state.get("customStatus"))
        if state.get("isDone"):
            if continue_as_new is not None:
                self._continue_as_new(continue_as_new)
                return
            raise _Finish("Completed", state.get("output"))
        if batch and self._is_retry_event(batch[-1]):
            self._advance_retry(batch[-1])

    def _check_determinism(self, leaves: list[dict[str, Any]]) -> None:
        for index, recorded in enumerate(self.state.leaves[: len(leaves)]):
            now = _signature(leaves[index])
            if now != recorded["sig"]:
                where = f"task #{recorded['id']}" if recorded["id"] is not None else "an action"
                raise _Finish(
                    "Failed",
                    f"Non-deterministic workflow detected: {where} (action {index}) was recorded "
                    f"as {_describe(recorded['sig'])} but the orchestrator now yields "
                    f"{_describe(now)}. Orchestrator code must make the same calls in the same "
                    "order on every replay.",
                )

    def _cancel_timers(self, leaves: list[dict[str, Any]]) -> None:
        for index, recorded in enumerate(self.state.leaves[: len(leaves)]):
            action = leaves[index]
            if (
                action["actionType"] == CREATE_TIMER
                and action.get("isCanceled")
                and not recorded.get("canceled")
            ):
                recorded["canceled"] = True
                if recorded["id"] is not None:
                    self.canceled.append(recorded["id"])

    def _schedule(self, index: int, action: dict[str, Any]) -> None:
        """Record one new action and create its work (activity, timer, child)."""
        kind = action["actionType"]
        if kind in _UNSUPPORTED:
            raise _Finish(
                "Failed",
                f"The local runtime does not support {_KINDS[kind]} actions "
                f"(actionType {kind}); run under `func start` for that.",
            )
        if kind in (WAIT_FOR_EXTERNAL_EVENT,):
            self.state.leaves.append({"sig": _signature(action), "id": None})
            return
        task_id = self.state.allocate()
        self.state.leaves.append({"sig": _signature(action), "id": task_id})
        if kind == CONTINUE_AS_NEW:
            return
        if kind == CREATE_TIMER:
            self._create_timer(task_id, action["fireAt"], canceled=bool(action.get("isCanceled")))
            if action.get("isCanceled"):
                self.state.leaves[-1]["canceled"] = True
            return
        if kind in (CALL_ACTIVITY_WITH_RETRY, CALL_SUB_ORCHESTRATOR_WITH_RETRY):
            options = action.get("retryOptions") or {}
            self.state.groups[str(index)] = {
                "action": action,
                "attempts": 1,
                "max": int(options.get("maxNumberOfAttempts") or 1),
                "interval_ms": float(options.get("firstRetryIntervalInMilliseconds") or 0),
            }
            self.state.task_groups[str(task_id)] = str(index)
        self._start_task(task_id, action)

    def _start_task(self, task_id: int, action: dict[str, Any]) -> None:
        kind = action["actionType"]
        name = action["functionName"]
        if kind in (CALL_ACTIVITY, CALL_ACTIVITY_WITH_RETRY):
            self.events.append(
                event(
                    EventType.TASK_SCHEDULED,
                    self.timestamp,
                    event_id=task_id,
                    Name=name,
                    Input=action.get("input"),
                )
            )
            self.work.append(
                NewWorkItem(
                    instance_id=self.instance.instance_id,
                    execution_id=self.instance.execution_id,
                    task_id=task_id,
                    name=name,
                    input=action.get("input"),
                )
            )
            log.info(
                "instance %s: activity %s scheduled as task #%d",
                self.instance.instance_id,
                name,
                task_id,
            )
            return
        child_id = action.get("instanceId") or f"{self.instance.instance_id}:{task_id}"
        self.events.append(
            event(
                EventType.SUB_ORCHESTRATION_INSTANCE_CREATED,
                self.timestamp,
                event_id=task_id,
                Name=name,
                InstanceId=child_id,
                Input=action.get("input"),
            )
        )
        self.children.append(
            NewInstance(
                instance_id=child_id,
                name=name,
                execution_id=uuid.uuid4().hex,
                input=action.get("input"),
                now=self.timestamp,
                parent_instance_id=self.instance.instance_id,
                parent_execution_id=self.instance.execution_id,
                parent_task_id=task_id,
            )
        )
        self.result.notify.append(child_id)
        self.result.more = True  # a child id still in use fails the task with a new message
        log.info(
            "instance %s: sub-orchestration %s started as %s (task #%d)",
            self.instance.instance_id,
            name,
            child_id,
            task_id,
        )

    def _create_timer(self, task_id: int, fire_at: str, *, canceled: bool = False) -> None:
        self.events.append(
            event(EventType.TIMER_CREATED, self.timestamp, event_id=task_id, FireAt=fire_at)
        )
        if canceled:
            return
        self.messages.append(
            NewMessage(
                instance_id=self.instance.instance_id,
                execution_id=self.instance.execution_id,
                visible_at=parse_time(fire_at).timestamp(),
                task_id=task_id,
                event=event(EventType.TIMER_FIRED, fire_at, TimerId=task_id, FireAt=fire_at),
            )
        )
        self.result.timers_added = True

    def _advance_retry(self, ev: dict[str, Any]) -> None:
        """Mirror the library's RetryAbleTask: timer after a failure, re-attempt after it."""
        task_id = completion_id(ev)
        group_key = self.state.task_groups[str(task_id)]
        group = self.state.groups[group_key]
        if ev["EventType"] == EventType.TIMER_FIRED:
            if group["attempts"] >= group["max"]:
                return  # the library surfaces the error now
            attempt_id = self.state.allocate()
            group["attempts"] += 1
            self.state.task_groups[str(attempt_id)] = group_key
            log.info(
                "instance %s: retry attempt %d of task #%s as task #%d",
                self.instance.instance_id,
                group["attempts"],
                task_id,
                attempt_id,
            )
            self._start_task(attempt_id, group["action"])
            return
        timer_id = self.state.allocate()
        self.state.task_groups[str(timer_id)] = group_key
        fire_at = parse_time(self.timestamp) + timedelta(milliseconds=group["interval_ms"])
        self._create_timer(timer_id, format_time(fire_at))

    # --- finishing ------------------------------------------------------------------------

    def _continue_as_new(self, action: dict[str, Any]) -> None:
        inst = self.instance
        new_execution = uuid.uuid4().hex
        self.commit.reset_history = True
        self.commit.drop_stale_execution = inst.execution_id
        self.events = []
        self.work = []
        self.canceled = []
        self.messages = [m for m in self.messages if m.execution_id is None]
        self.messages.append(
            NewMessage(
                instance_id=inst.instance_id,
                execution_id=new_execution,
                event=event(
                    EventType.EXECUTION_STARTED,
                    self.timestamp,
                    Name=inst.name,
                    Input=action.get("input"),
                    Version="",
                    OrchestrationInstance={
                        "InstanceId": inst.instance_id,
                        "ExecutionId": new_execution,
                    },
                ),
            )
        )
        self.result.notify.append(inst.instance_id)
        self.state = EngineState(last_timestamp=self.timestamp)
        self.commit.instance_updates.update(
            execution_id=new_execution, input=action.get("input"), output=None
        )
        log.info("instance %s: continued as new with a fresh history", inst.instance_id)

    def _finish(self, finish: _Finish) -> EpisodeResult:
        inst = self.instance
        output_json = _json_or_none(finish.output)
        if finish.status != "Terminated":
            self.events.append(
                event(
                    EventType.EXECUTION_COMPLETED,
                    self.timestamp,
                    OrchestrationStatus=finish.status,
                    Result=output_json,
                    **({"FailureDetails": finish.details} if finish.details else {}),
                )
            )
        self.work = []
        self.messages = []
        self.children = []
        self.commit.drop_pending = True
        self.commit.instance_updates["output"] = output_json
        if inst.parent_instance_id and inst.parent_task_id is not None:
            if finish.status == "Completed":
                ev = event(
                    EventType.SUB_ORCHESTRATION_INSTANCE_COMPLETED,
                    self.timestamp,
                    TaskScheduledId=inst.parent_task_id,
                    Result=output_json,
                )
            else:
                reason = finish.output if isinstance(finish.output, str) else output_json
                if finish.status == "Terminated":
                    reason = f"Sub-orchestration '{inst.instance_id}' was terminated: {reason}"
                ev = event(
                    EventType.SUB_ORCHESTRATION_INSTANCE_FAILED,
                    self.timestamp,
                    TaskScheduledId=inst.parent_task_id,
                    Reason=reason,
                    Details=finish.details,
                )
            self.messages.append(
                NewMessage(
                    instance_id=inst.parent_instance_id,
                    execution_id=inst.parent_execution_id,
                    task_id=inst.parent_task_id,
                    event=ev,
                )
            )
            self.result.notify.append(inst.parent_instance_id)
        if finish.status == "Failed":
            log.info("instance %s: %s -> Failed: %s", inst.instance_id, inst.status, finish.output)
        return self._save(finish.status)

    def _save(self, status: str) -> EpisodeResult:
        inst = self.instance
        if self.events and status not in ("Terminated",):
            self.events.append(event(EventType.ORCHESTRATOR_COMPLETED, self.timestamp))
        self.commit.append_events = self.events
        self.commit.new_messages = self.messages
        self.commit.new_work_items = self.work
        self.commit.new_instances = self.children
        self.commit.canceled_timer_ids = self.canceled
        self.commit.instance_updates.update(
            status=status,
            last_updated_time=self.timestamp,
            engine_state=self.state.dump(),
        )
        if status != inst.status and status != "Failed":  # _finish logged Failed with its reason
            log.info("instance %s: %s -> %s", inst.instance_id, inst.status, status)
        return self.result


# --- helpers ------------------------------------------------------------------------------

_MISSING = object()


def _flatten(actions: Iterable[Any]) -> Iterable[dict[str, Any]]:
    """Leaf actions in id order: V2 sends [[...]], V1 one list per yield; compounds nest."""
    for item in actions:
        if isinstance(item, list):
            yield from _flatten(item)
        elif item.get("actionType") in (WHEN_ANY, WHEN_ALL):
            yield from _flatten(item.get("compoundActions") or [])
        else:
            yield item


def _signature(action: dict[str, Any]) -> list[Any]:
    kind = _KINDS.get(action["actionType"], f"action {action['actionType']}")
    name = action.get("functionName") or action.get("externalEventName")
    return [kind, name]


def _describe(sig: list[Any]) -> str:
    return f"{sig[0]} '{sig[1]}'" if sig[1] else str(sig[0])


def _json_or_none(value: Any) -> str | None:
    return None if value is None else json.dumps(value)


def _describe_failure(exc: Exception) -> tuple[str, str, Any]:
    """(message, details, custom status or _MISSING) from the worker's failure.

    As the Durable extension does, the state after `$OutOfProcData$:` (the library's error
    and custom status) wins over the exception text.
    """
    if isinstance(exc, InvocationError):
        text, details = exc.message, exc.stack_trace.strip()
    else:
        cause = exc.__cause__ or exc
        text, details = str(exc), "".join(traceback.format_exception(cause)).strip()
    custom: Any = _MISSING
    message = text
    if OUT_OF_PROC_MARKER in text:
        message, _, data = text.partition(OUT_OF_PROC_MARKER)
        message = message.strip()
        try:
            state = json.loads(data)
            message = state.get("error") or message
            custom = state.get("customStatus")
        except json.JSONDecodeError:
            pass
    return message or type(exc).__name__, details, custom
