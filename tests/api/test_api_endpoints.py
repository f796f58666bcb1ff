"""StartWorkflow and GetWorkflowStatus with a mocked durable client."""

from __future__ import annotations

import json
from unittest.mock import AsyncMock

import azure.durable_functions as df
import azure.functions as func
import pytest
from api_support import CLIENT_JSON, INST1, echo_start_new, owned_id
from azure.durable_functions.models.DurableOrchestrationStatus import DurableOrchestrationStatus

from api.caller import belongs_to, key_owner, owner_tag
from api.starter import start_workflow, without_foreign_key
from api.status import get_workflow_status
from orchestrator.errors import WorkflowRunError
from orchestrator.models import ErrorDoc, Logs, OrchestrationInput

GOOD_BODY = {"workflowCode": "def run(payload):\n    return payload\n", "input": {"a": 1}}


def client(instance_id: str = "abc123") -> df.DurableOrchestrationClient:
    durable = df.DurableOrchestrationClient(CLIENT_JSON)
    durable.start_new = echo_start_new(instance_id)
    durable.get_status = AsyncMock()
    return durable


def post(
    body: object, *, content_type: str = "application/json", headers: dict | None = None
) -> func.HttpRequest:
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    return func.HttpRequest(
        "POST",
        "https://myapp.example.net/api/workflows",
        headers={"Content-Type": content_type, **(headers or {})},
        body=raw,
    )


def get(instance_id: str, *, headers: dict | None = None) -> func.HttpRequest:
    return func.HttpRequest(
        "GET",
        f"https://myapp.example.net/api/workflowStatus/{instance_id}",
        headers=headers or {},
        route_params={"instanceId": instance_id},
        body=b"",
    )


def body_of(response: func.HttpResponse) -> dict:
    return json.loads(response.get_body())


async def test_start_answers_202_with_location_retry_after_and_management_urls(settings):
    durable = client()
    response = await start_workflow(post(GOOD_BODY), durable, settings=settings)

    assert response.status_code == 202
    instance_id = durable.start_new.call_args.kwargs["instance_id"]
    location = f"https://myapp.example.net/api/workflowStatus/{instance_id}"
    assert response.headers["Location"] == location
    assert int(response.headers["Retry-After"]) > 0
    assert response.headers["Content-Type"] == "application/json"
    body = body_of(response)
    assert body["id"] == instance_id
    assert body["statusUri"] == response.headers["Location"]
    # The system key in the host's URLs is never handed to a caller.
    assert body["statusQueryGetUri"] == (
        f"https://myapp.example.net/runtime/webhooks/durabletask/instances/{instance_id}"
        "?taskHub=Hub&connection=Storage"
    )
    assert body["terminatePostUri"].endswith("/terminate?reason={text}&taskHub=Hub")
    for key in ("sendEventPostUri", "terminatePostUri", "purgeHistoryDeleteUri"):
        assert body[key].startswith("https://myapp.example.net/runtime/webhooks/")
        assert instance_id in body[key]
        assert "sys" not in body[key]


def test_management_urls_keep_only_a_code_the_caller_sent() -> None:
    url = "https://h/runtime/webhooks/durabletask/instances/x?taskHub=H&code=sys%2Bkey"
    assert (
        without_foreign_key(url, None)
        == "https://h/runtime/webhooks/durabletask/instances/x?taskHub=H"
    )
    assert without_foreign_key(url, "other") == (
        "https://h/runtime/webhooks/durabletask/instances/x?taskHub=H"
    )
    assert without_foreign_key(url, "sys+key") == url
    assert without_foreign_key("https://h/x", None) == "https://h/x"


async def test_start_mints_an_id_tagged_with_the_callers_owner(settings):
    durable = client()
    response = await start_workflow(
        post(GOOD_BODY, headers={"x-functions-key": "alice-key"}), durable, settings=settings
    )
    instance_id = body_of(response)["id"]
    assert durable.start_new.call_args.kwargs["instance_id"] == instance_id
    tag, rest = instance_id.split("-", 1)
    assert tag == owner_tag(key_owner("alice-key"))
    assert len(rest) == 32 and int(rest, 16) >= 0  # a uuid4 in hex
    assert belongs_to(instance_id, key_owner("alice-key"))
    assert not belongs_to(instance_id, key_owner("bob-key"))
    await start_workflow(
        post(GOOD_BODY, headers={"x-functions-key": "alice-key"}), durable, settings=settings
    )
    assert durable.start_new.call_args.kwargs["instance_id"] != instance_id  # fresh every time


