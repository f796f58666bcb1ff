"""WorkflowClient against a respx-mocked API: request shapes, errors, polling and paging."""

from __future__ import annotations

import json

import httpx
import pytest
import respx
from aro_support import FAILED_ERROR, URL, FakeClock, accepted, problem, status

from aro import (
    ApiError,
    AroError,
    Conflict,
    ConnectionFailed,
    NotFound,
    Submission,
    Unauthorized,
    ValidationFailed,
    WaitTimeout,
    WorkflowClient,
    WorkflowFailed,
    WorkflowStatus,
)


def make_client(clock: FakeClock, *, key: str | None = None, url: str = URL) -> WorkflowClient:
    return WorkflowClient(url, key=key, sleep=clock.sleep, clock=clock)


def test_submit_sends_camel_case_body_and_headers(
    router: respx.MockRouter, clock: FakeClock, instance_id: str
) -> None:
    route = router.post("/api/workflows").mock(
        return_value=accepted(instance_id, **{"Retry-After": "1"})
    )
    submission = Submission(
        workflow_code="def run(p): return p",
        input={"name": "Ada"},
        session_id="sess-1234",
        environment_variables={"MODE": "test"},
        secret_environment_variables={"OPENAI_API_KEY": "OpenAiKey"},
        runner_preamble="import os",
        command_override="python -X dev /mnt/data/run.py",
        timeout_seconds=120,
        session_strategy="reuse",
    )
    with make_client(clock, key="k-123") as client:
        result = client.submit(submission, idempotency_key="idem-1")

    request = route.calls.last.request
    assert json.loads(request.content) == {
        "workflowCode": "def run(p): return p",
        "input": {"name": "Ada"},
        "sessionId": "sess-1234",
        "environmentVariables": {"MODE": "test"},
        "secretEnvironmentVariables": {"OPENAI_API_KEY": "OpenAiKey"},
        "runnerPreamble": "import os",
        "commandOverride": "python -X dev /mnt/data/run.py",
        "timeoutSeconds": 120,
        "sessionStrategy": "reuse",
    }
    assert request.headers["x-functions-key"] == "k-123"
    assert request.headers["Idempotency-Key"] == "idem-1"
    assert request.headers["Content-Type"] == "application/json"
    assert result.id == instance_id
    assert result.retry_after == 1.0
    assert result.location == f"{URL}/api/workflowStatus/{instance_id}"
    assert result.status_query_get_uri.endswith(instance_id)


def test_submit_omits_unset_fields_key_and_idempotency_header(
    router: respx.MockRouter, clock: FakeClock, instance_id: str
) -> None:
    route = router.post("/api/workflows").mock(return_value=accepted(instance_id))
    with make_client(clock) as client:
        client.submit(Submission(workflow_code="x = 1"))
    request = route.calls.last.request
    assert json.loads(request.content) == {"workflowCode": "x = 1"}
    assert "x-functions-key" not in request.headers
    assert "Idempotency-Key" not in request.headers


def test_base_url_with_trailing_api_is_normalized(
    router: respx.MockRouter, clock: FakeClock, instance_id: str
) -> None:
    router.get(f"/api/workflowStatus/{instance_id}").mock(
        return_value=status(instance_id, "Running", "running")
    )
    with make_client(clock, url=URL + "/api/") as client:
        assert client.status(instance_id).phase == "running"


def test_400_problem_becomes_validation_failed_with_every_field(
    router: respx.MockRouter, clock: FakeClock
) -> None:
    errors = [
        {"path": "workflowCode", "message": "is required"},
        {"path": "environmentVariables.1BAD", "message": "is not a valid variable name"},
    ]
    router.post("/api/workflows").mock(
        return_value=problem(400, "Invalid request", "2 bad fields", errors)
    )
    with make_client(clock) as client, pytest.raises(ValidationFailed) as caught:
        client.submit(Submission(workflow_code=""))
    assert caught.value.status == 400
    assert [(e.path, e.message) for e in caught.value.problem.errors] == [
        (e["path"], e["message"]) for e in errors
    ]


@pytest.mark.parametrize(
    ("code", "error_type"),
    [
        (401, Unauthorized),
        (403, Unauthorized),
        (404, NotFound),
        (409, Conflict),
        (413, ValidationFailed),
        (415, ValidationFailed),
        (500, ApiError),
    ],
)
def test_error_statuses_map_to_classes(
    router: respx.MockRouter, clock: FakeClock, instance_id: str, code: int, error_type: type
) -> None:
    router.get(f"/api/workflowStatus/{instance_id}").mock(
        return_value=problem(code, "Nope", "detail here")
    )
    with make_client(clock) as client, pytest.raises(error_type) as caught:
        client.status(instance_id)
    assert caught.value.status == code
    assert caught.value.problem.detail == "detail here"


