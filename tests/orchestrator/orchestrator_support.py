"""Fakes for driving ``WorkflowOrchestrator``: a recording context and a scripted session."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from orchestrator.models import OrchestrationInput, RunConfig, SessionRef

START = datetime(2025, 1, 1, 12, 0, 0, tzinfo=UTC)
#: Orchestration time each activity takes in the fakes.
ACTIVITY_TIME = timedelta(milliseconds=100)


def make_input(**overrides: Any) -> OrchestrationInput:
    """A valid orchestration input; ``config`` overrides go in ``config={...}``."""
    config = {
        "timeout_seconds": 60,
        "max_execution_seconds": 220,
        "initial_poll_seconds": 0.5,
        "max_poll_seconds": 10.0,
        "poll_backoff_factor": 1.5,
        "output_tail_chars": 2000,
        "retry_first_interval_ms": 1000,
        "retry_max_attempts": 4,
        **overrides.pop("config", {}),
    }
    values: dict[str, Any] = {
        "workflow_code": "def run(payload):\n    return payload\n",
        "input": {"x": 1},
        "session": SessionRef(strategy="ephemeral"),
        "command": "python /mnt/data/run.py",
        "config": RunConfig(**config),
        **overrides,
    }
    return OrchestrationInput(**values)


@dataclass
class Task:
    """What the fake context hands back for a yield."""

    kind: str  # "activity" | "timer"
    name: str = ""
    payload: dict[str, Any] = field(default_factory=dict)
    retry: Any = None
    fire_at: datetime | None = None
    created_at: datetime | None = None


class FakeContext:
    """Records every orchestration API call; time moves only when the driver moves it."""

    def __init__(self, spec: OrchestrationInput, *, instance_id: str | None = None) -> None:
        self.instance_id = instance_id or f"inst{uuid.uuid4().hex[:12]}"
        self.current_utc_datetime = START
        self.is_replaying = False
        self._input = spec.to_wire()
        self.statuses: list[dict[str, Any]] = []
        self.tasks: list[Task] = []
        self._uuids = 0

    def get_input(self, expected_type: type | None = None) -> Any:
        return self._input

    def call_activity_with_retry(
        self, name: str, retry: Any, payload: Any, expected_type: type | None = None
    ) -> Task:
        assert isinstance(payload, str), "payloads cross the durable boundary as JSON text"
        task = Task("activity", name=name, payload=json.loads(payload), retry=retry)
        self.tasks.append(task)
        return task

    def create_timer(self, fire_at: datetime) -> Task:
        task = Task("timer", fire_at=fire_at, created_at=self.current_utc_datetime)
        self.tasks.append(task)
        return task

    def set_custom_status(self, status: Any) -> None:
        json.dumps(status)
        self.statuses.append(status)

    def new_uuid(self) -> str:
        self._uuids += 1
        return str(uuid.uuid5(uuid.NAMESPACE_OID, f"{self.instance_id}-{self._uuids}"))

    # --- views for assertions ---------------------------------------------------

    @property
    def activity_names(self) -> list[str]:
        return [t.name for t in self.tasks if t.kind == "activity"]

    @property
    def timers(self) -> list[datetime]:
        return [t.fire_at for t in self.tasks if t.kind == "timer"]

    @property
    def timer_delays(self) -> list[float]:
        """Seconds between creating each timer and its fire time."""
        return [
            (t.fire_at - t.created_at).total_seconds()
            for t in self.tasks
            if t.kind == "timer" and t.fire_at and t.created_at
        ]

    @property
    def phases(self) -> list[str]:
        phases: list[str] = []
        for status in self.statuses:
            if not phases or phases[-1] != status["phase"]:
                phases.append(status["phase"])
        return phases


def summary(exit_code: int | None = 0, **extra: Any) -> dict[str, Any]:
    return {
        "exit_code": exit_code,
        "timed_out": False,
        "duration_ms": 1234,
        "stdout_tail": "hello out",
        "stderr_tail": "hello err",
        "error": None,
        **extra,
    }


class FakeSession:
    """Scripted activity results: ``polls`` is the sequence of GetExecution answers."""

    def __init__(
        self,
        *,
        polls: list[dict[str, Any]] | None = None,
        output: dict[str, Any] | None = None,
        results: dict[str, Any] | None = None,
    ) -> None:
        self.polls = list(
            polls
            if polls is not None
            else [
                {"status": "Running", "terminal": False},
                {"status": "Succeeded", "terminal": True, "summary": summary()},
            ]
        )
        self.output = (
            output
            if output is not None
            else {"found": True, "document": {"status": "succeeded", "result": {"answer": 42}}}
        )
        self.results = results or {}
        #: whether a watching activity that saw the end cleaned up itself
        self.cleans = True

    def answer(self, task: Task) -> Any:
        """The activity's result dict (or an Exception to throw into the generator)."""
        if task.name in self.results:
            value = self.results[task.name]
            return value(task) if callable(value) else value
        if task.name == "UploadWorkflowFiles":
            return {"files": ["workflow.py", "run.py", "input.json"], "total_bytes": 10}
        if task.name == "StartExecution":
            return {"execution_id": task.payload["execution_id"], "status": "Running"}
        if task.name == "GetExecution":
            if len(self.polls) > 1:
                return self.polls.pop(0)
            return self.polls[0]
        if task.name == "DownloadOutput":
            return self.output
        if task.name == "CleanupSession":
            return {"deleted": task.payload["file_names"]}
        if task.name == "StopSession":
            return {"stopped": True}
        if task.name in ("RunExecution", "WatchExecution"):
            return self.watch_report(task)
        raise AssertionError(f"unexpected activity {task.name}")

    def watch_report(self, task: Task) -> dict[str, Any]:
        """``watch`` mode: the next poll, and what a watching activity does when it ends."""
        poll = self.polls.pop(0) if len(self.polls) > 1 else self.polls[0]
        watch = task.payload["watch"]
        report: dict[str, Any] = {"poll": poll, "run_ms": int(watch["seconds"] * 1000)}
        if task.name == "RunExecution":
            report |= {"execution_id": task.payload["execution_id"], "upload_ms": 40}
        if poll.get("terminal"):
            report["run_ms"] = 30
            if poll.get("status") == "Succeeded":
                report["download"] = self.output
            report["cleaned"] = self.cleans
            report["collect_ms"] = 5
        return report


def drive(generator: Any, context: FakeContext, session: FakeSession) -> Any:
    """Run the orchestrator generator to its end, like the durable executor does."""
    value: Any = None
    throw = False
    while True:
        try:
            task = generator.throw(value) if throw else generator.send(value)
        except StopIteration as stop:
            return stop.value
        if task.kind == "timer":
            assert task.fire_at is not None
            assert task.fire_at > context.current_utc_datetime
            context.current_utc_datetime = task.fire_at
            value, throw = None, False
        else:
            value = session.answer(task)
            throw = isinstance(value, BaseException)
            context.current_utc_datetime += ACTIVITY_TIME
            watched = task.payload.get("watch")
            poll = value.get("poll") if isinstance(value, dict) else None
            if watched and poll is not None and not poll.get("terminal"):
                # a watching activity that did not see the end used its whole window
                context.current_utc_datetime += timedelta(seconds=watched["seconds"])
