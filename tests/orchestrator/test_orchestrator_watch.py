"""The ``watch`` flow: RunExecution (upload, start, watch, collect), WatchExecution windows."""

from __future__ import annotations

from datetime import timedelta

import pytest
from orchestrator_support import START, FakeContext, FakeSession, drive, make_input, summary

from orchestrator.errors import WorkflowRunError, parse_error_message
from orchestrator.models import SessionRef
from orchestrator.workflow_orchestrator import workflow_orchestrator

RUNNING = {"status": "Running", "terminal": False}
DONE = {"status": "Succeeded", "terminal": True, "summary": summary()}


def watch_input(**config):
    return make_input(config={"poll_mode": "watch", **config})


def run(spec=None, session=None):
    spec = spec or watch_input()
    context = FakeContext(spec)
    return context, drive(workflow_orchestrator(context), context, session or FakeSession())


def run_failing(spec=None, session=None):
    spec = spec or watch_input()
    context = FakeContext(spec)
    with pytest.raises(WorkflowRunError) as info:
        drive(workflow_orchestrator(context), context, session or FakeSession())
    return context, parse_error_message(str(info.value))


def test_a_short_run_is_one_activity_and_no_timer():
    context, result = run(session=FakeSession(polls=[DONE]))

    assert context.activity_names == ["RunExecution"]
    assert context.timers == []
    assert result["result"] == {"answer": 42}
    assert result["timings"]["activities"] == 1
    assert result["timings"]["timers"] == 0
    # spans measured by the activity
    assert (result["timings"]["uploadMs"], result["timings"]["runMs"]) == (40, 30)
    assert result["timings"]["collectMs"] == 5
    assert context.phases == ["starting", "collecting", "completed"]


def test_the_starting_activity_carries_everything_and_watches_briefly():
    context, _ = run(spec=watch_input(fast_watch_seconds=1.5), session=FakeSession(polls=[DONE]))
    payload = context.tasks[0].payload
    assert payload["workflow_code"].startswith("def run(payload)")
    assert payload["input"] == {"x": 1}
    assert payload["command"] == "python /mnt/data/run.py"
    assert payload["execution_id"]
    watch = payload["watch"]
    assert watch["seconds"] == 1.5
    assert watch["release_session"] is True  # ephemeral: the activity frees the pool slot
    assert watch["cleanup_files"] == [
        "workflow.py",
        "run.py",
        "input.json",
        "output.json",
        "trace.jsonl",
        "progress.json",
    ]
    assert (watch["first_poll_seconds"], watch["max_poll_seconds"]) == (0.01, 0.25)


def test_a_long_run_gets_watch_windows_not_timers():
    polls = [RUNNING, RUNNING, RUNNING, DONE]
    context, result = run(
        spec=watch_input(watch_window_seconds=20, timeout_seconds=300),
        session=FakeSession(polls=polls),
    )
    assert context.activity_names == [
        "RunExecution",
        "WatchExecution",
        "WatchExecution",
        "WatchExecution",
    ]
    assert context.timers == []
    windows = [t.payload["watch"]["seconds"] for t in context.tasks[1:]]
    assert windows == [20, 20, 20]
    assert result["polls"] == 3
    assert result["timings"]["activities"] == 4
    # run time adds up the windows the activities reported
    assert result["timings"]["runMs"] == 1500 + 20_000 + 20_000 + 30


def test_a_window_never_passes_the_deadline_then_the_session_is_stopped():
    spec = watch_input(timeout_seconds=10, watch_window_seconds=30, fast_watch_seconds=1.5)
    context, doc = run_failing(spec=spec, session=FakeSession(polls=[RUNNING]))

    assert context.activity_names == ["RunExecution", "WatchExecution", "StopSession"]
    watch = context.tasks[1].payload["watch"]["seconds"]
    # 10 s deadline - the 1.5 s fast window - one 100 ms activity step in the fakes
    assert watch == pytest.approx(8.4, abs=0.01)
    assert doc["type"] == "DeadlineExceeded"
    assert doc["limit"] == {"name": "timeoutSeconds", "seconds": 10.0}
    assert context.current_utc_datetime <= START + timedelta(seconds=10.2)


def test_cleanup_the_activity_could_not_do_runs_as_its_own_activity():
    session = FakeSession(polls=[DONE])
    session.cleans = False
    context, result = run(session=session)
    assert context.activity_names == ["RunExecution", "CleanupSession"]
    assert result["result"] == {"answer": 42}


def test_a_reused_session_keeps_its_files_and_session():
    spec = watch_input()
    spec = spec.model_copy(update={"session": SessionRef(strategy="reuse", name="keep")})
    context, _ = run(spec=spec, session=FakeSession(polls=[DONE]))
    watch = context.tasks[0].payload["watch"]
    assert (watch["cleanup_files"], watch["release_session"]) == ([], False)
    assert context.activity_names == ["RunExecution"]


def test_a_failed_execution_fails_the_run_without_a_second_cleanup():
    failed = {"status": "Failed", "terminal": True, "execution_error": "Boom it broke"}
    context, doc = run_failing(session=FakeSession(polls=[failed]))
    assert doc["type"] == "ExecutionFailed"
    assert context.activity_names == ["RunExecution"]
    assert doc["timings"]["activities"] == 1


def test_a_full_pool_waits_on_a_timer_and_starts_again():
    full = {"error": {"type": "SessionPoolExhausted", "message": "pool full"}}
    answers = iter([full])

    def first_full_then_run(task):
        try:
            return next(answers)
        except StopIteration:
            return FakeSession(polls=[DONE]).watch_report(task)

    session = FakeSession(results={"RunExecution": first_full_then_run})
    context, result = run(session=session)
    assert context.activity_names == ["RunExecution", "RunExecution"]
    assert result["timings"]["timers"] == 1
    assert context.tasks[0].payload["execution_id"] == context.tasks[2].payload["execution_id"]


def test_a_start_error_fails_and_cleans_up():
    session = FakeSession(
        results={"RunExecution": {"error": {"type": "SessionAuthError", "message": "403"}}}
    )
    context, doc = run_failing(session=session)
    assert doc["type"] == "SessionAuthError"
    assert context.activity_names == ["RunExecution", "CleanupSession"]
    assert doc["timings"] == {"totalMs": 200, "activities": 2, "timers": 0}


def test_inputs_written_before_watch_mode_replay_the_timers_flow():
    context, _ = run(spec=make_input())  # RunConfig's default: "timers"
    assert context.activity_names[:3] == ["UploadWorkflowFiles", "StartExecution", "GetExecution"]
