"""Each kind of function invoked through the worker's ``invocation_request``, typed data in and out.

What the host sends is built as the Functions host builds it (``python_worker.http_data``:
lower-case headers, query and route values, raw body bytes; the durable client's JSON as a
string; the orchestration context JSON as a string; an activity input as JSON text) and
what comes back is read as the host reads it. The assertions are on what our functions
received (visible in what they answer) and on the typed data they returned.
"""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path
from typing import Any

import pytest
from conftest import KEY, Served

from local_runtime import durable_api
from local_runtime.events import EventType
from local_runtime.python_worker import (
    InvocationFailure,
    http_data,
    json_data,
    python_value,
    string_data,
)
from orchestrator import names

TERMINAL = {"Completed", "Failed", "Terminated"}
REPO = Path(__file__).resolve().parents[2]


def hello_request(name: str) -> dict[str, Any]:
    """examples/hello's request with another input."""
    request = json.loads((REPO / "examples" / "hello" / "request.json").read_text())
    return {**request, "input": {"name": name}}


def client_json(served: Served) -> str:
    """The durableClient binding's value, as the Durable extension gives it (a JSON string)."""
    runtime = served.running.runtime
    return durable_api.client_binding(
        runtime.config.base_url, runtime.config.options.hub_name, rpc_token=runtime.rpc_token
    )


async def call_http(
    served: Served,
    name: str,
    *,
    method: str,
    path: str,
    body: bytes = b"",
    query: dict[str, str] | None = None,
    params: dict[str, str] | None = None,
    headers: dict[str, str] | None = None,
) -> dict[str, Any]:
    """Invoke an HTTP function; the host's view of its answer (status, headers, body)."""
    inputs = {
        "req": http_data(
            method=method,
            url=f"{served.running.base_url}/api/{path}",
            headers={"x-functions-key": KEY, **(headers or {})},
            query=query or {},
            params=params or {},
            body=body,
        )
    }
    if served.worker.functions[name].binding_info.get("client"):
        inputs["client"] = string_data(client_json(served))
    response = await served.invoker.invoke(name, inputs)
    assert response.return_value.WhichOneof("data") == "http"  # an HttpResponse, converted
    answer = python_value(response.return_value)
    assert isinstance(answer["status_code"], str)  # RpcHttp carries the status as text
    return answer


def as_json(answer: dict[str, Any]) -> Any:
    assert isinstance(answer["body"], bytes)
    return json.loads(answer["body"])


async def test_health_without_a_durable_client(served: Served) -> None:
    answer = await call_http(served, "Health", method="GET", path="health")
    assert answer["status_code"] == "200"
    assert answer["headers"]["Content-Type"] == "application/json"
    assert as_json(answer)["status"] == "ok"


async def test_openapi_reads_the_request_url(served: Served) -> None:
    answer = await call_http(served, "OpenApi", method="GET", path="openapi.json")
    document = as_json(answer)
    assert answer["status_code"] == "200"
    assert document["openapi"].startswith("3.1")
    assert document["servers"][0]["url"].startswith(served.running.base_url)


async def status_answer(served: Served, instance_id: str) -> dict[str, Any]:
    """GetWorkflowStatus for ``instance_id`` (its route value, as the host passes it)."""
    return await call_http(
        served,
        "GetWorkflowStatus",
        method="GET",
        path=f"workflowStatus/{instance_id}",
        params={"instanceId": instance_id},
    )


async def wait_for_status(served: Served, instance_id: str) -> dict[str, Any]:
    deadline = time.monotonic() + 60
    while True:
        answer = await status_answer(served, instance_id)
        assert answer["status_code"] == "200", answer
        status = as_json(answer)
        if status["runtimeStatus"] in TERMINAL or time.monotonic() > deadline:
            return status
        await asyncio.sleep(0.05)


@pytest.fixture(scope="module")
def completed_run(served: Served) -> dict[str, Any]:
    """The hello workflow started, watched and finished through the worker's HTTP functions."""
    return asyncio.run(_complete_a_run(served))


async def _complete_a_run(served: Served) -> dict[str, Any]:
    body = json.dumps(hello_request("Worker")).encode()
    answer = await call_http(
        served,
        "StartWorkflow",
        method="POST",
        path="workflows",
        body=body,
        headers={"content-type": "application/json"},
    )
    assert answer["status_code"] == "202", answer
    accepted = as_json(answer)
    # the body, the key header and the request URL arrived as the code assumes
    assert answer["headers"]["Location"] == accepted["statusUri"]
    assert accepted["statusUri"].startswith(f"{served.running.base_url}/api/workflowStatus/")
    status = await wait_for_status(served, accepted["id"])
    assert status["runtimeStatus"] == "Completed", status
    return status


async def test_starter_and_status_through_the_worker(completed_run: dict[str, Any]) -> None:
    assert completed_run["output"] == {"greeting": "Hello, Worker!"}
    assert completed_run["phase"] == "completed"


async def test_listing_reads_query_values(served: Served, completed_run: dict[str, Any]) -> None:
    answer = await call_http(
        served, "ListWorkflows", method="GET", path="workflows", query={"top": "1"}
    )
    listing = as_json(answer)
    assert answer["status_code"] == "200"
    assert [item["instanceId"] for item in listing["items"]] == [completed_run["instanceId"]]
    bad = await call_http(
        served, "ListWorkflows", method="GET", path="workflows", query={"top": "x"}
    )
    assert bad["status_code"] == "400"
    assert bad["headers"]["Content-Type"] == "application/problem+json"


