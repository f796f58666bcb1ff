"""The session activities against a fake client: payloads in, results out, errors sorted."""

from __future__ import annotations

import json
import logging

import pytest
from activities_support import finished

import runner
from activities import session_activities as acts
from activities.identity import derive_identifier
from orchestrator.models import (
    CleanupRequest,
    DownloadRequest,
    DownloadResult,
    PollRequest,
    SessionRef,
    StartRequest,
    StopRequest,
    UploadRequest,
)
from session_client.errors import SessionAuthError, SessionServerError, SessionTimeout

SESSION = SessionRef(strategy="ephemeral")


def identifier_of(instance_id: str, session: SessionRef = SESSION) -> str:
    return derive_identifier(session, instance_id, b"test-identifier-key")


def start_request(instance_id: str, **overrides) -> str:
    values = {
        "instance_id": instance_id,
        "session": SESSION,
        "execution_id": "exec-abc",
        "command": "python /mnt/data/run.py",
        "environment_variables": {"PLAIN": "visible"},
        "timeout_seconds": 50,
        "execution_timeout_seconds": 60.2,
        "tail_chars": 100,
        **overrides,
    }
    return StartRequest(**values).to_wire()


async def test_upload_renders_run_py_with_the_preamble(settings, fake_client, instance_id):
    request = UploadRequest(
        instance_id=instance_id,
        session=SESSION,
        workflow_code="def run(payload):\n    return payload\n",
        input={"question": "hi"},
        runner_preamble="import os  # preamble-marker",
    )
    result = json.loads(await acts.upload_workflow_files(request.to_wire(), settings=settings))

    assert result["files"] == ["workflow.py", "run.py", "input.json"]
    assert result["total_bytes"] > 0
    assert result["error"] is None
    (identifier, files), _ = fake_client.called("upload_files")[0]
    assert identifier == identifier_of(instance_id)
    assert files["workflow.py"] == request.workflow_code.encode()
    assert json.loads(files["input.json"]) == {"question": "hi"}
    run_py = files["run.py"].decode()
    assert "preamble-marker" in run_py
    assert run_py == runner.render_run_py(preamble="import os  # preamble-marker")
    compile(run_py, "run.py", "exec")
    # a stale output.json of a reused session is removed first
    assert fake_client.calls[0][0] == "delete_file"
    assert fake_client.calls[0][1][1] == "output.json"
    assert identifier not in json.dumps(result)


async def test_start_resolves_allowed_secrets_and_redacts_them(
    settings, fake_client, instance_id, monkeypatch, caplog
):
    monkeypatch.setenv("ALLOWED_SECRET", "s3cr3t-value-123")
    caplog.set_level(logging.DEBUG, logger="activities")
    raw = await acts.start_execution(
        start_request(instance_id, secret_environment_variables={"API_KEY": "ALLOWED_SECRET"}),
        settings=settings,
    )

    result = json.loads(raw)
    assert result == {"execution_id": "exec-abc", "status": "Running", "error": None}
    (identifier, code), kwargs = fake_client.called("start_execution")[0]
    assert identifier == identifier_of(instance_id)
    assert kwargs == {"timeout_seconds": 61, "execution_id": "exec-abc"}
    assert "s3cr3t-value-123" in code  # the launcher gets the value...
    # ...and redacts it, and its base64 forms, from its summary
    assert "'redact': ['czNjcjN0LXZhbHVlLTEyMw==', 'czNjcjN0LXZhbHVlLTEyMw', " in code
    assert "'s3cr3t-value-123']" in code
    assert "'PLAIN': 'visible'" in code and "'API_KEY': 's3cr3t-value-123'" in code
    compile(code, "launcher", "exec")
    assert "s3cr3t-value-123" not in raw
    assert "s3cr3t-value-123" not in caplog.text
    assert identifier not in caplog.text
    assert instance_id in caplog.text and "exec-abc" in caplog.text


async def test_start_refuses_a_secret_not_on_the_allow_list(
    settings, fake_client, instance_id, monkeypatch
):
    monkeypatch.setenv("NOT_ALLOWED", "value")
    result = json.loads(
        await acts.start_execution(
            start_request(instance_id, secret_environment_variables={"X": "NOT_ALLOWED"}),
            settings=settings,
        )
    )
    assert result["error"]["type"] == "SecretNotAllowed"
    assert "NOT_ALLOWED" in result["error"]["message"]
    assert "value" not in result["error"]["message"].replace("NOT_ALLOWED", "")
    assert fake_client.called("start_execution") == []


async def test_start_reports_a_missing_secret_setting(settings, fake_client, instance_id):
    result = json.loads(
        await acts.start_execution(
            start_request(instance_id, secret_environment_variables={"X": "OTHER_ALLOWED"}),
            settings=settings,
        )
    )
    assert result["error"]["type"] == "SecretMissing"


