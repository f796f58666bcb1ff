"""The agent trace and live progress through the whole stack, with the offline model server.

Unmodified Agent Builder exports run in the sandbox with the real Agents SDK; run.py's
tracing processor writes their spans; the watching activities bring progress home while
the run goes on and the trace when it ends; the API serves both.
"""

from __future__ import annotations

import asyncio
import json
import secrets
import time
from collections.abc import Iterator
from typing import Any

import pytest
from e2e_support import StackClient, make_stack

from activities.secrets import secret_forms
from devstack.stack import LocalStack
from model_server import ModelRequest, ModelServer, run_model_server
from model_server.scripts import as_script, resolve_reply
from model_server.shapes import estimate_tokens
from tests.support.fixture_scripts import RECIPES, model_env

pytestmark = pytest.mark.e2e

SETTING = "TraceSecret"
SECRET = f"trace-secret-{secrets.token_hex(8)}"


@pytest.fixture(scope="module")
def model() -> Iterator[ModelServer]:
    with run_model_server() as server:
        yield server


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    runtime_env = {
        "AzureSession__ProgressIntervalSeconds": "0.3",
        "AzureSession__SecretSettingsAllowList": SETTING,
        SETTING: SECRET,
    }
    root = tmp_path_factory.mktemp("trace")
    with make_stack(root, runtime_env=runtime_env, allow_network=True) as stack:
        yield stack


@pytest.fixture
def api(stack: LocalStack) -> Iterator[StackClient]:
    with StackClient(stack) as client:
        yield client


def _trace(api: StackClient, instance_id: str) -> dict[str, Any]:
    response = api.http.get(f"/api/workflows/{instance_id}/trace")
    assert response.status_code == 200, response.text
    return response.json()


def _subsequence(wanted: list[str], seen: list[str]) -> bool:
    items = iter(seen)
    return all(any(kind == want for kind in items) for want in wanted)


def _submit(api: StackClient, model: ModelServer, name: str, script: Any = None) -> str:
    recipe = RECIPES[name]
    model.set_script(script if script is not None else recipe.script)
    model.recorder.clear()
    return api.start(
        {
            "workflowCode": recipe.source().read_text(encoding="utf-8"),
            "input": {"input_as_text": recipe.input_text},
            "environmentVariables": model_env(model.base_url),
        }
    )


@pytest.mark.parametrize(
    ("name", "shape"),
    [
        ("example:weather_desk", ["response", "agent", "response", "function", "response"]),
        ("ghidx_weather_function_tool.py", ["response", "function", "response", "agent"]),
        ("oakb_function_tool_multi_instructions.py", ["response", "function", "response"]),
        ("chatkit_simple_chat.py", ["response", "agent"]),
    ],
)
def test_a_finished_run_has_its_trace(
    api: StackClient, model: ModelServer, name: str, shape: list[str]
) -> None:
    status = api.wait(_submit(api, model, name), timeout=90)
    assert status["runtimeStatus"] == "Completed", status
    trace = _trace(api, status["instanceId"])
    spans = trace["spans"]
    kinds = [span["type"] for span in spans]
    assert _subsequence(shape, kinds), kinds
    assert status["trace"] == {"spans": len(spans), "truncated": False}
    assert trace["complete"] is True and trace["total"] == len(spans)
    responses = [s for s in spans if s["type"] == "response"]
    calls = model.requests_to("responses")
    # the token counts are the ones the model answered with, call by call
    assert [s["data"]["usage"]["input"] for s in responses] == [
        estimate_tokens(call.body.get("input", "")) for call in calls
    ]
    agents = [s for s in spans if s["type"] == "agent"]
    assert agents and all(s["endedAt"] > s["startedAt"] for s in agents)
    tools = [s for s in spans if s["type"] == "function"]
    assert all(t["name"] and "input" in t["data"] for t in tools)


def test_pages_of_a_trace(api: StackClient, model: ModelServer) -> None:
    status = api.wait(_submit(api, model, "ghidx_weather_function_tool.py"), timeout=90)
    whole = _trace(api, status["instanceId"])
    first = api.http.get(f"/api/workflows/{status['instanceId']}/trace", params={"top": 2}).json()
    assert first["spans"] == whole["spans"][:2] and first["nextSkip"] == 2
    rest = api.http.get(
        f"/api/workflows/{status['instanceId']}/trace", params={"skip": 2, "top": 2000}
    ).json()
    assert first["spans"] + rest["spans"] == whole["spans"] and rest["nextSkip"] is None


