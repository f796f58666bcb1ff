"""History event constructors and timestamps in the shape azure-functions-durable reads."""

from __future__ import annotations

from datetime import UTC, datetime
from enum import IntEnum
from typing import Any

from dateutil.parser import isoparse


class EventType(IntEnum):
    """DTFx history event types (azure.durable_functions HistoryEventType)."""

    EXECUTION_STARTED = 0
    EXECUTION_COMPLETED = 1
    EXECUTION_FAILED = 2
    EXECUTION_TERMINATED = 3
    TASK_SCHEDULED = 4
    TASK_COMPLETED = 5
    TASK_FAILED = 6
    SUB_ORCHESTRATION_INSTANCE_CREATED = 7
    SUB_ORCHESTRATION_INSTANCE_COMPLETED = 8
    SUB_ORCHESTRATION_INSTANCE_FAILED = 9
    TIMER_CREATED = 10
    TIMER_FIRED = 11
    ORCHESTRATOR_STARTED = 12
    ORCHESTRATOR_COMPLETED = 13
    EVENT_SENT = 14
    EVENT_RAISED = 15
    CONTINUE_AS_NEW = 16
    GENERIC_EVENT = 17
    HISTORY_STATE = 18
    EXECUTION_SUSPENDED = 19
    EXECUTION_RESUMED = 20


#: completion events and the field naming the task they complete
COMPLETION_KEYS: dict[int, str] = {
    EventType.TASK_COMPLETED: "TaskScheduledId",
    EventType.TASK_FAILED: "TaskScheduledId",
    EventType.SUB_ORCHESTRATION_INSTANCE_COMPLETED: "TaskScheduledId",
    EventType.SUB_ORCHESTRATION_INSTANCE_FAILED: "TaskScheduledId",
    EventType.TIMER_FIRED: "TimerId",
}


def format_time(moment: datetime) -> str:
    """UTC ISO-8601 with microseconds and `Z` (never naive: the library compares them)."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_time(text: str) -> datetime:
    """Parse an ISO timestamp; naive ones are taken as UTC."""
    moment = isoparse(text)
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def utc_now() -> datetime:
    """The current UTC time."""
    return datetime.now(UTC)


def event(event_type: EventType, timestamp: str, *, event_id: int = -1, **fields: Any) -> dict:
    """One history event with the base fields every event needs."""
    return {
        "EventType": int(event_type),
        "EventId": event_id,
        "IsPlayed": False,
        "Timestamp": timestamp,
        **fields,
    }


def completion_id(ev: dict[str, Any]) -> int | None:
    """The task id a completion event refers to, or None for other events."""
    key = COMPLETION_KEYS.get(ev["EventType"])
    return ev.get(key) if key else None
