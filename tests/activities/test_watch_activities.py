"""RunExecution and WatchExecution: upload, start once, watch, collect, clean up."""

from __future__ import annotations

import json

import pytest
from activities_support import finished

from activities import session_activities as acts
from activities.identity import derive_identifier
from orchestrator.models import PollRequest, RunRequest, SessionRef, WatchOptions, WatchRequest
from session_client.errors import SessionBadRequest, SessionNotFound, SessionServerError
from session_client.models import Execution

SESSION = SessionRef(strategy="ephemeral")
FILES = ["workflow.py", "run.py", "input.json", "output.json"]
NOT_STARTED = SessionNotFound("GET /executions/exec-abc failed with 404", status_code=404)
OUTPUT = json.dumps({"status": "succeeded", "result": {"answer": 42}}).encode()


def identifier_of(instance_id: str) -> str:
    return derive_identifier(SESSION, instance_id, b"test-identifier-key")


def options(seconds: float = 2.0, **overrides) -> WatchOptions:
    values = {
        "seconds": seconds,
        "first_poll_seconds": 0.001,
        "max_poll_seconds": 0.002,
        "cleanup_files": FILES,
        "release_session": True,
        **overrides,
    }
    return WatchOptions(**values)


def run_request(instance_id: str, **watch) -> str:
    return RunRequest(
        instance_id=instance_id,
        session=SESSION,
        execution_id="exec-abc",
        command="python /mnt/data/run.py",
        timeout_seconds=50,
        execution_timeout_seconds=60,
        workflow_code="def run(payload):\n    return 1\n",
        input={"q": 1},
        watch=options(**watch),
    ).to_wire()


def methods(client) -> list[str]:
    return [method for method, _, _ in client.calls]


async def test_a_new_run_is_uploaded_started_watched_collected_and_cleaned(
    settings, fake_client, instance_id
):
    identifier = identifier_of(instance_id)
    fake_client.files[identifier] = {}
    fake_client.executions = [
        NOT_STARTED,
        Execution(id="exec-abc", status="Running"),
        finished("launcher output"),
    ]

    start = fake_client.start_execution

    async def write_output(*args, **kwargs):  # the run writes output.json
        fake_client.files[identifier]["output.json"] = OUTPUT
        return await start(*args, **kwargs)

    fake_client.start_execution = write_output
    result = json.loads(await acts.run_execution(run_request(instance_id), settings=settings))

    assert result["error"] is None
    assert result["resumed"] is False
    assert result["poll"]["terminal"] is True
    assert result["download"]["document"]["result"] == {"answer": 42}
    assert result["cleaned"] is True
    assert isinstance(result["upload_ms"], int) and result["collect_ms"] is not None
    seen = methods(fake_client)
    # a new ephemeral session has no stale output to delete first
    assert seen[:3] == ["get_execution", "upload_files", "start_execution"]
    # deleting the session deletes its files: no file-by-file deletes
    assert seen[-2:] == ["download_file", "delete_session"]
    assert identifier not in fake_client.files  # the session is gone: its slot is free


async def test_a_rerun_watches_the_execution_it_started_instead_of_starting_again(
    settings, fake_client, instance_id
):
    fake_client.executions = [Execution(id="exec-abc", status="Running"), finished("x")]
    result = json.loads(await acts.run_execution(run_request(instance_id), settings=settings))

    assert result["resumed"] is True
    assert result["upload_ms"] is None
    assert not fake_client.called("upload_files")
    assert not fake_client.called("start_execution")
    assert result["poll"]["terminal"] is True


async def test_a_run_longer_than_the_window_comes_back_running(settings, fake_client, instance_id):
    fake_client.executions = [NOT_STARTED, Execution(id="exec-abc", status="Running")]
    result = json.loads(
        await acts.run_execution(run_request(instance_id, seconds=0.05), settings=settings)
    )
    assert result["poll"]["terminal"] is False
    assert result["download"] is None
    assert result["cleaned"] is False
    assert 40 <= result["run_ms"] < 2000
    assert len(fake_client.called("get_execution")) > 2  # it polled inside the window


async def test_a_full_pool_on_the_first_look_is_reported_not_retried(
    settings, fake_client, instance_id
):
    full = SessionNotFound(
        "the pool reached its maximum concurrent sessions", status_code=404, code="NotFound"
    )
    fake_client.executions = [full]
    result = json.loads(await acts.run_execution(run_request(instance_id), settings=settings))
    assert result["error"]["type"] == "SessionPoolExhausted"
    assert not fake_client.called("upload_files")


async def test_a_session_the_pool_keeps_gets_its_files_deleted(settings, fake_client, instance_id):
    identifier = identifier_of(instance_id)
    fake_client.files[identifier] = {name: b"x" for name in FILES}
    fake_client.executions = [Execution(id="exec-abc", status="Running"), finished("x")]
    # a pool on an api-version without /session refuses the delete (not transient)
    fake_client.fail["delete_session"] = SessionBadRequest("unsupported", status_code=400)
    result = json.loads(await acts.run_execution(run_request(instance_id), settings=settings))
    assert result["cleaned"] is True
    assert [args[1] for args, _ in fake_client.called("delete_file")] == FILES


