"""WorkflowOrchestrator driven as a generator with a recording fake context."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from orchestrator_support import START, FakeContext, FakeSession, drive, make_input, summary

from orchestrator.errors import ERROR_MARKER, WorkflowRunError, parse_error_message
from orchestrator.models import SessionRef
from orchestrator.workflow_orchestrator import workflow_orchestrator


def run(spec=None, session=None, context=None):
    spec = spec or make_input()
    context = context or FakeContext(spec)
    session = session or FakeSession()
    return context, drive(workflow_orchestrator(context), context, session)


def run_failing(spec=None, session=None):
    spec = spec or make_input()
    context = FakeContext(spec)
    with pytest.raises(WorkflowRunError) as info:
        drive(workflow_orchestrator(context), context, session or FakeSession())
    return context, info.value


def test_happy_path_calls_activities_in_order_and_returns_the_result():
    context, result = run()

    assert context.activity_names == [
        "UploadWorkflowFiles",
        "StartExecution",
        "GetExecution",
        "GetExecution",
        "DownloadOutput",
        "CleanupSession",
    ]
    assert result["status"] == "succeeded"
    assert result["result"] == {"answer": 42}
    assert result["polls"] == 2
    assert result["logs"] == {"stdoutTail": "hello out", "stderrTail": "hello err"}
    assert set(result["timings"]) == {
        "uploadMs",
        "runMs",
        "collectMs",
        "totalMs",
        "activities",
        "timers",
    }
    assert result["timings"]["uploadMs"] == 100
    # the timers flow: one activity per step, a timer before each poll
    assert (result["timings"]["activities"], result["timings"]["timers"]) == (6, 2)
    assert result["timings"]["totalMs"] >= result["timings"]["runMs"] > 0
    assert result["executionId"] == context.tasks[1].payload["execution_id"]


def test_every_activity_payload_names_the_instance_and_session_but_no_identifier():
    context, _ = run()
    for task in context.tasks:
        if task.kind != "activity":
            continue
        assert task.payload["instance_id"] == context.instance_id
        assert task.payload["session"] == {
            "strategy": "ephemeral",
            "name": None,
            "owner": "anonymous",
        }
        assert "identifier" not in task.payload
        assert task.retry.first_retry_interval_in_milliseconds == 1000
        assert task.retry.max_number_of_attempts == 4


def test_upload_and_start_payloads_carry_the_request():
    spec = make_input(
        environment_variables={"A": "1"},
        secret_environment_variables={"TOKEN": "MY_SETTING"},
        runner_preamble="import os",
        command="python /mnt/data/run.py --x",
    )
    context, _ = run(spec)
    upload, start = context.tasks[0].payload, context.tasks[1].payload
    assert upload["workflow_code"] == spec.workflow_code
    assert upload["input"] == {"x": 1}
    assert upload["runner_preamble"] == "import os"
    assert start["command"] == "python /mnt/data/run.py --x"
    assert start["environment_variables"] == {"A": "1"}
    assert start["secret_environment_variables"] == {"TOKEN": "MY_SETTING"}
    # 60 s deadline minus 0.1 s upload, inside the 220 s service cap; + 10 s margin
    assert start["timeout_seconds"] == pytest.approx(59.9)
    assert start["execution_timeout_seconds"] == pytest.approx(69.9)


def test_service_cap_binds_the_execution_timeout():
    context, _ = run(make_input(config={"timeout_seconds": 900, "max_execution_seconds": 220}))
    start = context.tasks[1].payload
    assert start["timeout_seconds"] == 210
    assert start["execution_timeout_seconds"] == 220


def test_custom_status_phases_in_order_and_small():
    context, _ = run()
    assert context.phases == [
        "uploading",
        "starting",
        "running",
        "collecting",
        "cleaning_up",
        "completed",
    ]
    for status in context.statuses:
        assert set(status) <= {"phase", "executionId", "polls", "startedAt", "request"}
        assert len(json.dumps(status)) < 1000
    assert context.statuses[-1]["polls"] == 2
    request = context.statuses[-1]["request"]
    assert request["sessionStrategy"] == "ephemeral" and request["callback"] is False
    assert set(request) == {
        "sessionStrategy", "timeoutSeconds", "environmentVariables",
        "secretEnvironmentVariables", "command", "callback",
    }  # fmt: skip
    assert context.statuses[-1]["executionId"]


def test_adaptive_timer_schedule_is_exact_and_capped():
    polls = [{"status": "Running", "terminal": False}] * 12 + [
        {"status": "Succeeded", "terminal": True, "summary": summary()}
    ]
    context, result = run(make_input(config={"timeout_seconds": 600}), FakeSession(polls=polls))

    expected = [0.5, 0.75, 1.125, 1.6875, 2.53125, 3.796875, 5.6953125, 8.54296875]
    expected += [10.0] * 5
    assert context.timer_delays == pytest.approx(expected)
    assert result["polls"] == 13
    # every timer is followed by exactly one poll
    kinds = [t.name or t.kind for t in context.tasks]
    for index, kind in enumerate(kinds):
        if kind == "timer":
            assert kinds[index + 1] == "GetExecution"


def test_poll_schedule_follows_settings():
    config = {"initial_poll_seconds": 1, "poll_backoff_factor": 2, "max_poll_seconds": 5}
    polls = [{"status": "Running", "terminal": False}] * 4 + [
        {"status": "Succeeded", "terminal": True, "summary": summary()}
    ]
    context, _ = run(make_input(config=config), FakeSession(polls=polls))
    assert context.timer_delays == [1, 2, 4, 5, 5]


def test_workflow_failure_becomes_a_structured_error():
    output = {
        "found": True,
        "document": {
            "status": "failed",
            "error": {"type": "ValueError", "message": "bad payload", "traceback": "Traceback..."},
        },
    }
    context, error = run_failing(session=FakeSession(output=output))
    doc = error.document
    assert doc["type"] == "ValueError"
    assert doc["message"] == "bad payload"
    assert doc["traceback"] == "Traceback..."
    assert doc["stage"] == "running"
    assert doc["logs"] == {"stdoutTail": "hello out", "stderrTail": "hello err"}
    assert doc["executionId"] == context.tasks[1].payload["execution_id"]
    assert str(error).startswith(ERROR_MARKER)
    assert parse_error_message("Orchestrator function 'X' failed: " + str(error)) == doc
    # ephemeral files are still cleaned up, and the last phase is failed
    assert context.activity_names[-1] == "CleanupSession"
    assert context.phases[-2:] == ["cleaning_up", "failed"]


def test_missing_output_is_output_missing():
    _, error = run_failing(session=FakeSession(output={"found": False}))
    assert error.document["type"] == "OutputMissing"
    assert error.document["stage"] == "collecting"


def test_runner_exit_without_output_is_runner_exited():
    polls = [{"status": "Succeeded", "terminal": True, "summary": summary(exit_code=3)}]
    _, error = run_failing(session=FakeSession(polls=polls, output={"found": False}))
    assert error.document["type"] == "RunnerExited"
    assert "code 3" in error.document["message"]
    assert error.document["logs"]["stderrTail"] == "hello err"


def test_output_not_json_or_wrong_shape_is_output_invalid():
    _, error = run_failing(
        session=FakeSession(output={"found": True, "problem": "JSONDecodeError"})
    )
    assert error.document["type"] == "OutputInvalid"
    _, error = run_failing(session=FakeSession(output={"found": True, "document": [1, 2]}))
    assert error.document["type"] == "OutputInvalid"
    _, error = run_failing(
        session=FakeSession(output={"found": True, "document": {"status": "succeeded"}})
    )
    assert error.document["type"] == "OutputInvalid"


def test_execution_failed_in_the_session():
    polls = [
        {
            "status": "Failed",
            "terminal": True,
            "stderr_tail": "Killed",
            "execution_error": "OOM",
        }
    ]
    context, error = run_failing(session=FakeSession(polls=polls))
    assert error.document["type"] == "ExecutionFailed"
    assert "Failed" in error.document["message"]
    assert "Killed" in error.document["message"]
    assert error.document["logs"]["stderrTail"] == "Killed"
    assert "DownloadOutput" not in context.activity_names


def test_deadline_stops_the_session_and_never_waits_past_it():
    spec = make_input(config={"timeout_seconds": 5})
    context, error = run_failing(
        spec, FakeSession(polls=[{"status": "Running", "terminal": False}])
    )
    deadline = START + timedelta(seconds=5)
    assert context.timers, "polled on timers"
    assert all(t <= deadline for t in context.timers)
    assert context.timers[-1] == deadline
    assert context.activity_names[-2:] == ["GetExecution", "StopSession"]
    assert "CleanupSession" not in context.activity_names  # the whole session was deleted
    doc = error.document
    assert doc["type"] == "DeadlineExceeded"
    assert "timeoutSeconds" in doc["message"] and "5 s" in doc["message"]
    assert "timing_out" in context.phases
    assert context.phases[-1] == "failed"


def test_stop_session_failure_is_ignored():
    spec = make_input(config={"timeout_seconds": 2})
    session = FakeSession(
        polls=[{"status": "Running", "terminal": False}],
        results={"StopSession": RuntimeError("Activity function 'StopSession' failed \n x")},
    )
    _, error = run_failing(spec, session)
    assert error.document["type"] == "DeadlineExceeded"


def test_non_transient_activity_error_fails_with_its_type_and_hint():
    session = FakeSession(
        results={
            "StartExecution": {
                "error": {
                    "type": "SessionAuthError",
                    "message": "POST /executions failed with 403",
                    "status_code": 403,
                    "code": "Forbidden",
                }
            }
        }
    )
    context, error = run_failing(session=session)
    assert error.document["type"] == "SessionAuthError"
    assert error.document["stage"] == "starting"
    assert "Session Executor" in error.document["hint"]
    assert "GetExecution" not in context.activity_names


def test_activity_failure_after_retries_is_activity_failed():
    session = FakeSession(
        results={
            "UploadWorkflowFiles": Exception(
                "Activity function 'UploadWorkflowFiles' failed: "
                "TransientSessionError: 503 \n trace"
            )
        }
    )
    context, error = run_failing(session=session)
    assert error.document["type"] == "ActivityFailed"
    assert "UploadWorkflowFiles" in error.document["message"]
    assert "503" in error.document["message"]
    assert error.document["stage"] == "uploading"
    assert context.activity_names == ["UploadWorkflowFiles", "CleanupSession"]


def test_reuse_strategy_skips_cleanup():
    spec = make_input(session=SessionRef(strategy="reuse", name="my-session", owner="anonymous"))
    context, result = run(spec)
    assert result["status"] == "succeeded"
    assert "CleanupSession" not in context.activity_names
    assert "cleaning_up" not in context.phases


def test_cleanup_failure_does_not_fail_a_successful_run():
    session = FakeSession(results={"CleanupSession": Exception("boom \n details")})
    _, result = run(session=session)
    assert result["status"] == "succeeded"


def test_generator_uses_only_context_time_and_uuid():
    spec = make_input()
    first = FakeContext(spec, instance_id="same-instance")
    second = FakeContext(spec, instance_id="same-instance")
    _, one = run(spec, context=first)
    _, two = run(spec, context=second)
    assert one == two
    assert [t.payload for t in first.tasks] == [t.payload for t in second.tasks]
    assert first.statuses == second.statuses


def test_invalid_input_fails_with_a_structured_error():
    context = FakeContext(make_input())
    context._input = {"nonsense": True}
    with pytest.raises(WorkflowRunError) as info:
        drive(workflow_orchestrator(context), context, FakeSession())
    assert info.value.document["type"] == "InvalidOrchestrationInput"