@pytest.mark.parametrize(
    "error",
    [
        SessionServerError("POST /executions failed with 503", status_code=503),
        SessionTimeout("POST /executions timed out"),
    ],
)
async def test_transient_errors_are_raised_for_the_retry_policy(
    settings, fake_client, instance_id, monkeypatch, error
):
    monkeypatch.setenv("ALLOWED_SECRET", "hidden-secret-xyz")
    fake_client.fail["start_execution"] = error
    with pytest.raises(acts.TransientSessionError) as info:
        await acts.start_execution(
            start_request(instance_id, secret_environment_variables={"K": "ALLOWED_SECRET"}),
            settings=settings,
        )
    assert type(error).__name__ in str(info.value)
    assert "hidden-secret-xyz" not in str(info.value)
    assert info.value.__cause__ is None and info.value.__suppress_context__


async def test_non_transient_errors_are_returned(settings, fake_client, instance_id):
    fake_client.fail["get_execution"] = SessionAuthError(
        "GET /executions/x failed with 403 (AuthorizationFailed)",
        status_code=403,
        code="AuthorizationFailed",
    )
    request = PollRequest(instance_id=instance_id, session=SESSION, execution_id="exec-abc")
    result = json.loads(await acts.get_execution(request.to_wire(), settings=settings))
    assert result["error"] == {
        "type": "SessionAuthError",
        "message": "GET /executions/x failed with 403 (AuthorizationFailed)",
        "status_code": 403,
        "code": "AuthorizationFailed",
    }


async def test_missing_identifier_key_is_returned_as_a_settings_error(
    settings, fake_client, instance_id
):
    no_key = settings.model_copy(update={"session_identifier_key": None})
    request = StopRequest(instance_id=instance_id, session=SESSION)
    result = json.loads(await acts.stop_session(request.to_wire(), settings=no_key))
    assert result["error"]["type"] == "SettingsError"
    assert "AzureSession__SessionIdentifierKey" in result["error"]["message"]


async def test_get_execution_parses_the_summary_and_redacts(
    settings, fake_client, instance_id, monkeypatch
):
    monkeypatch.setenv("ALLOWED_SECRET", "tok-999")
    line = (
        runner.LAUNCHER_MARKER
        + " "
        + json.dumps(
            {
                "exitCode": 0,
                "timedOut": False,
                "durationMs": 42,
                "stdoutTail": "printed tok-999",
                "stderrTail": "warn",
            }
        )
    )
    fake_client.execution = finished("noise tok-999\n" + line + "\n", stderr="e" * 500)
    request = PollRequest(
        instance_id=instance_id,
        session=SESSION,
        execution_id="exec-1",
        tail_chars=100,
        secret_environment_variables={"T": "ALLOWED_SECRET"},
    )
    raw = await acts.get_execution(request.to_wire(), settings=settings)
    result = json.loads(raw)
    assert result["status"] == "Succeeded"
    assert result["terminal"] is True
    assert result["summary"]["exit_code"] == 0
    assert result["summary"]["duration_ms"] == 42
    assert result["summary"]["stdout_tail"] == "printed ***"
    assert len(result["stderr_tail"]) == 100
    assert "tok-999" not in raw


async def test_get_execution_redacts_every_secret_that_still_resolves(
    settings, fake_client, instance_id, monkeypatch
):
    monkeypatch.setenv("ALLOWED_SECRET", "tok-999")
    monkeypatch.delenv("OTHER_ALLOWED", raising=False)  # removed since the start
    fake_client.execution = finished("leaked tok-999\n", stderr="tok-999")
    request = PollRequest(
        instance_id=instance_id,
        session=SESSION,
        execution_id="exec-1",
        secret_environment_variables={"GONE": "OTHER_ALLOWED", "T": "ALLOWED_SECRET"},
    )
    raw = await acts.get_execution(request.to_wire(), settings=settings)
    assert "tok-999" not in raw
    assert json.loads(raw)["stdout_tail"] == "leaked ***\n"


async def test_get_execution_running_has_no_summary(settings, fake_client, instance_id):
    request = PollRequest(instance_id=instance_id, session=SESSION, execution_id="exec-1")
    result = json.loads(await acts.get_execution(request.to_wire(), settings=settings))
    assert result["status"] == "Running"
    assert result["terminal"] is False
    assert result["summary"] is None


async def test_download_output_missing_invalid_and_valid(settings, fake_client, instance_id):
    request = DownloadRequest(instance_id=instance_id, session=SESSION).to_wire()
    missing = json.loads(await acts.download_output(request, settings=settings))
    assert missing["found"] is False and missing["error"] is None

    identifier = identifier_of(instance_id)
    fake_client.files[identifier] = {"output.json": b"{not json"}
    invalid = json.loads(await acts.download_output(request, settings=settings))
    assert invalid["found"] is True
    assert "JSONDecodeError" in invalid["problem"]

    document = {"status": "succeeded", "result": [1, "two"]}
    fake_client.files[identifier] = {"output.json": json.dumps(document).encode()}
    valid = json.loads(await acts.download_output(request, settings=settings))
    assert valid == {
        "found": True,
        "document": document,
        "problem": None,
        "trace": None,
        "error": None,
    }