async def test_start_builds_the_orchestration_input_from_request_and_settings(settings):
    durable = client()
    body = {
        **GOOD_BODY,
        "sessionId": "keep-me-1",
        "environmentVariables": {"MODE": "x"},
        "secretEnvironmentVariables": {"TOKEN": "ALLOWED_SECRET"},
        "timeoutSeconds": 120,
    }
    await start_workflow(post(body), durable, settings=settings)

    (name,), kwargs = durable.start_new.call_args
    assert name == "WorkflowOrchestrator"
    assert isinstance(kwargs["client_input"], str)
    spec = OrchestrationInput.from_wire(kwargs["client_input"])
    assert spec.session.strategy == "reuse"
    assert spec.session.name == "keep-me-1"
    assert spec.session.owner == "anonymous"
    assert spec.secret_environment_variables == {"TOKEN": "ALLOWED_SECRET"}
    assert spec.command == settings.python_command
    assert spec.config.timeout_seconds == 120
    assert spec.config.max_poll_seconds == settings.execution_poll_interval_seconds
    assert spec.config.initial_poll_seconds == settings.initial_poll_interval_seconds
    assert spec.config.output_file_name == settings.output_file_name


async def test_start_defaults_to_an_ephemeral_session_and_the_default_timeout(settings):
    durable = client()
    await start_workflow(post(GOOD_BODY), durable, settings=settings)
    spec = OrchestrationInput.from_wire(durable.start_new.call_args.kwargs["client_input"])
    assert spec.session.strategy == "ephemeral"
    assert spec.session.name is None
    assert spec.config.timeout_seconds == settings.default_timeout_seconds
    assert spec.input == {"a": 1}


async def test_invalid_request_is_a_400_problem_and_starts_nothing(settings):
    durable = client()
    response = await start_workflow(
        post({"workflowCode": "", "sessionId": "x"}), durable, settings=settings
    )
    assert response.status_code == 400
    assert response.headers["Content-Type"] == "application/problem+json"
    paths = {e["path"] for e in body_of(response)["errors"]}
    assert paths == {"workflowCode", "sessionId"}
    durable.start_new.assert_not_called()


async def test_wrong_content_type_is_415(settings):
    durable = client()
    response = await start_workflow(
        post(GOOD_BODY, content_type="text/plain"), durable, settings=settings
    )
    assert response.status_code == 415
    assert body_of(response)["status"] == 415
    durable.start_new.assert_not_called()


async def test_malformed_json_is_400(settings):
    durable = client()
    response = await start_workflow(post(b'{"workflowCode": '), durable, settings=settings)
    assert response.status_code == 400
    assert body_of(response)["title"] == "Malformed JSON"
    durable.start_new.assert_not_called()


async def test_backend_failure_is_503(settings):
    durable = client()
    durable.start_new.side_effect = RuntimeError("connection refused")
    response = await start_workflow(post(GOOD_BODY), durable, settings=settings)
    assert response.status_code == 503
    assert response.headers["Content-Type"] == "application/problem+json"


async def test_status_unknown_id_is_404(settings):
    durable = client()
    durable.get_status.return_value = DurableOrchestrationStatus.from_json("")
    response = await get_workflow_status(get(INST1), durable, settings=settings)
    assert response.status_code == 404
    assert response.headers["Content-Type"] == "application/problem+json"
    assert body_of(response)["status"] == 404
    durable.get_status.assert_awaited_once()


@pytest.mark.parametrize(
    "theirs",
    [
        owned_id(key_owner("alice-key")),
        owned_id(key_owner("alice-key"), "idem-" + "b" * 40),
        "inst1",  # no owner tag at all
        owner_tag(key_owner("bob-key")),  # Bob's bare tag without the separator
    ],
)
async def test_status_of_another_callers_run_is_404_without_asking_the_backend(settings, theirs):
    durable = client()
    durable.get_status.return_value = status("Completed", output={"secret": "alice's"})
    bob = {"x-functions-key": "bob-key"}
    response = await get_workflow_status(get(theirs, headers=bob), durable, settings=settings)

    assert response.status_code == 404
    assert response.headers["Content-Type"] == "application/problem+json"
    durable.get_status.assert_not_called()
    # exactly the answer for an id that does not exist
    unknown = client()
    unknown.get_status.return_value = DurableOrchestrationStatus.from_json("")
    mine = owned_id(key_owner("bob-key"))
    expected = body_of(
        await get_workflow_status(get(mine, headers=bob), unknown, settings=settings)
    )
    assert body_of(response) == {**expected, "detail": expected["detail"].replace(mine, theirs)}


async def test_status_owner_comes_from_the_trusted_header_when_configured(settings):
    settings = settings.model_copy(update={"owner_header": "X-ARO-Owner"})
    durable = client()
    durable.get_status.return_value = status("Running", custom={"phase": "running"})
    theirs = owned_id("tenant-a")
    response = await get_workflow_status(get(theirs), durable, settings=settings)
    assert response.status_code == 401
    response = await get_workflow_status(
        get(theirs, headers={"X-ARO-Owner": "tenant-b"}), durable, settings=settings
    )
    assert response.status_code == 404
    response = await get_workflow_status(
        get(theirs, headers={"X-ARO-Owner": "tenant-a"}), durable, settings=settings
    )
    assert response.status_code == 200
    assert durable.get_status.await_count == 1