def test_non_problem_error_body_is_synthesized(
    router: respx.MockRouter, clock: FakeClock, instance_id: str
) -> None:
    router.get(f"/api/workflowStatus/{instance_id}").respond(502, text="Bad gateway from proxy")
    with make_client(clock) as client, pytest.raises(ApiError) as caught:
        client.status(instance_id)
    assert caught.value.status == 502
    assert caught.value.problem.detail == "Bad gateway from proxy"
    assert caught.value.is_transient


def test_garbled_success_body_is_an_aro_error(
    router: respx.MockRouter, clock: FakeClock, instance_id: str
) -> None:
    router.get(f"/api/workflowStatus/{instance_id}").respond(200, text="<html>not json</html>")
    with make_client(clock) as client, pytest.raises(AroError, match="not a WorkflowStatus"):
        client.status(instance_id)


def test_connection_refused_names_the_url(router: respx.MockRouter, clock: FakeClock) -> None:
    router.post("/api/workflows").mock(side_effect=httpx.ConnectError("refused"))
    with make_client(clock) as client, pytest.raises(ConnectionFailed) as caught:
        client.submit(Submission(workflow_code="x"))
    assert caught.value.url == URL
    assert URL in caught.value.message


def test_wait_polls_adaptively_and_reports_each_phase_change(
    router: respx.MockRouter, clock: FakeClock, instance_id: str
) -> None:
    router.get(f"/api/workflowStatus/{instance_id}").mock(
        side_effect=[
            status(instance_id, "Pending", None, code=202),
            status(instance_id, "Running", "uploading", code=202),
            status(instance_id, "Running", "uploading", code=202),
            status(instance_id, "Running", "running", code=202),
            status(instance_id, "Running", "running", code=202),
            status(instance_id, "Running", "running", code=202),
            status(instance_id, "Running", "collecting", code=202),
            status(instance_id, "Completed", "completed", output={"answer": 42}),
        ]
    )
    seen: list[tuple[str, str | None]] = []
    with make_client(clock) as client:
        final = client.wait(
            instance_id, timeout=60, on_update=lambda s: seen.append((s.runtime_status, s.phase))
        )
    assert final.succeeded and final.output == {"answer": 42}
    assert seen == [
        ("Pending", None),
        ("Running", "uploading"),
        ("Running", "running"),
        ("Running", "collecting"),
        ("Completed", "completed"),
    ]
    assert clock.sleeps == pytest.approx([0.25, 0.375, 0.5625, 0.84375, 1.265625, 1.8984375, 2.0])


def test_wait_honours_retry_after_loosely(
    router: respx.MockRouter, clock: FakeClock, instance_id: str
) -> None:
    running = {"instanceId": instance_id, "runtimeStatus": "Running"}
    router.get(f"/api/workflowStatus/{instance_id}").mock(
        side_effect=[
            httpx.Response(202, json=running, headers={"Retry-After": "1"}),
            httpx.Response(202, json=running, headers={"Retry-After": "10"}),
            status(instance_id, "Completed", "completed"),
        ]
    )
    with make_client(clock) as client:
        client.wait(instance_id, timeout=60)
    # A hint lengthens the wait, but never beyond the 2 s cap.
    assert clock.sleeps == [1.0, 2.0]


def test_wait_returns_failed_status_without_raising(
    router: respx.MockRouter, clock: FakeClock, instance_id: str
) -> None:
    router.get(f"/api/workflowStatus/{instance_id}").mock(
        return_value=status(instance_id, "Failed", "failed", error=FAILED_ERROR)
    )
    with make_client(clock) as client:
        final = client.wait(instance_id)
    assert final.is_terminal and not final.succeeded
    assert final.error is not None and final.error.type == "ValueError"
    assert final.error.hint == "check the input"


def test_wait_rides_out_transient_failures(
    router: respx.MockRouter, clock: FakeClock, instance_id: str
) -> None:
    router.get(f"/api/workflowStatus/{instance_id}").mock(
        side_effect=[
            httpx.ConnectError("restarting"),
            problem(503, "Unavailable", "busy"),
            httpx.Response(429, json={"title": "Slow down"}, headers={"Retry-After": "5"}),
            status(instance_id, "Completed", "completed", output=1),
        ]
    )
    with make_client(clock) as client:
        assert client.wait(instance_id, timeout=60).output == 1
    assert clock.sleeps == pytest.approx([0.25, 0.375, 5.0])


def test_wait_gives_up_after_too_many_failures_in_a_row(
    router: respx.MockRouter, clock: FakeClock, instance_id: str
) -> None:
    router.get(f"/api/workflowStatus/{instance_id}").mock(side_effect=httpx.ConnectError("down"))
    with make_client(clock) as client, pytest.raises(ConnectionFailed):
        client.wait(instance_id, timeout=600)
    assert len(clock.sleeps) == 5