@pytest.mark.parametrize("levels", [101, 5000])
async def test_download_output_too_deep_to_cross_the_boundary_is_a_problem(
    settings, fake_client, instance_id, levels
):
    request = DownloadRequest(instance_id=instance_id, session=SESSION).to_wire()
    nested = b'{"status": "succeeded", "result": ' + b"[" * levels + b"]" * levels + b"}"
    fake_client.files[identifier_of(instance_id)] = {"output.json": nested}
    raw = await acts.download_output(request, settings=settings)
    result = DownloadResult.from_wire(raw)
    assert result.found is True and result.document is None
    assert "100 levels" in result.problem


async def test_cleanup_ignores_missing_files_and_releases_an_ephemeral_session(
    settings, fake_client, instance_id
):
    fake_client.files[identifier_of(instance_id)] = {"workflow.py": b"x"}
    request = CleanupRequest(
        instance_id=instance_id, session=SESSION, file_names=["workflow.py", "output.json"]
    )
    result = json.loads(await acts.cleanup_session(request.to_wire(), settings=settings))
    assert result == {
        "deleted": ["workflow.py", "output.json"],
        "session_released": True,
        "error": None,
    }
    assert identifier_of(instance_id) not in fake_client.files
    calls = [call[0] for call in fake_client.calls]
    assert calls.index("delete_session") > calls.index("delete_file")


async def test_cleanup_keeps_a_reused_session(settings, fake_client, instance_id):
    session = SessionRef(strategy="reuse", name="kept", owner="alice")
    identifier = identifier_of(instance_id, session)
    fake_client.files[identifier] = {"workflow.py": b"x", "notes.txt": b"y"}
    request = CleanupRequest(instance_id=instance_id, session=session, file_names=["workflow.py"])
    result = json.loads(await acts.cleanup_session(request.to_wire(), settings=settings))
    assert result["session_released"] is False
    assert fake_client.files[identifier] == {"notes.txt": b"y"}
    assert "delete_session" not in [call[0] for call in fake_client.calls]


async def test_stop_session_deletes_the_session_and_tolerates_404(
    settings, fake_client, instance_id
):
    fake_client.files[identifier_of(instance_id)] = {}
    request = StopRequest(instance_id=instance_id, session=SESSION).to_wire()
    assert json.loads(await acts.stop_session(request, settings=settings))["stopped"] is True
    assert identifier_of(instance_id) not in fake_client.files
    assert json.loads(await acts.stop_session(request, settings=settings))["stopped"] is True


async def test_reuse_sessions_use_the_owner_scoped_identifier(settings, fake_client, instance_id):
    reuse = SessionRef(strategy="reuse", name="my-session", owner="anonymous")
    request = StopRequest(instance_id=instance_id, session=reuse).to_wire()
    await acts.stop_session(request, settings=settings)
    (identifier,), _ = fake_client.called("delete_session")[0]
    assert identifier == identifier_of("another-instance", reuse)


async def test_one_client_per_event_loop(settings):
    from activities import clients

    built = []
    clients.set_client_factory(lambda s: built.append(s) or object())
    try:
        assert clients.get_client(settings) is clients.get_client(settings)
        assert len(built) == 1
    finally:
        clients.set_client_factory(None)


async def test_download_output_blanks_secrets_out_of_results_and_errors(
    settings, fake_client, instance_id, monkeypatch
):
    monkeypatch.setenv("ALLOWED_SECRET", "sk-live-abcdef123456")
    identifier = identifier_of(instance_id)
    document = {
        "status": "failed",
        "error": {"type": "ValueError", "message": "bad key sk-live-abcdef123456"},
        "echo": ["x", {"sk-live-abcdef123456": "key sk-live-abcdef123456!"}],
    }
    fake_client.files[identifier] = {"output.json": json.dumps(document).encode()}
    request = DownloadRequest(
        instance_id=instance_id,
        session=SESSION,
        secret_environment_variables={"API_KEY": "ALLOWED_SECRET"},
    ).to_wire()

    raw = await acts.download_output(request, settings=settings)

    assert "sk-live-abcdef123456" not in raw
    result = json.loads(raw)["document"]
    assert result["error"]["message"] == "bad key ***"
    assert result["echo"] == ["x", {"***": "key ***!"}]


async def test_download_output_over_the_size_limit_is_a_problem(settings, fake_client, instance_id):
    identifier = identifier_of(instance_id)
    big = json.dumps({"status": "succeeded", "result": "x" * 2000}).encode()
    fake_client.files[identifier] = {"output.json": big}
    request = DownloadRequest(
        instance_id=instance_id, session=SESSION, max_output_bytes=1000
    ).to_wire()

    result = json.loads(await acts.download_output(request, settings=settings))

    assert result["found"] is True
    assert result["document"] is None
    assert "over the 1000-byte limit" in result["problem"]
