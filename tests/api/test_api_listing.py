"""ListWorkflows: filters, newest first, opaque continuation tokens, validation."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from api_support import body_of, durable_client, instance_status, owned_id, request

from api import schemas
from api.caller import ANONYMOUS_OWNER, key_owner, owner_tag
from api.listing import decode_token, encode_token
from api.listing import list_workflows as handler
from settings import SessionSettings

NOW = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)
SETTINGS = SessionSettings(session_identifier_key="k", auth_mode="none")
ALICE, BOB = {"x-functions-key": "alice-key"}, {"x-functions-key": "bob-key"}


async def list_workflows(req, durable, *, now=NOW, settings=SETTINGS):
    """The handler with fixed settings, so the process environment plays no part."""
    return await handler(req, durable, now=now, settings=settings)


def listing(headers: dict[str, str] | None = None, **params: str):
    return request("GET", "/api/workflows", params=params, headers=headers)


def run_id(i: int, owner: str = ANONYMOUS_OWNER) -> str:
    """The id of ``runs()``' i-th run of ``owner``."""
    return owned_id(owner, f"run{i:03d}")


def runs(
    count: int, *, runtime: str = "Completed", owner: str = ANONYMOUS_OWNER, offset: float = 0
) -> list:
    """``count`` runs a minute apart, oldest first (the backend's order does not matter)."""
    return [
        instance_status(
            runtime,
            instance_id=run_id(i, owner),
            created=(NOW - timedelta(minutes=count - i - offset))
            .isoformat()
            .replace("+00:00", "Z"),
            output={"status": "succeeded", "result": {"big": "x" * 100}},
            custom={"phase": "completed"},
        )
        for i in range(count)
    ]


def token_with_window(start: str) -> str:
    """A well-formed token whose time window was tampered with."""
    query = {"status": None, "from": start, "owner": owner_tag(ANONYMOUS_OWNER)}
    return encode_token(offset=1, cursor=("2025-01-01T00:00:00Z", "x"), query=query)


async def test_lists_newest_first_without_output_bodies():
    durable = durable_client()
    durable.get_status_by.return_value = runs(3)
    response = await list_workflows(listing(), durable, now=NOW)
    assert response.status_code == 200
    body = body_of(response)
    assert [item["instanceId"] for item in body["items"]] == [run_id(2), run_id(1), run_id(0)]
    assert body["count"] == 3 and body["continuationToken"] is None
    schemas.WorkflowList.model_validate(body)
    item = body["items"][0]
    assert item["phase"] == "completed" and item["runtimeStatus"] == "Completed"
    assert item["statusUri"] == f"https://myapp.example.net/api/workflowStatus/{run_id(2)}"
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
        instance_status("Running", instance_id=owned_id(), name="SomethingElse"),
    ]
    body = body_of(await list_workflows(listing(), durable, now=NOW))
    assert [item["instanceId"] for item in body["items"]] == [run_id(0)]


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
    assert seen == [run_id(i) for i in (4, 3, 2, 1, 0)]


async def test_a_run_created_between_pages_does_not_shift_the_next_page():
    durable = durable_client()
    durable.get_status_by.return_value = runs(4)
    first = body_of(await list_workflows(listing(top="2"), durable, now=NOW))
    newer = instance_status("Running", instance_id=owned_id(), created="2025-03-01T12:00:30Z")
    durable.get_status_by.return_value = [newer, *runs(4)]
    second = body_of(
        await list_workflows(
            listing(top="2", continuationToken=first["continuationToken"]), durable, now=NOW
        )
    )
    assert [i["instanceId"] for i in second["items"]] == [run_id(1), run_id(0)]


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


# --- only the caller's own runs --------------------------------------------------------


async def page_through(durable, headers: dict[str, str], **params: str) -> tuple[list, list]:
    """Every page a caller gets by following tokens: (ids in order, page sizes)."""
    seen, sizes, token = [], [], None
    for _ in range(20):
        query = {**params, **({"continuationToken": token} if token else {})}
        body = body_of(await list_workflows(listing(headers, **query), durable))
        assert body["count"] == len(body["items"])
        seen += [item["instanceId"] for item in body["items"]]
        sizes.append(body["count"])
        token = body["continuationToken"]
        if token is None:
            return seen, sizes
    raise AssertionError("the pages never ended")


async def test_each_caller_pages_through_only_its_own_runs():
    alice, bob = key_owner("alice-key"), key_owner("bob-key")
    durable = durable_client()
    # interleaved in time, plus a run without an owner tag (started outside this API)
    durable.get_status_by.return_value = [
        *runs(5, owner=alice),
        *runs(5, owner=bob, offset=0.5),
        instance_status("Completed", instance_id="e6c8ad68529f49069821392f0704d28e"),
    ]

    bobs, bob_sizes = await page_through(durable, BOB, top="2")
    alices, alice_sizes = await page_through(durable, ALICE, top="2")

    assert bobs == [run_id(i, bob) for i in (4, 3, 2, 1, 0)]
    assert alices == [run_id(i, alice) for i in (4, 3, 2, 1, 0)]
    assert bob_sizes == alice_sizes == [2, 2, 1]
    anonymous, _ = await page_through(durable, {})
    assert anonymous == []


async def test_other_callers_runs_are_dropped_before_the_page_is_cut():
    durable = durable_client()
    # Bob's one run is older than all 30 of Alice's
    durable.get_status_by.return_value = [
        *runs(1, owner=key_owner("bob-key"), offset=-60),
        *runs(30, owner=key_owner("alice-key")),
    ]
    body = body_of(await list_workflows(listing(BOB, top="5"), durable))
    assert [item["instanceId"] for item in body["items"]] == [run_id(0, key_owner("bob-key"))]
    assert body["count"] == 1 and body["continuationToken"] is None


async def test_a_continuation_token_of_another_caller_is_refused():
    durable = durable_client()
    durable.get_status_by.return_value = runs(3, owner=key_owner("alice-key"))
    first = body_of(await list_workflows(listing(ALICE, top="1"), durable))
    assert decode_token(first["continuationToken"])["q"]["owner"] == owner_tag(
        key_owner("alice-key")
    )
    durable.get_status_by.reset_mock()

    response = await list_workflows(
        listing(BOB, top="1", continuationToken=first["continuationToken"]), durable
    )
    assert response.status_code == 400
    assert [e["path"] for e in body_of(response)["errors"]] == ["continuationToken"]
    durable.get_status_by.assert_not_called()


async def test_the_listing_owner_comes_from_the_trusted_header_when_configured():
    settings = SETTINGS.model_copy(update={"owner_header": "X-ARO-Owner"})
    durable = durable_client()
    durable.get_status_by.return_value = [*runs(2, owner="tenant-a"), *runs(2, owner="tenant-b")]
    response = await list_workflows(listing(ALICE), durable, settings=settings)
    assert response.status_code == 401
    durable.get_status_by.assert_not_called()
    body = body_of(
        await list_workflows(listing({"X-ARO-Owner": "tenant-b"}), durable, settings=settings)
    )
    assert [item["instanceId"] for item in body["items"]] == [
        run_id(1, "tenant-b"),
        run_id(0, "tenant-b"),
    ]
