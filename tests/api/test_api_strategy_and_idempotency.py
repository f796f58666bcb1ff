"""StartWorkflow: session strategies, the caller's owner and Idempotency-Key."""

from __future__ import annotations

import uuid

import pytest
from api_support import GOOD_BODY, body_of, durable_client, instance_status, post_workflow

from api.caller import belongs_to, key_owner, owner_tag
from api.idempotency import idempotent_instance_id
from api.starter import start_workflow
from api.status import check_instance_id
from orchestrator.models import OrchestrationInput


def started_input(durable) -> OrchestrationInput:
    return OrchestrationInput.from_wire(durable.start_new.call_args.kwargs["client_input"])


# --- session strategies ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("extra", "strategy", "name"),
    [
        ({}, "ephemeral", None),
        ({"sessionStrategy": "ephemeral"}, "ephemeral", None),
        ({"sessionId": "my-session"}, "reuse", "my-session"),
        ({"sessionStrategy": "reuse", "sessionId": "my-session"}, "reuse", "my-session"),
    ],
)
async def test_strategy_choice(settings, extra, strategy, name):
    durable = durable_client()
    response = await start_workflow(
        post_workflow({**GOOD_BODY, **extra}), durable, settings=settings
    )
    assert response.status_code == 202
    session = started_input(durable).session
    assert (session.strategy, session.name) == (strategy, name)


@pytest.mark.parametrize(
    "extra",
    [
        {"sessionStrategy": "reuse"},
        {"sessionStrategy": "ephemeral", "sessionId": "my-session"},
        {"sessionStrategy": "sticky", "sessionId": "my-session"},
    ],
)
async def test_bad_strategies_are_400_naming_session_strategy(settings, extra):
    durable = durable_client()
    response = await start_workflow(
        post_workflow({**GOOD_BODY, **extra}), durable, settings=settings
    )
    assert response.status_code == 400
    assert "sessionStrategy" in {e["path"] for e in body_of(response)["errors"]}
    durable.start_new.assert_not_called()


async def test_the_owner_comes_from_the_function_key(settings):
    durable = durable_client()
    key = uuid.uuid4().hex
    await start_workflow(
        post_workflow({**GOOD_BODY, "sessionId": "my-session"}, headers={"x-functions-key": key}),
        durable,
        settings=settings,
    )
    assert started_input(durable).session.owner == key_owner(key)
    assert key not in durable.start_new.call_args.kwargs["client_input"]


async def test_a_configured_owner_header_is_used_and_required(settings):
    settings = settings.model_copy(update={"owner_header": "X-ARO-Owner"})
    durable = durable_client()
    await start_workflow(
        post_workflow(headers={"X-ARO-Owner": "tenant-a"}), durable, settings=settings
    )
    assert started_input(durable).session.owner == "tenant-a"

    durable = durable_client()
    response = await start_workflow(post_workflow(), durable, settings=settings)
    assert response.status_code == 401
    assert response.headers["Content-Type"] == "application/problem+json"
    durable.start_new.assert_not_called()


async def test_pool_retry_settings_are_frozen_into_the_input(settings):
    settings = settings.model_copy(
        update={"pool_exhausted_retries": 5, "pool_exhausted_retry_seconds": 2.5}
    )
    durable = durable_client()
    await start_workflow(post_workflow(), durable, settings=settings)
    config = started_input(durable).config
    assert (config.pool_retry_attempts, config.pool_retry_seconds) == (5, 2.5)


# --- idempotency -----------------------------------------------------------------------


def idem_key() -> str:
    return f"order-{uuid.uuid4().hex}"


async def test_a_first_post_with_a_key_starts_the_derived_instance(settings):
    key = idem_key()
    durable = durable_client()
    response = await start_workflow(
        post_workflow(headers={"Idempotency-Key": key}), durable, settings=settings
    )
    expected = idempotent_instance_id("anonymous", key)
    assert response.status_code == 202
    assert "Idempotent-Replayed" not in response.headers
    assert body_of(response)["id"] == expected
    assert durable.start_new.call_args.args == ("WorkflowOrchestrator", expected)
    assert started_input(durable).request_hash
    assert expected.startswith(owner_tag("anonymous") + "-idem-") and len(expected) == 59
    assert belongs_to(expected, "anonymous")


async def test_a_repeated_identical_post_replays_without_starting(settings):
    key = idem_key()
    first = durable_client()
    first_response = await start_workflow(
        post_workflow(headers={"Idempotency-Key": key}), first, settings=settings
    )
    stored = first.start_new.call_args.kwargs["client_input"]
    instance_id = body_of(first_response)["id"]

    again = durable_client()
    again.get_status.return_value = instance_status(
        "Running", instance_id=instance_id, input=stored
    )
    response = await start_workflow(
        post_workflow(headers={"Idempotency-Key": key}), again, settings=settings
    )
    assert response.status_code == 202
    assert response.headers["Idempotent-Replayed"] == "true"
    assert body_of(response) == body_of(first_response)
    assert response.headers["Location"] == first_response.headers["Location"]
    again.start_new.assert_not_called()
    assert again.get_status.call_args.kwargs == {"show_input": True}


