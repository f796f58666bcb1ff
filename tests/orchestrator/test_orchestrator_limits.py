"""Which limit ended a run, a full pool retried on timers, timings of failed runs."""

from __future__ import annotations

from datetime import timedelta

import pytest
from orchestrator_support import START, FakeContext, FakeSession, drive, make_input, summary

from orchestrator.errors import WorkflowRunError
from orchestrator.workflow_orchestrator import workflow_orchestrator

POOL_FULL = {
    "error": {
        "type": "SessionPoolExhausted",
        "message": "The session pool is full: maximum of 2 concurrent sessions",
        "status_code": 404,
        "code": "SessionPoolCapacityExceeded",
    }
}


def run_failing(spec=None, session=None):
    spec = spec or make_input()
    context = FakeContext(spec)
    with pytest.raises(WorkflowRunError) as info:
        drive(workflow_orchestrator(context), context, session or FakeSession())
    return context, info.value.document


def timed_out_session() -> FakeSession:
    polls = [
        {
            "status": "Succeeded",
            "terminal": True,
            "summary": summary(exit_code=None, timed_out=True),
        }
    ]
    return FakeSession(polls=polls, output={"found": False})


def test_launcher_timeout_under_the_run_deadline_is_deadline_exceeded():
    _, doc = run_failing(make_input(config={"timeout_seconds": 60}), timed_out_session())
    assert doc["type"] == "DeadlineExceeded"
    assert doc["limit"] == {"name": "timeoutSeconds", "seconds": 60}
    assert doc["stage"] == "running"


def test_launcher_timeout_under_the_execution_cap_is_execution_timeout():
    spec = make_input(config={"timeout_seconds": 900, "max_execution_seconds": 220})
    context, doc = run_failing(spec, timed_out_session())
    assert doc["type"] == "ExecutionTimeout"
    assert doc["limit"] == {"name": "AzureSession__MaxExecutionSeconds", "seconds": 210}
    assert "220 s" in doc["hint"]
    start = next(t for t in context.tasks if t.name == "StartExecution").payload
    assert start["timeout_seconds"] == 210


def test_the_session_timing_out_the_execution_is_execution_timeout():
    polls = [
        {
            "status": "Failed",
            "terminal": True,
            "execution_error": "Timeout Execution timed out after 70 seconds.",
        }
    ]
    _, doc = run_failing(make_input(config={"timeout_seconds": 60}), FakeSession(polls=polls))
    assert doc["type"] == "ExecutionTimeout"
    assert doc["limit"]["name"] == "sessionExecutionTimeout"
    assert doc["limit"]["seconds"] == pytest.approx(70, abs=0.5)


def test_the_orchestration_deadline_names_its_limit():
    spec = make_input(config={"timeout_seconds": 5})
    _, doc = run_failing(spec, FakeSession(polls=[{"status": "Running", "terminal": False}]))
    assert doc["type"] == "DeadlineExceeded"
    assert doc["limit"] == {"name": "timeoutSeconds", "seconds": 5}


def test_less_than_a_millisecond_left_at_start_is_deadline_exceeded():
    spec = make_input(config={"timeout_seconds": 5})
    context = FakeContext(spec)

    def slow_upload(task):
        context.current_utc_datetime = START + timedelta(seconds=5, microseconds=-400)
        return {"files": ["workflow.py"], "total_bytes": 1}

    with pytest.raises(WorkflowRunError) as info:
        drive(
            workflow_orchestrator(context),
            context,
            FakeSession(results={"UploadWorkflowFiles": slow_upload}),
        )
    doc = info.value.document
    assert doc["type"] == "DeadlineExceeded" and doc["stage"] == "starting"
    assert "executionId" not in doc  # no execution was started
    assert "StartExecution" not in context.activity_names


def test_the_launcher_never_outlives_the_deadline_under_a_tiny_execution_cap():
    spec = make_input(config={"timeout_seconds": 1, "max_execution_seconds": 5})
    context = FakeContext(spec)
    drive(workflow_orchestrator(context), context, FakeSession())
    start = next(t for t in context.tasks if t.name == "StartExecution").payload
    assert start["timeout_seconds"] == 0.9  # the time left after a 100 ms upload
    assert start["execution_timeout_seconds"] == 5


