"""scripts/smoke_test.py: argument parsing and the submit/poll/check loop against respx."""

from __future__ import annotations

import importlib.util
import json
import sys
import uuid
from pathlib import Path
from types import ModuleType

import httpx
import pytest
import respx

from tests.support.clock import FakeClock

REPO = Path(__file__).resolve().parents[2]
BASE = "https://func-smoke.example.net"


def _load_script() -> ModuleType:
    name = "scripts_smoke_test"
    spec = importlib.util.spec_from_file_location(name, REPO / "scripts" / "smoke_test.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


smoke = _load_script()


@pytest.fixture
def workflow(tmp_path: Path) -> Path:
    path = tmp_path / "workflow.py"
    path.write_text("def run(payload):\n    return {'greeting': f\"Hello, {payload['name']}!\"}\n")
    return path


@pytest.fixture
def input_file(tmp_path: Path) -> Path:
    path = tmp_path / "input.json"
    path.write_text(json.dumps({"name": "Grace"}))
    return path


def options(workflow: Path, *extra: str, environ: dict[str, str] | None = None):
    argv = ["--base-url", BASE, "--workflow", str(workflow), *extra]
    return smoke.parse_args(argv, environ=environ or {})


# --- parse_args ----------------------------------------------------------------------------


def test_parse_defaults_without_input(workflow: Path) -> None:
    parsed = options(workflow)
    assert parsed.base_url == BASE
    assert parsed.function_key is None
    assert parsed.input_path is None
    assert parsed.expected == "Hello, Azure!"
    assert parsed.timeout == 300.0
    assert parsed.poll_interval == 2.0


def test_parse_expected_from_input_and_key_from_env(workflow: Path, input_file: Path) -> None:
    parsed = options(
        workflow, "--input", str(input_file), environ={"SMOKE_FUNCTION_KEY": "env-key"}
    )
    assert parsed.expected == "Hello, Grace!"
    assert parsed.function_key == "env-key"
    explicit = options(workflow, "--function-key", "arg-key", environ={"SMOKE_FUNCTION_KEY": "x"})
    assert explicit.function_key == "arg-key"


def test_parse_strips_trailing_slash_and_takes_expect(workflow: Path) -> None:
    parsed = smoke.parse_args(
        ["--base-url", BASE + "/", "--workflow", str(workflow), "--expect", "Hi!"], environ={}
    )
    assert parsed.base_url == BASE
    assert parsed.expected == "Hi!"


def test_parse_repo_example_by_default() -> None:
    if not smoke.DEFAULT_WORKFLOW.exists():
        pytest.skip("examples/hello not present")
    parsed = smoke.parse_args(["--base-url", BASE], environ={})
    assert parsed.workflow == smoke.DEFAULT_WORKFLOW
    if smoke.DEFAULT_INPUT.exists():
        name = json.loads(smoke.DEFAULT_INPUT.read_text())["name"]
        assert parsed.input_path == smoke.DEFAULT_INPUT
        assert parsed.expected == f"Hello, {name}!"


@pytest.mark.parametrize(
    "extra",
    [
        ["--timeout", "0"],
        ["--poll-interval", "-1"],
        ["--input", "/nonexistent/input.json"],
    ],
)
def test_parse_rejects_bad_values(workflow: Path, extra: list[str]) -> None:
    with pytest.raises(SystemExit) as raised:
        options(workflow, *extra)
    assert raised.value.code == 2


@pytest.mark.parametrize("content", [b"{not json", b"\xff\xfe", b"[1, 2"])
def test_parse_unreadable_input_is_a_usage_error(
    workflow: Path, tmp_path: Path, content: bytes, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "bad.json"
    bad.write_bytes(content)
    with pytest.raises(SystemExit) as raised:
        options(workflow, "--input", str(bad))
    assert raised.value.code == 2
    assert f"cannot read --input {bad}" in capsys.readouterr().err


def test_parse_rejects_bad_url_missing_workflow_and_nameless_input(tmp_path: Path) -> None:
    workflow = tmp_path / "w.py"
    workflow.write_text("def run(p):\n    return p\n")
    nameless = tmp_path / "in.json"
    nameless.write_text(json.dumps({"other": 1}))
    for argv in (
        ["--base-url", "ftp://x", "--workflow", str(workflow)],
        ["--base-url", BASE, "--workflow", str(tmp_path / "missing.py")],
        ["--base-url", BASE, "--workflow", str(workflow), "--input", str(nameless)],
        ["--workflow", str(workflow)],
    ):
        with pytest.raises(SystemExit) as raised:
            smoke.parse_args(argv, environ={})
        assert raised.value.code == 2, argv


# --- the loop ------------------------------------------------------------------------------


def status(runtime: str, **extra) -> httpx.Response:
    return httpx.Response(200, json={"id": "x", "runtimeStatus": runtime, **extra})


def run_with(parsed, clock: FakeClock) -> tuple[int, list[str]]:
    lines: list[str] = []
    code = smoke.run(parsed, sleep=clock.sleep, clock=clock, out=lines.append)
    return code, lines


@respx.mock
def test_completed_with_greeting_exits_zero(workflow: Path, input_file: Path) -> None:
    instance = f"inst-{uuid.uuid4().hex}"
    submit = respx.post(f"{BASE}/api/workflows").mock(
        return_value=httpx.Response(202, json={"id": instance, "statusQueryGetUri": "u"})
    )
    output = {"status": "succeeded", "result": {"greeting": "Hello, Grace!"}}
    poll = respx.get(f"{BASE}/api/workflowStatus/{instance}").mock(
        side_effect=[
            status("Pending"),
            status("Running", phase="running"),
            status("Completed", phase="done", output=output),
        ]
    )
    parsed = options(workflow, "--input", str(input_file), "--function-key", "secret-key")
    clock = FakeClock()
    code, lines = run_with(parsed, clock)
    assert code == 0, lines
    assert lines[-1] == "OK: Hello, Grace!"
    sent = submit.calls.last.request
    assert sent.headers["x-functions-key"] == "secret-key"
    body = json.loads(sent.content)
    assert body == {"workflowCode": workflow.read_text(), "input": {"name": "Grace"}}
    assert poll.call_count == 3
    assert poll.calls.last.request.headers["x-functions-key"] == "secret-key"
    assert clock.sleeps == [2.0, 2.0]
    assert not any("secret-key" in line for line in lines)


@respx.mock
def test_no_key_sends_no_header(workflow: Path) -> None:
    respx.post(f"{BASE}/api/workflows").mock(return_value=httpx.Response(202, json={"id": "a1"}))
    poll = respx.get(f"{BASE}/api/workflowStatus/a1").mock(
        return_value=status("Completed", output={"greeting": "Hello, Azure!"})
    )
    code, _ = run_with(options(workflow), FakeClock())
    assert code == 0
    assert "x-functions-key" not in poll.calls.last.request.headers


@pytest.mark.parametrize(
    ("final", "expected_code"),
    [
        (status("Failed", output={"error": {"type": "ValueError"}}), 1),
        (status("Completed", output={"greeting": "Hello, someone else!"}), 1),
        (status("Terminated"), 1),
    ],
)
@respx.mock
def test_wrong_outcomes_exit_one(workflow: Path, final: httpx.Response, expected_code: int) -> None:
    instance = f"inst-{uuid.uuid4().hex}"
    respx.post(f"{BASE}/api/workflows").mock(
        return_value=httpx.Response(202, json={"id": instance})
    )
    respx.get(f"{BASE}/api/workflowStatus/{instance}").mock(return_value=final)
    code, lines = run_with(options(workflow), FakeClock())
    assert code == expected_code
    assert lines[-1].startswith("FAIL:")


@respx.mock
def test_timeout_exits_three_without_oversleeping(workflow: Path) -> None:
    respx.post(f"{BASE}/api/workflows").mock(return_value=httpx.Response(202, json={"id": "slow"}))
    poll = respx.get(f"{BASE}/api/workflowStatus/slow").mock(return_value=status("Running"))
    clock = FakeClock()
    code, lines = run_with(options(workflow, "--timeout", "10", "--poll-interval", "3"), clock)
    assert code == 3
    assert "did not finish within 10s" in lines[-1]
    assert sum(clock.sleeps) <= 10
    assert poll.call_count == len(clock.sleeps) + 1


@respx.mock
def test_timeout_polls_once_more_at_the_deadline(workflow: Path) -> None:
    respx.post(f"{BASE}/api/workflows").mock(return_value=httpx.Response(202, json={"id": "edge"}))
    done = status("Completed", output={"greeting": "Hello, Azure!"})
    poll = respx.get(f"{BASE}/api/workflowStatus/edge").mock(
        side_effect=[status("Running")] * 4 + [done]
    )
    clock = FakeClock()
    code, lines = run_with(options(workflow, "--timeout", "10", "--poll-interval", "3"), clock)
    assert code == 0, lines
    assert clock.sleeps == [3.0, 3.0, 3.0, 1.0]
    assert poll.call_count == 5


@pytest.mark.parametrize("where", ["submit", "status"])
@respx.mock
def test_non_json_answer_exits_four(workflow: Path, where: str) -> None:
    page = "<html>gateway says hi</html>"
    accepted = httpx.Response(202, text=page if where == "submit" else '{"id": "html"}')
    respx.post(f"{BASE}/api/workflows").mock(return_value=accepted)
    respx.get(f"{BASE}/api/workflowStatus/html").mock(return_value=httpx.Response(200, text=page))
    code, lines = run_with(options(workflow), FakeClock())
    assert code == 4
    assert lines[-1].startswith("FAIL:") and "not JSON" in lines[-1]


@respx.mock
def test_not_found_is_tolerated_briefly(workflow: Path) -> None:
    respx.post(f"{BASE}/api/workflows").mock(return_value=httpx.Response(202, json={"id": "late"}))
    respx.get(f"{BASE}/api/workflowStatus/late").mock(
        side_effect=[
            httpx.Response(404, json={"error": "not found"}),
            status("Completed", output={"greeting": "Hello, Azure!"}),
        ]
    )
    code, _ = run_with(options(workflow), FakeClock())
    assert code == 0


@respx.mock
def test_not_found_after_grace_exits_four(workflow: Path) -> None:
    respx.post(f"{BASE}/api/workflows").mock(return_value=httpx.Response(202, json={"id": "gone"}))
    respx.get(f"{BASE}/api/workflowStatus/gone").mock(return_value=httpx.Response(404))
    clock = FakeClock()
    code, lines = run_with(options(workflow, "--poll-interval", "5"), clock)
    assert code == 4
    assert "404" in lines[-1]
    assert sum(clock.sleeps) >= smoke.NOT_FOUND_GRACE_SECONDS


@pytest.mark.parametrize(
    "submit_response",
    [
        httpx.Response(400, json={"errors": [{"field": "workflowCode"}]}),
        httpx.Response(401),
        httpx.Response(202, json={"noId": True}),
    ],
)
@respx.mock
def test_submit_errors_exit_four(workflow: Path, submit_response: httpx.Response) -> None:
    respx.post(f"{BASE}/api/workflows").mock(return_value=submit_response)
    code, lines = run_with(options(workflow), FakeClock())
    assert code == 4
    assert lines[-1].startswith("FAIL:")


@respx.mock
def test_network_error_exits_four(workflow: Path) -> None:
    respx.post(f"{BASE}/api/workflows").mock(side_effect=httpx.ConnectError("refused"))
    code, lines = run_with(options(workflow), FakeClock())
    assert code == 4
    assert "ConnectError" in lines[-1]


def test_contains_text_walks_nested_output() -> None:
    assert smoke.contains_text({"a": [{"b": "Hello, X!"}]}, "Hello, X!")
    assert not smoke.contains_text({"a": ["Hello, Y!"]}, "Hello, X!")
    assert not smoke.contains_text(None, "Hello, X!")
