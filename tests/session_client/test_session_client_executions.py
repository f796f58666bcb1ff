"""Executions: request body, operation-id header, 200/202, id fallback, status parsing."""

from __future__ import annotations

import json

import pytest
import respx
from session_client_support import (
    API_VERSION,
    POOL_PATH,
    SleepRecorder,
    execution_body,
    make_client,
)

from session_client import (
    AzureSessionClient,
    ExecutionStatus,
    SessionProtocolError,
)


@pytest.mark.parametrize("status_code", [200, 202])
async def test_start_execution_posts_asynchronous_inline_body(
    client: AzureSessionClient,
    router: respx.Router,
    identifier: str,
    token: str,
    status_code: int,
) -> None:
    route = router.post("/executions").respond(
        status_code, json=execution_body(identifier, id="op-1", status="Running")
    )

    execution = await client.start_execution(
        identifier, "print(1)", timeout_seconds=120, execution_id="op-1"
    )

    request = route.calls.last.request
    assert request.method == "POST"
    assert request.url.path == f"{POOL_PATH}/executions"
    assert request.url.params["identifier"] == identifier
    assert request.url.params["api-version"] == API_VERSION
    assert request.headers["authorization"] == f"Bearer {token}"
    assert request.headers["operation-id"] == "op-1"
    assert request.headers["content-type"] == "application/json"
    assert json.loads(request.content) == {
        "codeInputType": "Inline",
        "executionType": "Asynchronous",
        "code": "print(1)",
        "timeoutInSeconds": 120,
    }
    assert execution.id == "op-1"
    assert execution.identifier == identifier
    assert execution.status is ExecutionStatus.Running
    assert execution.execution_type == "Asynchronous"
    assert not execution.is_terminal


async def test_start_execution_without_id_sends_no_operation_id(
    client: AzureSessionClient, router: respx.Router, identifier: str
) -> None:
    route = router.post("/executions").respond(202, json=execution_body(identifier, id="srv-9"))

    execution = await client.start_execution(identifier, "1", timeout_seconds=5)

    assert "operation-id" not in route.calls.last.request.headers
    assert execution.id == "srv-9"


async def test_missing_id_is_taken_from_operation_id_header(
    client: AzureSessionClient, router: respx.Router, identifier: str
) -> None:
    body = execution_body(identifier)
    del body["id"]
    router.post("/executions").respond(202, json=body, headers={"operation-id": "hdr-7"})

    execution = await client.start_execution(identifier, "1", timeout_seconds=5)

    assert execution.id == "hdr-7"


async def test_empty_202_with_operation_id_is_not_started(
    client: AzureSessionClient, router: respx.Router, identifier: str
) -> None:
    router.post("/executions").respond(202, headers={"operation-id": "hdr-8"})

    execution = await client.start_execution(identifier, "1", timeout_seconds=5)

    assert execution.id == "hdr-8"
    assert execution.status is ExecutionStatus.NotStarted


async def test_execution_without_any_id_is_a_protocol_error(
    client: AzureSessionClient, router: respx.Router, identifier: str
) -> None:
    body = execution_body(identifier)
    del body["id"]
    router.post("/executions").respond(200, json=body)

    with pytest.raises(SessionProtocolError, match="not a valid Execution: id"):
        await client.start_execution(identifier, "1", timeout_seconds=5)


async def test_execute_is_synchronous_and_returns_result(
    client: AzureSessionClient, router: respx.Router, identifier: str
) -> None:
    route = router.post("/executions").respond(
        202,
        json={
            "id": "e-1",
            "identifier": identifier,
            "executionType": "synchronous",
            "status": "Succeeded",
            "result": {
                "stdout": "63\n",
                "stderr": "",
                "executionResult": {"a": [1, None]},
                "executionTimeInMilliseconds": 4,
            },
        },
    )

    execution = await client.execute(identifier, "print(63)", timeout_seconds=60)

    sent = json.loads(route.calls.last.request.content)
    assert sent["executionType"] == "Synchronous"
    assert sent["timeoutInSeconds"] == 60
    assert execution.is_terminal
    assert execution.execution_type == "Synchronous"
    assert execution.result is not None
    assert execution.result.stdout == "63\n"
    assert execution.result.execution_result == {"a": [1, None]}
    assert execution.result.execution_time_in_milliseconds == 4
    # The read timeout is stretched to cover the execution itself.
    timeout = route.calls.last.request.extensions["timeout"]
    assert timeout["read"] == 90.0


async def test_get_execution(
    client: AzureSessionClient, router: respx.Router, identifier: str, token: str
) -> None:
    route = router.get("/executions/op-42").respond(
        200,
        json=execution_body(
            identifier,
            id="op-42",
            status="Failed",
            error={"code": "ExecutionFailed", "message": "boom"},
            result={"stdout": None, "stderr": "Traceback"},
        ),
    )

    execution = await client.get_execution(identifier, "op-42")

    request = route.calls.last.request
    assert request.method == "GET"
    assert request.url.path == f"{POOL_PATH}/executions/op-42"
    assert request.url.params["identifier"] == identifier
    assert request.url.params["api-version"] == API_VERSION
    assert request.headers["authorization"] == f"Bearer {token}"
    assert execution.status is ExecutionStatus.Failed
    assert execution.is_terminal
    assert execution.error is not None
    assert (execution.error.code, execution.error.message) == ("ExecutionFailed", "boom")
    assert execution.result is not None
    assert execution.result.stdout == ""


@pytest.mark.parametrize(
    ("wire", "expected"),
    [
        ("succeeded", ExecutionStatus.Succeeded),
        ("SUCCEEDED", ExecutionStatus.Succeeded),
        ("Success", ExecutionStatus.Succeeded),
        ("notStarted", ExecutionStatus.NotStarted),
        ("running", ExecutionStatus.Running),
        ("Cancelled", ExecutionStatus.Canceled),
        ("failed", ExecutionStatus.Failed),
    ],
)
async def test_status_casing_variants_are_normalised(
    client: AzureSessionClient,
    router: respx.Router,
    identifier: str,
    wire: str,
    expected: ExecutionStatus,
) -> None:
    router.get("/executions/x").respond(200, json=execution_body(identifier, id="x", status=wire))

    execution = await client.get_execution(identifier, "x")

    assert execution.status is expected


async def test_unknown_status_is_a_protocol_error_without_echoing_the_body(
    client: AzureSessionClient, router: respx.Router, identifier: str
) -> None:
    router.get("/executions/x").respond(
        200, json=execution_body(identifier, id="x", status="Exploded")
    )

    with pytest.raises(SessionProtocolError) as info:
        await client.get_execution(identifier, "x")

    assert "status" in info.value.message
    assert identifier not in str(info.value)
    assert info.value.response is not None


async def test_sync_execute_read_timeout_never_below_client_timeout(
    router: respx.Router, sleeps: SleepRecorder, identifier: str
) -> None:
    route = router.post("/executions").respond(
        200, json=execution_body(identifier, status="Succeeded")
    )
    async with make_client(router, sleeps, timeout=300.0) as client:
        await client.execute(identifier, "1", timeout_seconds=10)
    assert route.calls.last.request.extensions["timeout"]["read"] == 300.0


async def test_invalid_timeout_seconds_rejected_before_sending(
    client: AzureSessionClient, router: respx.Router, identifier: str
) -> None:
    with pytest.raises(ValueError, match="timeout_seconds"):
        await client.start_execution(identifier, "1", timeout_seconds=0)
