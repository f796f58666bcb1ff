"""Session loss: the pool forgot the execution, or its host interrupted it; the run starts over."""

from __future__ import annotations

import pytest
from orchestrator_support import FakeContext, FakeSession, drive, make_input, summary

from orchestrator.errors import WorkflowRunError, parse_error_message
from orchestrator.models import SessionRef
from orchestrator.workflow_orchestrator import workflow_orchestrator

DONE = {"status": "Succeeded", "terminal": True, "summary": summary()}
RUNNING = {"status": "Running", "terminal": False}
FORGOTTEN = {"status": "Lost", "terminal": False, "lost": "the pool no longer knows execution x"}
INTERRUPTED = {
    "status": "Failed",
    "terminal": True,
    "execution_error": "ExecutionInterrupted The execution was interrupted",
    "lost": "The execution was interrupted",
}


def watch_input(**overrides):
    config = {"poll_mode": "watch", **overrides.pop("config", {})}
    return make_input(config=config, **overrides)


def run(spec, polls):
    context = FakeContext(spec)
    result = drive(workflow_orchestrator(context), context, FakeSession(polls=polls))
    return context, result


def run_failing(spec, polls):
    context = FakeContext(spec)
    with pytest.raises(WorkflowRunError) as info:
        drive(workflow_orchestrator(context), context, FakeSession(polls=polls))
    return context, parse_error_message(str(info.value))


def execution_ids(context) -> list[str]:
    return [t.payload["execution_id"] for t in context.tasks if t.name == "RunExecution"]


@pytest.mark.parametrize("lost", [FORGOTTEN, INTERRUPTED], ids=["forgotten", "interrupted"])
def test_an_ephemeral_run_starts_over_with_a_new_execution(lost):
    context, result = run(watch_input(), [RUNNING, lost, DONE])

    assert context.activity_names == ["RunExecution", "WatchExecution", "RunExecution"]
    first, second = execution_ids(context)
    assert first != second
    assert result["result"] == {"answer": 42}
    assert result["attempts"] == [{"executionId": first, "reason": lost["lost"]}]
    assert "restarting" in context.phases


def test_a_loss_seen_by_the_starting_activity_restarts_too():
    context, result = run(watch_input(), [INTERRUPTED, DONE])
    assert context.activity_names == ["RunExecution", "RunExecution"]
    assert len(result["attempts"]) == 1


def test_restarts_are_bounded_then_session_lost():
    spec = watch_input(config={"session_loss_retries": 2})
    context, doc = run_failing(spec, [FORGOTTEN])

    assert context.activity_names.count("RunExecution") == 3
    assert doc["type"] == "SessionLost"
    assert "started 3 time(s) (SessionLossRetries=2)" in doc["message"]
    assert len(doc["attempts"]) == 3
    assert "rerunOnSessionLoss" in doc["hint"]
    assert context.activity_names[-1] == "CleanupSession"


def test_a_reuse_session_is_not_rerun_without_the_opt_in():
    spec = watch_input(session=SessionRef(strategy="reuse", name="keep"))
    context, doc = run_failing(spec, [FORGOTTEN])
    assert context.activity_names == ["RunExecution"]
    assert doc["type"] == "SessionLost"
    assert "not re-run unless the request sets rerunOnSessionLoss" in doc["message"]


def test_a_reuse_session_with_the_opt_in_is_rerun():
    spec = watch_input(
        session=SessionRef(strategy="reuse", name="keep"), rerun_on_session_loss=True
    )
    context, result = run(spec, [FORGOTTEN, DONE])
    assert context.activity_names == ["RunExecution", "RunExecution"]
    assert result["result"] == {"answer": 42}


def test_no_restart_after_the_deadline():
    spec = watch_input(config={"timeout_seconds": 5, "watch_window_seconds": 30})
    _, doc = run_failing(spec, [RUNNING, FORGOTTEN])  # the window used the time left
    assert doc["type"] == "SessionLost"
    assert "the deadline passed" in doc["message"]


def test_the_timers_flow_starts_over_from_the_upload():
    context, result = run(make_input(), [RUNNING, FORGOTTEN, RUNNING, DONE])
    names = context.activity_names
    assert names.count("UploadWorkflowFiles") == 2
    assert names.count("StartExecution") == 2
    starts = [t.payload["execution_id"] for t in context.tasks if t.name == "StartExecution"]
    assert len(set(starts)) == 2
    assert len(result["attempts"]) == 1