@pytest.mark.parametrize("poll_interval", [0, -1.0])
def test_wait_refuses_a_poll_interval_that_would_hammer_the_server(
    router: respx.MockRouter, clock: FakeClock, instance_id: str, poll_interval: float
) -> None:
    route = router.get(f"/api/workflowStatus/{instance_id}").mock(
        side_effect=[status(instance_id, "Running", "running", code=202)] * 3
        + [status(instance_id, "Completed", "completed")]
    )
    with make_client(clock) as client, pytest.raises(ValueError, match="poll interval"):
        client.wait(instance_id, timeout=None, poll_interval=poll_interval)
    assert route.call_count == 0


def test_wait_does_not_retry_not_found(
    router: respx.MockRouter, clock: FakeClock, instance_id: str
) -> None:
    route = router.get(f"/api/workflowStatus/{instance_id}").mock(
        return_value=problem(404, "Not found", "no such instance")
    )
    with make_client(clock) as client, pytest.raises(NotFound):
        client.wait(instance_id, timeout=60)
    assert route.call_count == 1


def test_wait_timeout_keeps_the_last_status(
    router: respx.MockRouter, clock: FakeClock, instance_id: str
) -> None:
    router.get(f"/api/workflowStatus/{instance_id}").mock(
        return_value=status(instance_id, "Running", "running")
    )
    with make_client(clock) as client, pytest.raises(WaitTimeout) as caught:
        client.wait(instance_id, timeout=3)
    assert caught.value.instance_id == instance_id
    assert caught.value.status is not None and caught.value.status.phase == "running"
    assert sum(clock.sleeps) == pytest.approx(3.0)
    assert instance_id in str(caught.value)


def test_run_returns_output_or_raises_workflow_failed(
    router: respx.MockRouter, clock: FakeClock, instance_id: str
) -> None:
    router.post("/api/workflows").mock(return_value=accepted(instance_id))
    router.get(f"/api/workflowStatus/{instance_id}").mock(
        side_effect=[
            status(instance_id, "Completed", "completed", output=["ok"]),
            status(instance_id, "Terminated", "canceled", error="stopped by user"),
        ]
    )
    with make_client(clock) as client:
        assert client.run(Submission(workflow_code="x")) == ["ok"]
        with pytest.raises(WorkflowFailed) as caught:
            client.run(Submission(workflow_code="x"))
    assert caught.value.status.error is not None
    assert caught.value.status.error.message == "stopped by user"


def test_cancel_sends_reason_and_parses_status(
    router: respx.MockRouter, clock: FakeClock, instance_id: str
) -> None:
    route = router.post(f"/api/workflows/{instance_id}/cancel").mock(
        return_value=status(instance_id, "Running", "canceling", code=202)
    )
    with make_client(clock) as client:
        result = client.cancel(instance_id, reason="not needed")
    assert json.loads(route.calls.last.request.content) == {"reason": "not needed"}
    assert result.instance_id == instance_id and result.phase == "canceling"


def test_cancel_without_body_fills_what_it_knows(
    router: respx.MockRouter, clock: FakeClock, instance_id: str
) -> None:
    route = router.post(f"/api/workflows/{instance_id}/cancel").respond(202)
    with make_client(clock) as client:
        result = client.cancel(instance_id)
    assert route.calls.last.request.content == b""
    assert result.instance_id == instance_id
    assert result.runtime_status == "Unknown"


def test_cancel_conflict(router: respx.MockRouter, clock: FakeClock, instance_id: str) -> None:
    router.post(f"/api/workflows/{instance_id}/cancel").mock(
        return_value=problem(409, "Conflict", "instance already Completed")
    )
    with make_client(clock) as client, pytest.raises(Conflict, match="already Completed"):
        client.cancel(instance_id)


def test_list_and_iter_all_follow_continuation_tokens(
    router: respx.MockRouter, clock: FakeClock
) -> None:
    def page(ids: list[str], token: str | None) -> httpx.Response:
        items = [{"instanceId": i, "runtimeStatus": "Running", "phase": "running"} for i in ids]
        return httpx.Response(200, json={"items": items, "continuationToken": token})

    route = router.get("/api/workflows").mock(
        side_effect=[page(["a", "b"], "t1"), page(["c"], "t2"), page([], None)]
    )
    with make_client(clock) as client:
        ids = [s.instance_id for s in client.iter_all(status="Running", top=2)]
    assert ids == ["a", "b", "c"]
    params = [dict(call.request.url.params) for call in route.calls]
    assert params == [
        {"status": "Running", "top": "2"},
        {"status": "Running", "top": "2", "continuationToken": "t1"},
        {"status": "Running", "top": "2", "continuationToken": "t2"},
    ]


def test_status_tolerates_custom_status_and_unknown_fields(instance_id: str) -> None:
    parsed = WorkflowStatus.model_validate(
        {
            "instanceId": instance_id,
            "runtimeStatus": "Running",
            "customStatus": {"phase": "collecting"},
            "somethingNew": True,
        }
    )
    assert parsed.phase == "collecting"
    assert parsed.model_dump(by_alias=True)["somethingNew"] is True