async def test_status_backend_failure_is_a_503_problem(settings):
    durable = client()
    durable.get_status.side_effect = RuntimeError("connection refused to 10.0.0.5")
    response = await get_workflow_status(get(INST1), durable, settings=settings)
    assert response.status_code == 503
    assert response.headers["Content-Type"] == "application/problem+json"
    body = body_of(response)
    assert body["type"] == "urn:aro:problem:durable-backend"
    assert "10.0.0.5" not in body["detail"]


@pytest.mark.parametrize("instance_id", ["bad id", "x" * 101, "a/b", "é"])
async def test_status_malformed_id_is_400(settings, instance_id):
    durable = client()
    response = await get_workflow_status(get(instance_id), durable, settings=settings)
    assert response.status_code == 400
    durable.get_status.assert_not_called()


def status(runtime: str, *, output=None, custom=None) -> DurableOrchestrationStatus:
    return DurableOrchestrationStatus(
        name="WorkflowOrchestrator",
        instanceId=INST1,
        createdTime="2025-01-01T12:00:00Z",
        lastUpdatedTime="2025-01-01T12:00:05Z",
        output=output,
        runtimeStatus=runtime,
        customStatus=custom,
    )


async def test_status_running_shows_the_phase(settings):
    durable = client()
    durable.get_status.return_value = status(
        "Running", custom={"phase": "running", "executionId": "e1", "polls": 3}
    )
    response = await get_workflow_status(get(INST1), durable, settings=settings)
    assert response.status_code == 200
    body = body_of(response)
    assert body["runtimeStatus"] == "Running"
    assert body["phase"] == "running"
    assert body["output"] is None and body["error"] is None
    assert body["createdTime"] == "2025-01-01T12:00:00Z"
    assert body["lastUpdatedTime"] == "2025-01-01T12:00:05Z"


async def test_status_completed_returns_the_result_logs_and_timings(settings):
    envelope = {
        "status": "succeeded",
        "result": {"answer": 42},
        "executionId": "e1",
        "logs": {"stdoutTail": "o", "stderrTail": "e"},
        "timings": {"uploadMs": 1, "runMs": 2, "collectMs": 3, "totalMs": 6},
        "polls": 2,
    }
    durable = client()
    durable.get_status.return_value = status(
        "Completed", output=envelope, custom={"phase": "completed"}
    )
    body = body_of(await get_workflow_status(get(INST1), durable, settings=settings))
    assert body["runtimeStatus"] == "Completed"
    assert body["phase"] == "completed"
    assert body["output"] == {"answer": 42}
    assert body["logs"] == {"stdoutTail": "o", "stderrTail": "e"}
    assert body["timings"]["totalMs"] == 6
    assert body["error"] is None


async def test_status_failed_parses_the_structured_error(settings):
    error = WorkflowRunError(
        ErrorDoc(
            type="ValueError",
            message="boom",
            stage="running",
            traceback="Traceback...",
            logs=Logs(stdout_tail="out", stderr_tail="err"),
            execution_id="e1",
        )
    )
    output = f"Orchestrator function 'WorkflowOrchestrator' failed: {error}"
    durable = client()
    durable.get_status.return_value = status("Failed", output=output, custom={"phase": "failed"})
    body = body_of(await get_workflow_status(get(INST1), durable, settings=settings))
    assert body["runtimeStatus"] == "Failed"
    assert body["phase"] == "failed"
    assert body["output"] is None
    assert body["error"] == {
        "type": "ValueError",
        "message": "boom",
        "stage": "running",
        "traceback": "Traceback...",
        "executionId": "e1",
    }
    assert body["logs"] == {"stdoutTail": "out", "stderrTail": "err"}


async def test_status_failed_without_marker_is_still_an_error(settings):
    durable = client()
    durable.get_status.return_value = status("Failed", output="something else broke")
    body = body_of(await get_workflow_status(get(INST1), durable, settings=settings))
    assert body["error"]["type"] == "OrchestrationFailed"
    assert "something else broke" in body["error"]["message"]


async def test_status_terminated_with_a_plain_reason_is_canceled_by_nobody_known(settings):
    durable = client()
    durable.get_status.return_value = status(
        "Terminated", output="stopped by operator", custom={"phase": "running"}
    )
    body = body_of(await get_workflow_status(get(INST1), durable, settings=settings))
    assert body["runtimeStatus"] == "Terminated"
    assert body["phase"] == "canceled"
    assert body["cancellation"] == {"canceledBy": None, "reason": "stopped by operator"}
    assert body["error"]["type"] == "Canceled"
    assert "stopped by operator" in body["error"]["message"]