def test_progress_is_visible_while_a_slow_run_goes_on(api: StackClient, model: ModelServer) -> None:
    recipe = RECIPES["ghidx_weather_function_tool.py"]
    replies = as_script(recipe.script)

    async def slow(request: ModelRequest):
        await asyncio.sleep(1.5)  # each model call takes a while
        return await resolve_reply(replies, request)

    instance = _submit(api, model, "ghidx_weather_function_tool.py", script=slow)
    seen: list[dict[str, Any]] = []
    deadline = time.monotonic() + 90
    while (status := api.status(instance))["runtimeStatus"] in ("Pending", "Running"):
        if status.get("progress"):
            seen.append(status["progress"])
        assert time.monotonic() < deadline
        time.sleep(0.1)
    assert status["runtimeStatus"] == "Completed", status
    assert seen, "no progress was shown while the run went on"
    assert any(p["agent"] == "Agent" for p in seen), seen  # the agent running at the time
    steps = [p["steps"] for p in seen]
    assert steps == sorted(steps) and steps[-1] >= 1
    assert any(p["tokens"].get("input", 0) > 0 for p in seen), seen
    assert "progress" not in status  # a finished run shows its trace instead
    assert status["trace"]["spans"] >= steps[-1]


def test_plain_workflows_report_progress_and_secrets_never_show(api: StackClient) -> None:
    code = (
        "import os, time\n\n"
        "def run(payload):\n"
        "    for i in range(4):\n"
        "        aro_progress('step', index=i, token=os.environ['TOKEN'])\n"
        "        time.sleep(0.4)\n"
        "    return 'ok'\n"
    )
    instance = api.start({"workflowCode": code, "secretEnvironmentVariables": {"TOKEN": SETTING}})
    shown = []
    while (status := api.status(instance))["runtimeStatus"] in ("Pending", "Running"):
        shown.append(json.dumps(status))
        time.sleep(0.1)
    trace = _trace(api, instance)
    assert status["runtimeStatus"] == "Completed", status
    assert [s["data"]["index"] for s in trace["spans"]] == [0, 1, 2, 3]
    assert any('"progress"' in text for text in shown)
    everything = "".join(shown) + json.dumps(status) + json.dumps(trace)
    for form in secret_forms(SECRET):
        assert form not in everything
    assert trace["spans"][0]["data"]["token"] == "***"


def test_a_running_run_has_no_trace_yet_and_another_callers_run_is_404(
    api: StackClient, stack: LocalStack
) -> None:
    instance = api.start({"workflowCode": "import time\n\ndef run(p):\n    time.sleep(3)\n"})
    early = _trace(api, instance)
    assert early["complete"] is False and early["spans"] == []
    with StackClient(stack, key=None) as anonymous:
        assert anonymous.http.get(f"/api/workflows/{instance}/trace").status_code == 401
    api.wait(instance)


def test_the_cli_shows_live_progress_and_prints_the_trace_tree(
    api: StackClient,
    stack: LocalStack,
    model: ModelServer,
    tmp_path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    from aro.cli import main

    recipe = RECIPES["ghidx_weather_function_tool.py"]
    replies = as_script(recipe.script)

    async def slow(request: ModelRequest):
        await asyncio.sleep(1.0)
        return await resolve_reply(replies, request)

    model.set_script(slow)
    workflow = tmp_path / "workflow.py"
    workflow.write_text(recipe.source().read_text(encoding="utf-8"), encoding="utf-8")
    env = [arg for k, v in model_env(model.base_url).items() for arg in ("--env", f"{k}={v}")]
    argv = ["run", str(workflow), "--input-json", json.dumps({"input_as_text": recipe.input_text})]
    environ = {"ARO_URL": stack.base_url, "ARO_FUNCTION_KEY": stack.function_key or ""}
    assert main([*argv, *env], environ=environ) == 0
    out, err = capsys.readouterr()
    assert json.loads(out) == recipe.expected_result
    live = [line for line in err.splitlines() if "steps" in line]
    assert live, err  # e.g. "[   3.2 s] Agent → tool get_weather  (3 steps, 23+58 tokens)"
    assert any("Agent" in line for line in live), err
    instance = err.splitlines()[0].removeprefix("submitted ")
    assert main(["trace", instance], environ=environ) == 0
    tree = capsys.readouterr().out.splitlines()
    assert tree[0].startswith("trace")
    tool = next(line for line in tree if "function get_weather" in line)
    agent = next(line for line in tree if line.lstrip().startswith("agent"))
    assert len(tool) - len(tool.lstrip()) > len(agent) - len(agent.lstrip())  # nested under it
    assert any("tokens" in line for line in tree if "response" in line)
