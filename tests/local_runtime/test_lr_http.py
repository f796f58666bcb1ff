"""The HTTP host and the Durable HTTP API, through real HTTP against the in-process server."""

from __future__ import annotations

import json
import time

import httpx
import pytest
from lr_helpers import new_id, wait_status

from local_runtime.http_host import route_paths
from local_runtime.testing import RunningRuntime


def start(client: httpx.Client, rt: RunningRuntime, name: str, value: object, **params: str):
    """POST the starter route; returns the check-status response."""
    response = client.post(f"{rt.api_url}/orchestrators/{name}", json=value, params=params)
    assert response.status_code == 202, response.text
    return response


# --- HTTP functions -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("route", "expected"),
    [
        ("workflows", ["/api/workflows"]),
        ("workflowStatus/{instanceId}", ["/api/workflowStatus/{instanceId}"]),
        ("items/{id:int}", ["/api/items/{id}"]),
        ("echo/{a}/{b?}", ["/api/echo/{a}/{b}", "/api/echo/{a}"]),
        ("files/{*rest}", ["/api/files/{rest:path}"]),
    ],
)
def test_route_templates(route: str, expected: list[str]) -> None:
    assert route_paths(route, prefix="api") == expected


def test_route_prefix_empty() -> None:
    assert route_paths("workflows", prefix="") == ["/workflows"]


def test_sync_function_gets_full_request(rt: RunningRuntime, client: httpx.Client) -> None:
    response = client.get(f"{rt.api_url}/echo/1?x=2", headers={"X-Test": "yes"})
    assert response.status_code == 201
    assert response.headers["x-echo"] == "1"
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert body["method"] == "GET"
    assert body["params"] == {"x": "2"}
    assert body["route"] == {"a": "1"}
    assert body["headers"] == {"x-test": "yes"}
    assert body["url"] == f"{rt.api_url}/echo/1?x=2"


def test_repeated_headers_and_query_params_are_joined(
    rt: RunningRuntime, client: httpx.Client
) -> None:
    response = client.get(
        f"{rt.api_url}/echo/1",
        params=[("x", "1"), ("x", "2"), ("y", "3")],
        headers=[("X-Test", "a"), ("X-Test", "b")],
    )
    body = response.json()
    assert body["params"] == {"x": "1,2", "y": "3"}
    assert body["headers"] == {"x-test": "a,b"}


def test_unserializable_return_value_is_a_500_with_empty_body(
    rt: RunningRuntime, client: httpx.Client
) -> None:
    response = client.get(f"{rt.api_url}/unserializable")
    assert (response.status_code, response.content) == (500, b"")


def test_optional_route_param_and_body(rt: RunningRuntime, client: httpx.Client) -> None:
    body = client.post(f"{rt.api_url}/echo/1/2", content=b"payload").json()
    assert body["route"] == {"a": "1", "b": "2"}
    assert body["body"] == "payload"


def test_method_filter(rt: RunningRuntime, client: httpx.Client) -> None:
    assert client.delete(f"{rt.api_url}/echo/1").status_code == 405
    assert client.get(f"{rt.api_url}/nope").status_code == 404


# --- starter + status query ---------------------------------------------------------------


def test_starter_and_status_query_uri(rt: RunningRuntime, client: httpx.Client) -> None:
    response = start(client, rt, "o_hello", "World")
    payload = response.json()
    assert response.headers["location"] == payload["statusQueryGetUri"]
    assert payload["statusQueryGetUri"].startswith(
        f"{rt.base_url}/runtime/webhooks/durabletask/instances/{payload['id']}"
    )
    done = wait_status(client, payload["statusQueryGetUri"])
    assert done.status_code == 200
    status = done.json()
    assert status["runtimeStatus"] == "Completed"
    assert status["output"] == "Hello World!"
    assert status["input"] == "World"
    compact = client.get(f"{rt.api_url}/status/{payload['id']}").json()
    assert compact == {
        "runtimeStatus": "Completed",
        "output": "Hello World!",
        "input": "World",
        "customStatus": None,
    }


def test_status_with_history(rt: RunningRuntime, client: httpx.Client) -> None:
    url = start(client, rt, "o_hello", "H").json()["statusQueryGetUri"]
    wait_status(client, url)
    body = client.get(url, params={"showHistory": "true", "showHistoryOutput": "true"}).json()
    kinds = [e["EventType"] for e in body["historyEvents"]]
    assert kinds == ["ExecutionStarted", "TaskScheduled", "TaskCompleted", "ExecutionCompleted"]
    assert body["historyEvents"][2]["Result"] == "Hello H!"
    no_input = client.get(url, params={"showInput": "false"}).json()
    assert no_input["input"] is None


def test_running_status_is_202_and_unknown_is_404(rt: RunningRuntime, client: httpx.Client) -> None:
    url = start(client, rt, "o_approval", None).json()["statusQueryGetUri"]
    running = client.get(url)
    assert running.status_code == 202
    assert running.json()["runtimeStatus"] in ("Pending", "Running")
    missing = client.get(f"{rt.base_url}/runtime/webhooks/durabletask/instances/{new_id()}")
    assert missing.status_code == 404
    assert client.get(f"{rt.api_url}/status/{new_id()}").status_code == 404


