"""CancelWorkflow: terminate with who/why, delete the session, map the status back."""

from __future__ import annotations

import json
import uuid

import pytest
from api_support import (
    INST1,
    FakeSessionClient,
    body_of,
    durable_client,
    instance_status,
    not_found,
    orchestration_input,
    owned_id,
    request,
)

from activities import clients
from activities.identity import derive_identifier
from api import schemas
from api.caller import key_owner
from api.cancel import cancel_workflow
from api.status import get_workflow_status
from orchestrator.models import SessionRef
from session_client.errors import SessionServerError


@pytest.fixture
def session_client():
    fake = FakeSessionClient()
    clients.set_client_factory(lambda _settings: fake)
    yield fake
    clients.set_client_factory(None)


def cancel(instance_id: str, body: object = b"", **kwargs) -> object:
    return request(
        "POST",
        f"/api/workflows/{instance_id}/cancel",
        body=body,
        route_params={"instanceId": instance_id},
        **kwargs,
    )


async def test_cancel_terminates_with_who_and_why_and_deletes_the_ephemeral_session(
    settings, session_client
):
    key = uuid.uuid4().hex
    instance_id = owned_id(key_owner(key))
    durable = durable_client()
    durable.get_status.return_value = instance_status(
        "Running", instance_id=instance_id, input=orchestration_input()
    )
    response = await cancel_workflow(
        cancel(instance_id, {"reason": "wrong input"}, headers={"x-functions-key": key}),
        durable,
        settings=settings,
    )

    assert response.status_code == 202
    owner = key_owner(key)
    (terminated_id, reason), _ = durable.terminate.call_args
    assert terminated_id == instance_id
    assert json.loads(reason) == {"canceledBy": owner, "reason": "wrong input"}
    assert durable.get_status.call_args.kwargs == {"show_input": True}
    expected = derive_identifier(SessionRef(strategy="ephemeral"), instance_id, b"k")
    assert session_client.deleted == [expected]
    body = body_of(response)
    assert body == {
        "instanceId": instance_id,
        "runtimeStatus": "Running",
        "phase": "canceling",
        "cancellation": {"canceledBy": owner, "reason": "wrong input"},
        "sessionDeletion": "deleted",
        "statusUri": f"https://myapp.example.net/api/workflowStatus/{instance_id}",
    }
    assert response.headers["Location"] == body["statusUri"]
    assert expected not in response.get_body().decode()
    schemas.CancelAccepted.model_validate(body)


async def test_cancel_of_a_reused_session_deletes_the_owner_scoped_session(
    settings, session_client
):
    instance_id = owned_id()
    session = SessionRef(strategy="reuse", name="my-work", owner="key-0123456789abcdef")
    durable = durable_client()
    durable.get_status.return_value = instance_status(
        "Running", instance_id=instance_id, input=orchestration_input(session=session)
    )
    response = await cancel_workflow(cancel(instance_id), durable, settings=settings)
    assert response.status_code == 202
    assert session_client.deleted == [derive_identifier(session, "ignored", b"k")]
    assert json.loads(durable.terminate.call_args.args[1]) == {
        "canceledBy": "anonymous",
        "reason": None,
    }


@pytest.mark.parametrize(
    ("failure", "outcome"),
    [(not_found(), "notFound"), (SessionServerError("x", status_code=503), "failed")],
)
async def test_session_deletion_is_best_effort(settings, failure, outcome):
    fake = FakeSessionClient(fail=failure)
    clients.set_client_factory(lambda _settings: fake)
    try:
        durable = durable_client()
        durable.get_status.return_value = instance_status("Running", input=orchestration_input())
        response = await cancel_workflow(cancel(INST1), durable, settings=settings)
    finally:
        clients.set_client_factory(None)
    assert response.status_code == 202
    assert body_of(response)["sessionDeletion"] == outcome
    durable.terminate.assert_awaited_once()


@pytest.mark.parametrize("runtime", ["Completed", "Failed", "Terminated"])
async def test_cancelling_a_finished_run_is_409_naming_its_status(
    settings, session_client, runtime
):
    durable = durable_client()
    durable.get_status.return_value = instance_status(runtime, input=orchestration_input())
    response = await cancel_workflow(cancel(INST1), durable, settings=settings)
    assert response.status_code == 409
    body = body_of(response)
    assert body["runtimeStatus"] == runtime
    assert runtime in body["detail"]
    schemas.Problem.model_validate(body)
    durable.terminate.assert_not_called()
    assert session_client.deleted == []


async def test_a_run_that_finishes_during_the_cancel_is_409(settings, session_client):
    durable = durable_client()
    durable.get_status.side_effect = [
        instance_status("Running", input=orchestration_input()),
        instance_status("Completed", input=orchestration_input()),
    ]
    durable.terminate.side_effect = Exception("gone")
    response = await cancel_workflow(cancel(INST1), durable, settings=settings)
    assert response.status_code == 409
    assert body_of(response)["runtimeStatus"] == "Completed"


@pytest.mark.parametrize("finished", ["Completed", "Failed"])
async def test_a_run_that_finishes_before_the_terminate_is_409_and_keeps_its_session(
    settings, session_client, finished
):
    # The durable client answers a terminate of a finished run (HTTP 410) without raising.
    reused = SessionRef(strategy="reuse", name="my-files", owner="anonymous")
    durable = durable_client()
    durable.get_status.side_effect = [
        instance_status("Running", input=orchestration_input(session=reused)),
        instance_status(finished, input=orchestration_input(session=reused)),
    ]
    response = await cancel_workflow(cancel(INST1), durable, settings=settings)
    assert response.status_code == 409
    assert body_of(response)["runtimeStatus"] == finished
    durable.terminate.assert_awaited_once()
    assert session_client.deleted == []