def test_other_failures_carry_no_limit():
    polls = [{"status": "Failed", "terminal": True, "execution_error": "OOM"}]
    _, doc = run_failing(session=FakeSession(polls=polls))
    assert doc["type"] == "ExecutionFailed"
    assert "limit" not in doc


# --- a full pool ---------------------------------------------------------------------


def test_a_full_pool_is_retried_on_doubling_timers_then_the_run_goes_on():
    answers = [POOL_FULL, POOL_FULL]

    def upload(task):
        if answers:
            return answers.pop(0)
        return {"files": ["workflow.py"], "total_bytes": 1}

    spec = make_input(config={"pool_retry_attempts": 3, "pool_retry_seconds": 2})
    context = FakeContext(spec)
    result = drive(
        workflow_orchestrator(context),
        context,
        FakeSession(results={"UploadWorkflowFiles": upload}),
    )
    assert result["status"] == "succeeded"
    assert context.activity_names[:3] == ["UploadWorkflowFiles"] * 3
    assert context.timer_delays[:2] == [2.0, 4.0]
    assert "waiting_for_session" in context.phases


def test_a_pool_that_stays_full_fails_with_session_pool_exhausted():
    spec = make_input(config={"pool_retry_attempts": 2, "pool_retry_seconds": 1})
    context, doc = run_failing(spec, FakeSession(results={"UploadWorkflowFiles": POOL_FULL}))
    assert doc["type"] == "SessionPoolExhausted"
    assert doc["stage"] == "uploading"
    assert "3 attempt(s)" in doc["message"]
    assert "maxConcurrentSessions" in doc["hint"]
    assert context.activity_names.count("UploadWorkflowFiles") == 3
    assert "StartExecution" not in context.activity_names


def test_pool_retries_never_wait_past_the_deadline():
    spec = make_input(
        config={"timeout_seconds": 10, "pool_retry_attempts": 10, "pool_retry_seconds": 4}
    )
    context, doc = run_failing(spec, FakeSession(results={"UploadWorkflowFiles": POOL_FULL}))
    assert doc["type"] == "SessionPoolExhausted"
    assert all(t < START + timedelta(seconds=10) for t in context.timers)


def test_start_execution_also_retries_a_full_pool():
    answers = [POOL_FULL]

    def start(task):
        if answers:
            return answers.pop(0)
        return {"execution_id": task.payload["execution_id"], "status": "Running"}

    context = FakeContext(make_input(config={"pool_retry_seconds": 1}))
    result = drive(
        workflow_orchestrator(context), context, FakeSession(results={"StartExecution": start})
    )
    assert result["status"] == "succeeded"
    starts = [t.payload["execution_id"] for t in context.tasks if t.name == "StartExecution"]
    assert len(starts) == 2 and starts[0] == starts[1]


# --- timings ---------------------------------------------------------------------------


def test_failed_runs_carry_the_timings_of_the_stages_they_reached():
    polls = [{"status": "Succeeded", "terminal": True, "summary": summary(exit_code=3)}]
    _, doc = run_failing(session=FakeSession(polls=polls, output={"found": False}))
    timings = doc["timings"]
    assert timings["uploadMs"] == 100
    assert timings["runMs"] > 0
    assert timings["collectMs"] == 100  # output.json was looked for, and was missing
    assert timings["totalMs"] >= timings["runMs"]


def test_a_failure_in_the_first_stage_has_only_the_total_and_the_hops():
    session = FakeSession(
        results={"UploadWorkflowFiles": {"error": {"type": "SessionAuthError", "message": "403"}}}
    )
    _, doc = run_failing(session=session)
    # the upload failed, then the cleanup ran (two activities of 100 ms each in the fakes)
    assert doc["timings"] == {"totalMs": 200, "activities": 2, "timers": 0}