async def test_cancel_reads_route_values(served: Served, completed_run: dict[str, Any]) -> None:
    instance_id = completed_run["instanceId"]
    answer = await call_http(
        served,
        "CancelWorkflow",
        method="POST",
        path=f"workflows/{instance_id}/cancel",
        params={"instanceId": instance_id},
    )
    assert answer["status_code"] == "409"  # finished runs cannot be canceled
    assert instance_id in as_json(answer)["detail"]


async def test_unknown_instance_is_a_404_problem(served: Served) -> None:
    missing = "o00000000000-" + "0" * 32
    answer = await status_answer(served, missing)
    assert answer["status_code"] == "404"


async def test_orchestrator_replays_the_recorded_history(
    served: Served, completed_run: dict[str, Any]
) -> None:
    """The worker replays the whole recorded history (context JSON as a string) to the end."""
    runtime = served.running.runtime
    instance = runtime.get(completed_run["instanceId"])
    history = runtime.store.get_history(instance.instance_id)
    kinds = {event["EventType"] for event in history}
    assert {EventType.TASK_SCHEDULED, EventType.TASK_COMPLETED} <= kinds
    played = [e for e in history if e["EventType"] != EventType.EXECUTION_COMPLETED]
    context = {
        "history": [dict(e, IsPlayed=True) for e in played],
        "instanceId": instance.instance_id,
        "isReplaying": True,
        "parentInstanceId": None,
        "input": instance.input,
        "upperSchemaVersion": 1,
        "upperSchemaVersionNew": 2,
    }
    response = await served.invoker.invoke(
        names.ORCHESTRATOR, {"context": string_data(json.dumps(context))}
    )
    returned = response.return_value
    assert returned.WhichOneof("data") == "json"  # the state, as JSON text
    state = json.loads(returned.json)
    assert state["isDone"] is True
    assert state["output"]["result"] == {"greeting": "Hello, Worker!"}
    assert state["customStatus"]["phase"] == "completed"


async def test_orchestrator_first_episode_asks_to_run_the_execution(
    served: Served, completed_run: dict[str, Any]
) -> None:
    instance = served.running.runtime.get(completed_run["instanceId"])
    started = "2026-01-01T00:00:00.000000Z"
    context = {
        "history": [
            {"EventType": 12, "EventId": -1, "IsPlayed": False, "Timestamp": started},
            {
                "EventType": 0,
                "EventId": -1,
                "IsPlayed": False,
                "Timestamp": started,
                "Version": "",
            },
        ],
        "instanceId": "fresh-instance",
        "isReplaying": False,
        "parentInstanceId": None,
        "input": instance.input,  # JSON text of our OrchestrationInput
        "upperSchemaVersion": 1,
    }
    response = await served.invoker.invoke(
        names.ORCHESTRATOR, {"context": string_data(json.dumps(context))}
    )
    state = json.loads(response.return_value.json)
    assert state["isDone"] is False
    actions = [a for group in state["actions"] for a in _leaves(group)]
    assert [a["functionName"] for a in actions] == ["RunExecution"]
    assert isinstance(json.loads(actions[0]["input"]), str)  # our payload: JSON text in a string
    assert state["customStatus"]["phase"] == "starting"


def _leaves(actions: Any) -> list[dict[str, Any]]:
    if isinstance(actions, list):
        return [leaf for item in actions for leaf in _leaves(item)]
    if actions.get("compoundActions"):
        return _leaves(actions["compoundActions"])
    return [actions]


async def test_activities_took_and_gave_json_text(
    served: Served, completed_run: dict[str, Any]
) -> None:
    """Recorded activity results are df_dumps(str): our payloads are JSON text both ways."""
    history = served.running.runtime.store.get_history(completed_run["instanceId"])
    results = [e["Result"] for e in history if e["EventType"] == EventType.TASK_COMPLETED]
    assert len(results) >= 1  # a short run: RunExecution alone
    for result in results:
        text = json.loads(result)
        assert isinstance(text, str)
        assert isinstance(json.loads(text), dict)


async def test_activity_input_arrives_as_the_string_sent(served: Served) -> None:
    """A payload the model refuses: the failure shows the activity got our text, unchanged."""
    with pytest.raises(InvocationFailure) as failed:
        await served.invoker.invoke(
            "GetExecution", {"payload": json_data(json.dumps('{"instance_id": "i"}'))}
        )
    assert failed.value.message.startswith("ValidationError: ")
    assert "input_value={'instance_id': 'i'}" in failed.value.message
    assert "session_activities.py" in failed.value.stack_trace


async def test_activity_result_is_json_text(served: Served, completed_run: dict[str, Any]) -> None:
    """StopSession with the run's own session (idempotent): JSON text back, as json TypedData."""
    history = served.running.runtime.store.get_history(completed_run["instanceId"])
    upload = next(
        e
        for e in history
        if e["EventType"] == EventType.TASK_SCHEDULED and e["Name"] == "RunExecution"
    )
    response = await served.invoker.invoke("StopSession", {"payload": json_data(upload["Input"])})
    returned = response.return_value
    assert returned.WhichOneof("data") == "json"
    assert isinstance(json.loads(json.loads(returned.json)), dict)
