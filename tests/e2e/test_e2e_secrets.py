"""Secrets by reference, end to end: the key reaches the model, and nothing else.

The request names an app setting (``secretEnvironmentVariables``); the Functions host
resolves its value only when the execution starts. The model server records a digest
of the bearer token it received, so the test can prove the right key arrived without
the value being recorded anywhere. Then every place the stack writes or answers is
searched for the value: the durable SQLite store, the host and emulator logs, every
other file under the stack's state directory, the status API and the Durable
management API with history and input.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from e2e_support import StackClient, make_stack

from devstack.stack import LocalStack
from model_server import ModelServer, run_model_server
from tests.support.fixture_scripts import RECIPES, model_env

pytestmark = pytest.mark.e2e

SETTING = "OpenAiApiKey"
SECRET = f"sk-test-{secrets.token_hex(16)}"
WEATHER = RECIPES["ghidx_weather_function_tool.py"]


@pytest.fixture(scope="module")
def model() -> Iterator[ModelServer]:
    with run_model_server(script=WEATHER.script) as server:
        yield server


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    """Egress on; the key is an app setting of the host, on the secret allow-list."""
    runtime_env = {
        "AzureSession__SecretSettingsAllowList": SETTING,
        SETTING: SECRET,
    }
    root = tmp_path_factory.mktemp("secrets")
    with make_stack(root, allow_network=True, runtime_env=runtime_env) as local:
        yield local


@pytest.fixture
def api(stack: LocalStack, model: ModelServer) -> Iterator[StackClient]:
    model.recorder.clear()
    with StackClient(stack) as client:
        yield client


def _env_without_key(model: ModelServer) -> dict[str, str]:
    env = model_env(model.base_url)
    del env["OPENAI_API_KEY"]
    return env


def _weather_request(model: ModelServer, **extra: Any) -> dict[str, Any]:
    return {
        "workflowCode": WEATHER.source().read_text(encoding="utf-8"),
        "input": {"input_as_text": WEATHER.input_text},
        "environmentVariables": _env_without_key(model),
        "secretEnvironmentVariables": {"OPENAI_API_KEY": SETTING},
        **extra,
    }


def _files_holding(root: Path, needle: bytes) -> list[str]:
    """Every file under ``root`` whose bytes contain ``needle``."""
    return [
        str(path.relative_to(root))
        for path in sorted(root.rglob("*"))
        if path.is_file() and needle in path.read_bytes()
    ]


def _management(api: StackClient, instance: str) -> dict[str, Any]:
    response = api.http.get(
        f"/runtime/webhooks/durabletask/instances/{instance}",
        params={"showHistory": "true", "showHistoryOutput": "true", "showInput": "true"},
        headers={"x-functions-key": api.stack.system_key},
    )
    assert response.status_code in (200, 202), response.text
    return response.json()


def test_secret_reaches_the_model_and_is_stored_nowhere(
    api: StackClient, model: ModelServer, stack: LocalStack
) -> None:
    instance = api.start(_weather_request(model))
    status = api.wait(instance, timeout=90)

    assert status["runtimeStatus"] == "Completed", status
    assert status["output"] == WEATHER.expected_result
    calls = model.requests_to("responses")
    assert len(calls) == WEATHER.model_calls
    # The sandbox sent the app setting's value as its bearer token (seen as a digest only).
    assert all(call.credential_is(SECRET) for call in calls)
    assert not calls[0].credential_is("test-key")
    assert calls[0].headers["authorization"] == "Bearer <redacted>"

    management = _management(api, instance)
    history = json.dumps(management, ensure_ascii=False)
    assert "historyEvents" in management and WEATHER.input_text in history  # really the input
    assert SETTING in history  # the request holds the setting's name, never its value
    assert SECRET not in history
    assert SECRET not in json.dumps(status)
    assert SECRET not in json.dumps([r.model_dump() for r in model.requests])
    state = stack.config.state_dir
    store = b"".join(p.read_bytes() for p in state.glob("durable.sqlite3*"))
    assert store and SECRET.encode() not in store
    logs = [state / "runtime.log", state / "emulator.log"]
    assert all(log.stat().st_size > 0 for log in logs)
    assert _files_holding(state, SECRET.encode()) == []


def test_printed_and_raised_secret_is_masked(api: StackClient, stack: LocalStack) -> None:
    code = (
        "import os, sys\n\n"
        "def run(payload):\n"
        "    key = os.environ['OPENAI_API_KEY']\n"
        "    print('the key is', key)\n"
        "    print('stderr key', key, file=sys.stderr)\n"
        "    raise RuntimeError('refusing to run with ' + key)\n"
    )
    status = api.run(
        {"workflowCode": code, "secretEnvironmentVariables": {"OPENAI_API_KEY": SETTING}},
        timeout=60,
    )

    assert status["runtimeStatus"] == "Failed", status
    error = status["error"]
    assert error["type"] == "RuntimeError"
    assert error["message"] == "refusing to run with ***"
    assert "***" in error["traceback"]
    assert "the key is ***" in status["logs"]["stdoutTail"]
    assert "stderr key ***" in status["logs"]["stderrTail"]
    assert SECRET not in json.dumps(status)
    assert SECRET not in json.dumps(_management(api, status["instanceId"]))
    assert _files_holding(stack.config.state_dir, SECRET.encode()) == []


def test_setting_not_on_the_allow_list_is_a_400_naming_the_field(
    api: StackClient, model: ModelServer
) -> None:
    body = _weather_request(model, secretEnvironmentVariables={"OPENAI_API_KEY": "OtherKey"})

    response = api.submit(body)

    assert response.status_code == 400, response.text
    (problem,) = response.json()["errors"]
    assert problem["path"] == "secretEnvironmentVariables.OPENAI_API_KEY"
    assert "OtherKey" in problem["message"]
    assert "SecretSettingsAllowList" in problem["message"]
    assert model.requests == []


def test_plain_environment_values_do_reach_the_store(api: StackClient, stack: LocalStack) -> None:
    """The control for the searches above: a value sent in the clear is found by them."""
    plain = f"plain-{secrets.token_hex(8)}"
    code = "import os\n\ndef run(payload):\n    return len(os.environ['PLAIN'])\n"

    status = api.run({"workflowCode": code, "environmentVariables": {"PLAIN": plain}}, timeout=60)

    assert status["output"] == len(plain)
    assert plain in json.dumps(_management(api, status["instanceId"]))
    assert any(
        name.startswith("durable.sqlite3")
        for name in _files_holding(stack.config.state_dir, plain.encode())
    )


def test_without_any_key_the_run_says_to_pass_it_as_a_secret(
    api: StackClient, model: ModelServer
) -> None:
    body = _weather_request(model)
    del body["secretEnvironmentVariables"]

    status = api.run(body, timeout=60)

    assert status["runtimeStatus"] == "Failed", status
    assert status["error"]["type"] == "MissingApiKey"
    assert "OPENAI_API_KEY" in status["error"]["message"]
    assert model.requests == []
