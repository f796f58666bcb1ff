"""WorkflowOrchestrator through the library's real orchestrator handle and history JSON."""

from __future__ import annotations

import json
import uuid
from datetime import timedelta

import pytest
from orchestrator_support import START, FakeSession, Task, make_input, summary
from replay_support import STAMP, ReplayEngine

import function_app
from orchestrator.errors import parse_error_message


def handle():
    return function_app.WorkflowOrchestrator.build().get_user_function()


def engine_for(session: FakeSession, spec=None) -> ReplayEngine:
    spec = spec or make_input()
    calls: list[tuple[str, dict]] = []

    def activity(name: str, payload: str) -> dict:
        payload = json.loads(payload)
        calls.append((name, payload))
        # real activities return the result model's JSON text
        return json.dumps(session.answer(Task("activity", name=name, payload=payload)))

    engine = ReplayEngine(
        handle(),
        instance_id=f"replay{uuid.uuid4().hex[:10]}",
        input_=spec.to_wire(),
        start=START,
        activity=activity,
    )
    engine.calls = calls  # type: ignore[attr-defined]
    return engine


def test_raw_generator_is_reachable_through_the_registered_function():
    fn = function_app.WorkflowOrchestrator.build().get_user_function().orchestrator_function
    assert fn.__name__ == "WorkflowOrchestrator"


def test_happy_path_to_is_done():
    engine = engine_for(FakeSession())
    state = engine.run()

    assert state["isDone"] is True
    output = state["output"]
    assert output["status"] == "succeeded"
    assert output["result"] == {"answer": 42}
    assert output["polls"] == 2
    assert state["customStatus"]["phase"] == "completed"
    names = [name for name, _ in engine.calls]
    assert names == [
        "UploadWorkflowFiles",
        "StartExecution",
        "GetExecution",
        "GetExecution",
        "DownloadOutput",
        "CleanupSession",
    ]
    # actions as the host sees them: retry calls (type 1) with the configured options
    first = engine.states[0]["actions"][0][0]
    assert first["actionType"] == 12
    retry_call = first["compoundActions"][0]
    assert retry_call["actionType"] == 1
    assert retry_call["functionName"] == "UploadWorkflowFiles"
    assert retry_call["retryOptions"] == {
        "firstRetryIntervalInMilliseconds": 1000,
        "maxNumberOfAttempts": 4,
    }
    # timers fire on orchestration time: start + 0.2 s (two activities) + 0.5 s
    timers = [a for _, a in engine.scheduled if a["actionType"] == 5]
    assert timers[0]["fireAt"] == (START + timedelta(seconds=0.7)).strftime(STAMP)
    # replays are deterministic: the same execution id in every episode's actions
    starts = {p["execution_id"] for n, p in engine.calls if n == "StartExecution"}
    assert len(starts) == 1
    assert output["executionId"] in starts


def test_deadline_through_replay_never_schedules_past_the_deadline():
    spec = make_input(config={"timeout_seconds": 3})
    engine = engine_for(FakeSession(polls=[{"status": "Running", "terminal": False}]), spec)
    with pytest.raises(Exception) as info:
        engine.run()
    document = parse_error_message(str(info.value))
    assert document is not None
    assert document["type"] == "DeadlineExceeded"
    deadline = (START + timedelta(seconds=3)).strftime(STAMP)
    fire_times = [a["fireAt"] for _, a in engine.scheduled if a["actionType"] == 5]
    assert fire_times and all(t <= deadline for t in fire_times)
    assert fire_times[-1] == deadline
    assert [n for n, _ in engine.calls][-1] == "StopSession"


def test_workflow_failure_through_replay_carries_the_error_document():
    output = {
        "found": True,
        "document": {"status": "failed", "error": {"type": "KeyError", "message": "'x'"}},
    }
    polls = [{"status": "Succeeded", "terminal": True, "summary": summary()}]
    engine = engine_for(FakeSession(polls=polls, output=output))
    with pytest.raises(Exception) as info:
        engine.run()
    document = parse_error_message(str(info.value))
    assert document["type"] == "KeyError"
    assert document["message"] == "'x'"
    assert document["stage"] == "running"


def test_user_data_shaped_like_a_custom_object_envelope_passes_through_unchanged():
    envelope = {"__class__": "DurableOrchestrationStatus", "__module__": "x", "__data__": {}}
    spec = make_input(input={"payload": envelope}, environment_variables={"__class__": "1"})
    output = {"found": True, "document": {"status": "succeeded", "result": envelope}}
    engine = engine_for(FakeSession(output=output), spec)
    state = engine.run()
    assert state["output"]["result"] == envelope
    upload = next(p for n, p in engine.calls if n == "UploadWorkflowFiles")
    assert upload["input"] == {"payload": envelope}


def test_watch_mode_replays_to_is_done_with_one_activity():
    """The real library: a short run in ``watch`` mode is one activity, no timer, deterministic."""
    spec = make_input(config={"poll_mode": "watch"})
    done = {"status": "Succeeded", "terminal": True, "summary": summary()}
    engine = engine_for(FakeSession(polls=[done]), spec=spec)
    state = engine.run()

    assert state["isDone"] is True
    assert state["output"]["result"] == {"answer": 42}
    assert state["output"]["timings"]["activities"] == 1
    assert state["output"]["timings"]["timers"] == 0
    assert [name for name, _ in engine.calls] == ["RunExecution"]
    assert [a["actionType"] for _, a in engine.scheduled] == [1]  # no CreateTimer (5)


def test_watch_mode_long_run_replays_windows_deterministically():
    spec = make_input(config={"poll_mode": "watch"})
    running = {"status": "Running", "terminal": False}
    done = {"status": "Succeeded", "terminal": True, "summary": summary()}
    engine = engine_for(FakeSession(polls=[running, running, done]), spec=spec)
    state = engine.run()

    assert state["isDone"] is True
    assert [name for name, _ in engine.calls] == [
        "RunExecution",
        "WatchExecution",
        "WatchExecution",
    ]
    ids = {p["execution_id"] for _, p in engine.calls}
    assert len(ids) == 1  # the same execution through every replay


def test_a_run_the_session_lost_replays_its_restart_deterministically():
    """The real library: lost, then started over with a new execution id, stable on replay."""
    spec = make_input(config={"poll_mode": "watch"})
    running = {"status": "Running", "terminal": False}
    lost = {"status": "Lost", "terminal": False, "lost": "the pool no longer knows it"}
    done = {"status": "Succeeded", "terminal": True, "summary": summary()}
    engine = engine_for(FakeSession(polls=[running, lost, done]), spec=spec)
    state = engine.run()

    assert state["isDone"] is True
    assert [name for name, _ in engine.calls] == ["RunExecution", "WatchExecution", "RunExecution"]
    starts = [p["execution_id"] for n, p in engine.calls if n == "RunExecution"]
    assert starts[0] != starts[1]
    assert state["output"]["attempts"] == [
        {"executionId": starts[0], "reason": "the pool no longer knows it"}
    ]
    # every replay re-derived the same ids: each scheduled start carries the id it ran with
    scheduled = [
        json.loads(json.loads(action["input"]))
        for _, action in engine.scheduled
        if action.get("functionName") == "RunExecution"
    ]
    assert [payload["execution_id"] for payload in scheduled] == starts
