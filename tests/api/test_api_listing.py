"""ListWorkflows: filters, newest first, opaque continuation tokens, validation."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from api_support import body_of, durable_client, instance_status, request

from api import schemas
from api.listing import decode_token, encode_token, list_workflows

NOW = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)


def listing(**params: str):
    return request("GET", "/api/workflows", params=params)


def runs(count: int, *, runtime: str = "Completed") -> list:
    """``count`` runs a minute apart, oldest first (the backend's order does not matter)."""
    return [
        instance_status(
            runtime,
            instance_id=f"run{i:03d}",
            created=(NOW - timedelta(minutes=count - i)).isoformat().replace("+00:00", "Z"),
            output={"status": "succeeded", "result": {"big": "x" * 100}},
            custom={"phase": "completed"},
        )
        for i in range(count)
    ]


def token_with_window(start: str) -> str:
    """A well-formed token whose time window was tampered with."""
    return encode_token(
        offset=1, cursor=("2025-01-01T00:00:00Z", "x"), query={"status": None, "from": start}
    )


async def test_lists_newest_first_without_output_bodies():
    durable = durable_client()
    durable.get_status_by.return_value = runs(3)
    response = await list_workflows(listing(), durable, now=NOW)
    assert response.status_code == 200
    body = body_of(response)
    assert [item["instanceId"] for item in body["items"]] == ["run002", "run001", "run000"]
    assert body["count"] == 3 and body["continuationToken"] is None
    schemas.WorkflowList.model_validate(body)
    item = body["items"][0]
    assert item["phase"] == "completed" and item["runtimeStatus"] == "Completed"
    assert item["statusUri"] == "https://myapp.example.net/api/workflowStatus/run002"
    assert "output" not in item and "logs" not in item
    kwargs = durable.get_status_by.call_args.kwargs
    assert kwargs["created_time_from"] == NOW - timedelta(days=7)
    assert kwargs["runtime_status"] is None


async def test_the_status_filter_and_days_reach_get_status_by():
    durable = durable_client()
    await list_workflows(listing(status="Running,Completed", days="2"), durable, now=NOW)
    kwargs = durable.get_status_by.call_args.kwargs
    assert sorted(s.value for s in kwargs["runtime_status"]) == ["Completed", "Running"]
    assert kwargs["created_time_from"] == NOW - timedelta(days=2)


async def test_failed_items_carry_only_the_error_type():
    durable = durable_client()
    durable.get_status_by.return_value = [
        instance_status(
            "Failed", output='__ARO_ERROR__{"type":"ValueError","message":"m","stage":"running"}'
        )
    ]
    item = body_of(await list_workflows(listing(), durable, now=NOW))["items"][0]
    assert item["error"] == {"type": "ValueError"}
    assert item["phase"] == "failed"


async def test_only_workflow_orchestrator_instances_are_listed():
    durable = durable_client()
    durable.get_status_by.return_value = [
        *runs(1),
        instance_status("Running", instance_id="other1", name="SomethingElse"),
    ]
    body = body_of(await list_workflows(listing(), durable, now=NOW))
    assert [item["instanceId"] for item in body["items"]] == ["run000"]


async def test_pages_follow_the_continuation_token_to_the_end():
    durable = durable_client()
    durable.get_status_by.return_value = runs(5)
    seen, token, pages = [], None, 0
    while True:
        params = {"top": "2", **({"continuationToken": token} if token else {})}
        body = body_of(await list_workflows(listing(**params), durable, now=NOW))
        seen += [item["instanceId"] for item in body["items"]]
        pages += 1
        token = body["continuationToken"]
        if token is None:
            break
    assert pages == 3
    assert seen == ["run004", "run003", "run002", "run001", "run000"]


async def test_a_run_created_between_pages_does_not_shift_the_next_page():
    durable = durable_client()
    durable.get_status_by.return_value = runs(4)
    first = body_of(await list_workflows(listing(top="2"), durable, now=NOW))
    newer = instance_status("Running", instance_id="fresh", created="2025-03-01T12:00:30Z")
    durable.get_status_by.return_value = [newer, *runs(4)]
    second = body_of(
        await list_workflows(
            listing(top="2", continuationToken=first["continuationToken"]), durable, now=NOW
        )
    )
    assert [i["instanceId"] for i in second["items"]] == ["run001", "run000"]


async def test_the_token_keeps_the_first_page_time_window():
    durable = durable_client()
    durable.get_status_by.return_value = runs(3)
    first = body_of(await list_workflows(listing(top="1", days="1"), durable, now=NOW))
    later = NOW + timedelta(hours=5)
    await list_workflows(
        listing(top="1", continuationToken=first["continuationToken"]), durable, now=later
    )
    assert durable.get_status_by.call_args.kwargs["created_time_from"] == NOW - timedelta(days=1)
    assert decode_token(first["continuationToken"])["o"] == 1


@pytest.mark.parametrize(
    ("params", "bad"),
    [
        ({"top": "0"}, "top"),
        ({"top": "101"}, "top"),
        ({"top": "ten"}, "top"),
        ({"days": "0"}, "days"),
        ({"status": "Running,Done"}, "status"),
        ({"continuationToken": "not-a-token"}, "continuationToken"),
        ({"top": "\u00b2"}, "top"),
        ({"days": "7" * 5000}, "days"),
        ({"continuationToken": token_with_window("yesterday")}, "continuationToken"),
        ({"continuationToken": token_with_window("2025-02-28T12:00:00")}, "continuationToken"),
        (
            {"continuationToken": token_with_window("0001-01-01T00:00:00+14:00")},
            "continuationToken",
        ),
    ],
)
async def test_bad_parameters_are_400_naming_them(params, bad):
    durable = durable_client()
    response = await list_workflows(listing(**params), durable, now=NOW)
    assert response.status_code == 400
    assert response.headers["Content-Type"] == "application/problem+json"
    assert [e["path"] for e in body_of(response)["errors"]] == [bad]
    durable.get_status_by.assert_not_called()


async def test_a_token_for_another_filter_is_refused():
    durable = durable_client()
    durable.get_status_by.return_value = runs(3)
    first = body_of(await list_workflows(listing(top="1", status="Completed"), durable, now=NOW))
    response = await list_workflows(
        listing(top="1", status="Running", continuationToken=first["continuationToken"]),
        durable,
        now=NOW,
    )
    assert response.status_code == 400


async def test_a_backend_failure_is_503():
    durable = durable_client()
    durable.get_status_by.side_effect = RuntimeError("down")
    response = await list_workflows(listing(), durable, now=NOW)
    assert response.status_code == 503