async def test_unknown_id_is_404_and_malformed_id_is_400(settings, session_client):
    durable = durable_client()
    response = await cancel_workflow(cancel(owned_id()), durable, settings=settings)
    assert response.status_code == 404
    durable.get_status.assert_awaited_once()
    response = await cancel_workflow(cancel("bad id"), durable, settings=settings)
    assert response.status_code == 400
    durable.terminate.assert_not_called()


@pytest.mark.parametrize(
    "body", [b"{not json", {"reason": 5}, {"why": "x"}, {"reason": "x" * 1001}, [1]]
)
async def test_a_bad_body_is_400(settings, session_client, body):
    durable = durable_client()
    durable.get_status.return_value = instance_status("Running", input=orchestration_input())
    response = await cancel_workflow(cancel(INST1, body), durable, settings=settings)
    assert response.status_code == 400
    durable.terminate.assert_not_called()


async def test_cancel_needs_the_owner_header_when_configured(settings, session_client):
    settings = settings.model_copy(update={"owner_header": "X-ARO-Owner"})
    durable = durable_client()
    durable.get_status.return_value = instance_status("Running", input=orchestration_input())
    response = await cancel_workflow(cancel(INST1), durable, settings=settings)
    assert response.status_code == 401
    instance_id = owned_id("ops-team")
    durable.get_status.return_value = instance_status(
        "Running", instance_id=instance_id, input=orchestration_input()
    )
    response = await cancel_workflow(
        cancel(instance_id, headers={"X-ARO-Owner": "ops-team"}), durable, settings=settings
    )
    assert response.status_code == 202
    assert json.loads(durable.terminate.call_args.args[1])["canceledBy"] == "ops-team"


# --- the status of a canceled run ------------------------------------------------------


def status_request(instance_id: str, **kwargs):
    return request(
        "GET",
        f"/api/workflowStatus/{instance_id}",
        route_params={"instanceId": instance_id},
        **kwargs,
    )


@pytest.mark.parametrize(
    "output",
    [
        '{"canceledBy": "key-abc", "reason": "wrong input"}',  # the reason as JSON text
        {"canceledBy": "key-abc", "reason": "wrong input"},  # a host that decoded it
    ],
)
async def test_a_canceled_run_shows_who_and_why(settings, output):
    durable = durable_client()
    durable.get_status.return_value = instance_status(
        "Terminated", output=output, custom={"phase": "running"}
    )
    body = body_of(await get_workflow_status(status_request(INST1), durable, settings=settings))
    assert body["runtimeStatus"] == "Terminated"
    assert body["phase"] == "canceled"
    assert body["cancellation"] == {"canceledBy": "key-abc", "reason": "wrong input"}
    assert body["error"] == {
        "type": "Canceled",
        "message": "The run was canceled by key-abc: wrong input",
    }


async def test_a_cancel_reason_round_trips_through_the_status(settings, session_client):
    instance_id = owned_id(key_owner("k1"))
    durable = durable_client()
    durable.get_status.return_value = instance_status(
        "Running", instance_id=instance_id, input=orchestration_input()
    )
    await cancel_workflow(
        cancel(instance_id, {"reason": "stop"}, headers={"X-Functions-Key": "k1"}),
        durable,
        settings=settings,
    )
    durable.get_status.return_value = instance_status(
        "Terminated", instance_id=instance_id, output=durable.terminate.call_args.args[1]
    )
    body = body_of(
        await get_workflow_status(
            status_request(instance_id, headers={"X-Functions-Key": "k1"}),
            durable,
            settings=settings,
        )
    )
    assert body["cancellation"] == {"canceledBy": key_owner("k1"), "reason": "stop"}


# --- only the caller's own runs --------------------------------------------------------


@pytest.mark.parametrize(
    "theirs",
    [
        owned_id(key_owner("alice-key")),  # another caller's run
        owned_id(key_owner("alice-key"), "idem-" + "a" * 40),  # another caller's idempotent run
        uuid.uuid4().hex,  # an id without any owner tag (e.g. started outside this API)
    ],
)
async def test_another_callers_run_is_404_like_an_unknown_one_and_nothing_happens(
    settings, session_client, theirs
):
    durable = durable_client()
    durable.get_status.return_value = instance_status(
        "Running", instance_id=theirs, input=orchestration_input()
    )
    bob = {"x-functions-key": "bob-key"}
    response = await cancel_workflow(
        cancel(theirs, {"reason": "mine now"}, headers=bob), durable, settings=settings
    )

    assert response.status_code == 404
    durable.get_status.assert_not_called()
    durable.terminate.assert_not_called()
    assert session_client.deleted == []
    unknown = durable_client()  # the backend knows no such run
    mine = owned_id(key_owner("bob-key"))
    expected = await cancel_workflow(cancel(mine, headers=bob), unknown, settings=settings)
    assert body_of(response) == {
        **body_of(expected),
        "detail": body_of(expected)["detail"].replace(mine, theirs),
    }


async def test_the_owner_header_decides_whose_runs_can_be_canceled(settings, session_client):
    settings = settings.model_copy(update={"owner_header": "X-ARO-Owner"})
    durable = durable_client()
    theirs = owned_id("tenant-a")
    durable.get_status.return_value = instance_status(
        "Running", instance_id=theirs, input=orchestration_input()
    )
    # the same function key, but the gateway names another tenant: not theirs
    response = await cancel_workflow(
        cancel(theirs, headers={"X-ARO-Owner": "tenant-b", "x-functions-key": "k"}),
        durable,
        settings=settings,
    )
    assert response.status_code == 404
    durable.terminate.assert_not_called()
