"""Function keys on the real stack: the key `make run` generates guards POST /api/workflows."""

from __future__ import annotations

import json
import secrets
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from e2e_support import StackClient, example

from devstack.local_settings import ensure_local_settings
from devstack.stack import LocalStack, StackConfig

pytestmark = pytest.mark.e2e

HELLO = {"workflowCode": example("hello"), "input": {"name": "Key"}}


def test_stack_has_a_generated_key(stack: LocalStack) -> None:
    key = stack.function_key
    assert key and len(key) >= 32
    assert stack.values["LocalRuntime__FunctionKeys"].split(",")[0] == key


def test_submit_without_a_key_is_401(stack: LocalStack) -> None:
    with StackClient(stack, key=None) as anonymous:
        response = anonymous.submit(HELLO)
        status = anonymous.http.get(f"/api/workflowStatus/{secrets.token_hex(16)}")
        webhooks = anonymous.http.get("/runtime/webhooks/durabletask/instances")

    assert response.status_code == 401
    assert "x-functions-key" in response.json()["error"]
    assert status.status_code == 401
    assert webhooks.status_code == 401


def test_submit_with_a_wrong_key_is_401(stack: LocalStack) -> None:
    with StackClient(stack, key=secrets.token_urlsafe(32)) as wrong:
        assert wrong.submit(HELLO).status_code == 401


def test_submit_with_the_stack_key_completes(stack: LocalStack) -> None:
    with StackClient(stack) as api:
        response = api.submit(HELLO)
        assert response.status_code == 202, response.text
        status = api.wait(response.json()["id"])

    assert status["runtimeStatus"] == "Completed", status
    assert status["output"] == {"greeting": "Hello, Key!"}


def test_submit_with_code_query_is_accepted(stack: LocalStack) -> None:
    key = stack.function_key
    with StackClient(stack, key=None) as anonymous:
        response = anonymous.submit(HELLO, params={"code": key})
        assert response.status_code == 202, response.text
        body = response.json()
        # the binding's URLs carried the system key: it is stripped, and the caller's key
        # does not open the Durable management API (the system key does, for operators)
        management = body["statusQueryGetUri"]
        assert "code" not in parse_qs(urlsplit(management).query)
        assert stack.system_key not in response.text
        assert anonymous.http.get(management, params={"code": key}).status_code == 401
        # our own status route takes the caller's key
        status = anonymous.http.get(body["statusUri"], params={"code": key})
        assert status.status_code == 200

    with StackClient(stack) as api:
        assert api.wait(body["id"])["runtimeStatus"] == "Completed"


def test_function_key_resolves_like_the_host(tmp_path: Path) -> None:
    """runtime_env wins over the environment, which wins over local.settings.json."""
    from_file = LocalStack(StackConfig(state_dir=tmp_path))
    from_file.values = {"LocalRuntime__FunctionKeys": " first , second"}
    overridden = LocalStack(
        StackConfig(state_dir=tmp_path, runtime_env={"LocalRuntime__FunctionKeys": ""})
    )
    overridden.values = from_file.values

    assert from_file.function_key == "first"
    assert overridden.function_key is None


def test_first_run_generates_a_key_and_replaces_public_placeholders(tmp_path: Path) -> None:
    path = tmp_path / "local.settings.json"
    path.write_text(
        json.dumps({"Values": {"AzureSession__SessionIdentifierKey": "change-me-to-a-secret"}})
    )

    values = ensure_local_settings(path, pool_endpoint="http://127.0.0.1:1/pool")
    again = ensure_local_settings(path, pool_endpoint="http://127.0.0.1:1/pool")

    assert len(values["LocalRuntime__FunctionKeys"]) >= 32
    assert not values["AzureSession__SessionIdentifierKey"].startswith("change-me")
    assert again == values  # kept once generated