def test_start_with_instance_id_conflicts_while_running(
    rt: RunningRuntime, client: httpx.Client
) -> None:
    iid = new_id("fixed")
    assert start(client, rt, "o_approval", None, instanceId=iid).json()["id"] == iid
    again = client.post(
        f"{rt.base_url}/runtime/webhooks/durabletask/orchestrators/o_approval/{iid}"
    )
    assert again.status_code == 400
    assert "already exists" in again.json()["ExceptionMessage"]
    # through the library's client, the starter fails (500) instead of starting twice
    assert client.post(f"{rt.api_url}/orchestrators/o_approval?instanceId={iid}").status_code == 500


def test_unknown_orchestrator_is_400(rt: RunningRuntime, client: httpx.Client) -> None:
    response = client.post(f"{rt.base_url}/runtime/webhooks/durabletask/orchestrators/nope")
    assert response.status_code == 400
    assert "nope" in response.json()["ExceptionMessage"]


def test_failed_instance_status(rt: RunningRuntime, client: httpx.Client) -> None:
    url = start(client, rt, "o_raise", None).json()["statusQueryGetUri"]
    done = wait_status(client, url)
    assert done.status_code == 200
    assert done.json()["runtimeStatus"] == "Failed"
    assert "orchestrator says no" in done.json()["output"]


# --- raise event, terminate, suspend ------------------------------------------------------


def test_raise_event_via_client_and_custom_status(rt: RunningRuntime, client: httpx.Client) -> None:
    payload = start(client, rt, "o_approval", None).json()
    iid = payload["id"]
    deadline = time.monotonic() + 5
    while client.get(f"{rt.api_url}/status/{iid}").json()["customStatus"] is None:
        assert time.monotonic() < deadline
        time.sleep(0.01)
    assert client.get(f"{rt.api_url}/status/{iid}").json()["customStatus"] == {"stage": "waiting"}
    raised = client.post(f"{rt.api_url}/client/raise/{iid}", content=json.dumps({"ok": True}))
    assert raised.json() == {"result": "raised"}
    status = wait_status(client, payload["statusQueryGetUri"]).json()
    assert status["output"] == {"approved": {"ok": True}}
    assert status["customStatus"] == {"stage": "done"}


def test_raise_event_via_management_url(rt: RunningRuntime, client: httpx.Client) -> None:
    payload = start(client, rt, "o_approval", None).json()
    url = payload["sendEventPostUri"].replace("{eventName}", "Approval")
    assert client.post(url, json={"plain": "json"}).status_code == 202
    status = wait_status(client, payload["statusQueryGetUri"]).json()
    assert status["output"] == {"approved": {"plain": "json"}}
    assert client.post(url, json=1).status_code == 410
    unknown = url.replace(payload["id"], new_id())
    assert client.post(unknown, json=1).status_code == 404


def test_terminate_via_client(rt: RunningRuntime, client: httpx.Client) -> None:
    payload = start(client, rt, "o_approval", None).json()
    iid = payload["id"]
    assert client.post(f"{rt.api_url}/client/terminate/{iid}").json() == {"result": "terminated"}
    status = wait_status(client, payload["statusQueryGetUri"]).json()
    assert (status["runtimeStatus"], status["output"]) == ("Terminated", "stop it")


def test_terminate_via_management_url(rt: RunningRuntime, client: httpx.Client) -> None:
    payload = start(client, rt, "o_approval", None).json()
    url = payload["terminatePostUri"].replace("{text}", "bye%20now")
    assert client.post(url).status_code == 202
    status = wait_status(client, payload["statusQueryGetUri"]).json()
    assert (status["runtimeStatus"], status["output"]) == ("Terminated", "bye now")
    assert client.post(url).status_code == 410


def test_suspend_and_resume(rt: RunningRuntime, client: httpx.Client) -> None:
    payload = start(client, rt, "o_approval", None).json()
    time.sleep(0.05)
    assert client.post(payload["suspendPostUri"].replace("{text}", "wait")).status_code == 202
    assert client.get(payload["statusQueryGetUri"]).json()["runtimeStatus"] == "Suspended"
    event_url = payload["sendEventPostUri"].replace("{eventName}", "Approval")
    assert client.post(event_url, json=5).status_code == 202
    time.sleep(0.1)
    assert client.get(payload["statusQueryGetUri"]).json()["runtimeStatus"] == "Suspended"
    assert client.post(payload["resumePostUri"].replace("{text}", "go")).status_code == 202
    status = wait_status(client, payload["statusQueryGetUri"]).json()
    assert status["output"] == {"approved": 5}


def test_wait_for_completion_returns_output(rt: RunningRuntime, client: httpx.Client) -> None:
    iid = start(client, rt, "o_hello", "Wait").json()["id"]
    response = client.post(f"{rt.api_url}/client/wait/{iid}")
    assert response.status_code == 200
    assert response.text == "Hello Wait!"