async def test_the_same_key_with_a_different_body_is_409(settings):
    key = idem_key()
    first = durable_client()
    await start_workflow(post_workflow(headers={"Idempotency-Key": key}), first, settings=settings)
    stored = first.start_new.call_args.kwargs["client_input"]

    again = durable_client()
    again.get_status.return_value = instance_status("Completed", input=stored)
    other = {**GOOD_BODY, "input": {"a": 2}}
    response = await start_workflow(
        post_workflow(other, headers={"Idempotency-Key": key}), again, settings=settings
    )
    assert response.status_code == 409
    assert body_of(response)["type"] == "urn:aro:problem:idempotency-key-reused"
    again.start_new.assert_not_called()


async def test_key_order_of_the_json_body_does_not_matter(settings):
    key = idem_key()
    first = durable_client()
    body = {"input": {"b": 1, "a": 2}, "workflowCode": GOOD_BODY["workflowCode"]}
    await start_workflow(
        post_workflow(body, headers={"Idempotency-Key": key}), first, settings=settings
    )
    stored = first.start_new.call_args.kwargs["client_input"]
    again = durable_client()
    again.get_status.return_value = instance_status("Running", input=stored)
    reordered = {"workflowCode": GOOD_BODY["workflowCode"], "input": {"a": 2, "b": 1}}
    response = await start_workflow(
        post_workflow(reordered, headers={"Idempotency-Key": key}), again, settings=settings
    )
    assert response.headers["Idempotent-Replayed"] == "true"


async def test_a_concurrent_duplicate_that_loses_the_race_answers_as_a_replay(settings):
    key = idem_key()
    winner = durable_client()
    await start_workflow(post_workflow(headers={"Idempotency-Key": key}), winner, settings=settings)
    stored = winner.start_new.call_args.kwargs["client_input"]

    loser = durable_client()
    loser.get_status.side_effect = [
        instance_status("Pending").__class__.from_json(""),  # not there yet
        instance_status("Pending", input=stored),  # the winner created it
    ]
    loser.start_new.side_effect = Exception("An instance with ID already exists.")
    response = await start_workflow(
        post_workflow(headers={"Idempotency-Key": key}), loser, settings=settings
    )
    assert response.status_code == 202
    assert response.headers["Idempotent-Replayed"] == "true"


async def test_a_start_failure_without_an_instance_is_still_503(settings):
    durable = durable_client()
    durable.start_new.side_effect = RuntimeError("down")
    response = await start_workflow(
        post_workflow(headers={"Idempotency-Key": idem_key()}), durable, settings=settings
    )
    assert response.status_code == 503


@pytest.mark.parametrize("key", ["", "has space", "x" * 201, "tab\tkey", "é"])
async def test_malformed_keys_are_400(settings, key):
    durable = durable_client()
    response = await start_workflow(
        post_workflow(headers={"Idempotency-Key": key}), durable, settings=settings
    )
    assert response.status_code == 400
    assert body_of(response)["errors"][0]["path"] == "headers.Idempotency-Key"
    durable.start_new.assert_not_called()


def test_keys_are_scoped_by_owner():
    assert idempotent_instance_id("key-a", "k1") != idempotent_instance_id("key-b", "k1")
    assert idempotent_instance_id("key-a", "k1") == idempotent_instance_id("key-a", "k1")


@pytest.mark.parametrize("owner", ["anonymous", key_owner("k"), "~" * 200])
@pytest.mark.parametrize("key", ["k", "\x7e" * 200, "!#$%&'()*+,./:;<=>?@[]^`{|}"])
def test_idempotent_ids_carry_the_owner_tag_and_stay_valid_instance_ids(owner, key):
    instance_id = idempotent_instance_id(owner, key)
    assert check_instance_id(instance_id) == instance_id  # <= 100 chars of [A-Za-z0-9_-]
    assert instance_id.startswith(f"{owner_tag(owner)}-idem-")
    assert belongs_to(instance_id, owner)
    assert not belongs_to(instance_id, owner + "x")


async def test_a_replay_by_another_caller_with_the_same_key_is_a_new_run(settings):
    key = idem_key()
    alice = durable_client()
    first = await start_workflow(
        post_workflow(headers={"Idempotency-Key": key, "x-functions-key": "a"}),
        alice,
        settings=settings,
    )
    bob = durable_client()
    second = await start_workflow(
        post_workflow(headers={"Idempotency-Key": key, "x-functions-key": "b"}),
        bob,
        settings=settings,
    )
    assert "Idempotent-Replayed" not in second.headers
    assert body_of(first)["id"] != body_of(second)["id"]
    assert belongs_to(body_of(second)["id"], key_owner("b"))
    bob.start_new.assert_awaited_once()