async def test_a_refused_cleanup_is_left_to_the_orchestrator(settings, fake_client, instance_id):
    fake_client.executions = [Execution(id="exec-abc", status="Running"), finished("x")]
    fake_client.fail["delete_session"] = SessionServerError("busy", status_code=503)
    result = json.loads(await acts.run_execution(run_request(instance_id), settings=settings))
    assert result["error"] is None
    assert result["cleaned"] is False
    assert result["poll"]["terminal"] is True


async def test_watch_collects_a_run_that_ends_in_the_window(settings, fake_client, instance_id):
    identifier = identifier_of(instance_id)
    fake_client.files[identifier] = {"output.json": OUTPUT}
    fake_client.executions = [Execution(id="exec-abc", status="Running"), finished("x")]
    request = WatchRequest(
        instance_id=instance_id, session=SESSION, execution_id="exec-abc", watch=options()
    )
    result = json.loads(await acts.watch_execution(request.to_wire(), settings=settings))
    assert result["poll"]["status"] == "Succeeded"
    assert result["download"]["found"] is True
    assert result["cleaned"] is True


async def test_watch_does_not_download_a_failed_execution(settings, fake_client, instance_id):
    fake_client.executions = [finished("", status="Failed")]
    request = WatchRequest(
        instance_id=instance_id, session=SESSION, execution_id="exec-abc", watch=options()
    )
    result = json.loads(await acts.watch_execution(request.to_wire(), settings=settings))
    assert result["poll"]["status"] == "Failed"
    assert result["download"] is None
    read = [args[1] for args, _ in fake_client.called("download_file")]
    assert read == ["trace.jsonl"]  # the trace (if any) is kept; output.json is not read


@pytest.mark.parametrize("seconds", [0, 0.0])
async def test_a_zero_window_still_looks_once(settings, fake_client, instance_id, seconds):
    fake_client.executions = [Execution(id="exec-abc", status="Running")]
    request = WatchRequest(
        instance_id=instance_id, session=SESSION, execution_id="exec-abc", watch=options(seconds)
    )
    result = json.loads(await acts.watch_execution(request.to_wire(), settings=settings))
    assert result["poll"]["status"] == "Running"
    assert len(fake_client.called("get_execution")) == 1


# --- session loss ---------------------------------------------------------------------------

FORGOTTEN = SessionNotFound(
    "No execution available for operation Id: exec-abc", status_code=404, code="ExecutionNotFound"
)


def watch_request(instance_id: str, seconds: float = 1.0) -> str:
    return WatchRequest(
        instance_id=instance_id, session=SESSION, execution_id="exec-abc", watch=options(seconds)
    ).to_wire()


async def test_an_execution_the_pool_forgot_is_reported_lost(settings, fake_client, instance_id):
    fake_client.executions = [FORGOTTEN]
    result = json.loads(await acts.watch_execution(watch_request(instance_id), settings=settings))
    assert result["error"] is None
    assert "no longer knows execution exec-abc" in result["poll"]["lost"]
    assert not fake_client.called("download_file")


async def test_an_execution_forgotten_mid_window_is_reported_lost(
    settings, fake_client, instance_id
):
    fake_client.executions = [Execution(id="exec-abc", status="Running"), FORGOTTEN]
    result = json.loads(await acts.watch_execution(watch_request(instance_id), settings=settings))
    assert result["poll"]["lost"]


async def test_an_interrupted_execution_is_lost_not_collected(settings, fake_client, instance_id):
    interrupted = Execution(
        id="exec-abc",
        status="Failed",
        error={"code": "ExecutionInterrupted", "message": "The execution was interrupted"},
    )
    fake_client.executions = [interrupted]
    result = json.loads(await acts.run_execution(run_request(instance_id), settings=settings))
    assert result["resumed"] is True
    assert "interrupted" in result["poll"]["lost"]
    assert result["download"] is None and result["cleaned"] is False


async def test_the_poll_activity_reports_a_forgotten_execution_lost(
    settings, fake_client, instance_id
):
    fake_client.executions = [FORGOTTEN]
    request = PollRequest(instance_id=instance_id, session=SESSION, execution_id="exec-abc")
    result = json.loads(await acts.get_execution(request.to_wire(), settings=settings))
    assert result["lost"] and result["error"] is None


async def test_a_full_pool_is_not_mistaken_for_a_lost_session(settings, fake_client, instance_id):
    fake_client.executions = [
        SessionNotFound("maximum concurrent sessions reached", status_code=404, code="NotFound")
    ]
    result = json.loads(await acts.watch_execution(watch_request(instance_id), settings=settings))
    assert result["error"]["type"] == "SessionPoolExhausted"