# --- list, paging, purge ------------------------------------------------------------------


def test_list_with_paging_and_filters(rt: RunningRuntime, client: httpx.Client) -> None:
    prefix = new_id("page")
    ids = [
        start(client, rt, "o_hello", "p", instanceId=f"{prefix}-{i}").json()["id"] for i in range(5)
    ]
    for iid in ids:
        wait_status(client, f"{rt.base_url}/runtime/webhooks/durabletask/instances/{iid}")
    url = f"{rt.base_url}/runtime/webhooks/durabletask/instances/"
    seen: list[str] = []
    headers: dict[str, str] = {}
    pages = 0
    while True:
        response = client.get(url, params={"instanceIdPrefix": prefix, "top": "2"}, headers=headers)
        assert response.status_code == 200
        seen += [s["instanceId"] for s in response.json()]
        pages += 1
        token = response.headers.get("x-ms-continuation-token")
        if not token:
            break
        headers = {"x-ms-continuation-token": token}
    assert (seen, pages) == (ids, 3)
    running = client.get(url, params={"instanceIdPrefix": prefix, "runtimeStatus": "Running"})
    assert running.json() == []
    completed = client.get(
        url,
        params={
            "instanceIdPrefix": prefix,
            "runtimeStatus": "Completed,Failed",
            "createdTimeFrom": "2000-01-01T00:00:00.000000Z",
        },
    )
    assert len(completed.json()) == 5
    future = client.get(url, params={"createdTimeFrom": "2999-01-01T00:00:00Z"})
    assert future.json() == []
    listed = client.post(f"{rt.api_url}/client/list/{prefix}").json()
    assert listed == {"result": sorted(ids)}


def test_purge_single_and_by_filter(rt: RunningRuntime, client: httpx.Client) -> None:
    payload = start(client, rt, "o_hello", "purge").json()
    wait_status(client, payload["statusQueryGetUri"])
    assert client.post(f"{rt.api_url}/client/purge/{payload['id']}").json() == {"result": 1}
    assert client.get(payload["statusQueryGetUri"]).status_code == 404
    assert client.post(f"{rt.api_url}/client/purge/{payload['id']}").json() == {"result": 0}

    second = start(client, rt, "o_hello", "purge2").json()
    wait_status(client, second["statusQueryGetUri"])
    assert client.delete(second["purgeHistoryDeleteUri"]).json() == {"instancesDeleted": 1}

    running = start(client, rt, "o_approval", None).json()
    assert client.delete(running["purgeHistoryDeleteUri"]).status_code == 400

    prefix = new_id("bulk")
    for i in range(3):
        url = start(client, rt, "o_hello", "x", instanceId=f"{prefix}-{i}").json()
        wait_status(client, url["statusQueryGetUri"])
    bulk = client.delete(
        f"{rt.base_url}/runtime/webhooks/durabletask/instances/",
        params={"createdTimeFrom": "2000-01-01T00:00:00Z", "runtimeStatus": "Completed"},
    )
    assert bulk.status_code == 200 and bulk.json()["instancesDeleted"] >= 3
    left = client.get(
        f"{rt.base_url}/runtime/webhooks/durabletask/instances/",
        params={"instanceIdPrefix": prefix},
    )
    assert left.json() == []
    assert client.get(running["statusQueryGetUri"]).status_code == 202  # running one kept


def test_restart_with_new_instance_id(rt: RunningRuntime, client: httpx.Client) -> None:
    payload = start(client, rt, "o_hello", "again").json()
    wait_status(client, payload["statusQueryGetUri"])
    restarted = client.post(payload["restartPostUri"])
    assert restarted.status_code == 202
    assert restarted.json()["id"] != payload["id"]
    status = wait_status(client, restarted.json()["statusQueryGetUri"]).json()
    assert status["output"] == "Hello again!"


def test_bad_instance_queries_are_400_not_500(rt: RunningRuntime, client: httpx.Client) -> None:
    url = f"{rt.base_url}/runtime/webhooks/durabletask/instances/"
    assert client.get(url, params={"createdTimeFrom": "yesterday"}).status_code == 400
    assert client.delete(url, params={"createdTimeTo": "soon"}).status_code == 400
    for top in ("99999999999999999999999", "²", "-1"):
        assert client.get(url, params={"top": top, "instanceIdPrefix": "none-"}).json() == []


def test_restart_of_an_orchestrator_the_app_lost_is_400(
    rt: RunningRuntime, client: httpx.Client
) -> None:
    from local_runtime.store import EpisodeCommit, NewInstance

    iid = new_id("lost")
    store = rt.runtime.store
    store.create_instance(
        NewInstance(
            instance_id=iid,
            name="gone",
            execution_id="e",
            input=None,
            now="2024-01-01T00:00:00.000000Z",
        )
    )
    store.commit_episode(EpisodeCommit(instance_id=iid, instance_updates={"status": "Failed"}))
    response = client.post(f"{rt.base_url}/runtime/webhooks/durabletask/instances/{iid}/restart")
    assert response.status_code == 400
    assert "'gone' doesn't exist" in response.json()["ExceptionMessage"]
