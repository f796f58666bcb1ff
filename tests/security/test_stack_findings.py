"""Rows 6-10 of the hardening review, attacked through a real stack with a valid function key.

One stack (host on Azure's worker where available, emulator with its sandbox) serves
every attack here; each test asserts the attack is contained and that the caller sees a
clear error without internals.
"""

from __future__ import annotations

import base64
import json
import os
import secrets
import socket
import time
import urllib.parse
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from e2e_support import REPO, StackClient, make_stack

from activities.secrets import secret_forms
from devstack.stack import LocalStack

pytestmark = pytest.mark.e2e

SETTING = "HardeningSecret"
#: Every character class the old redaction missed: + / = quotes, backslash, non-ASCII.
SECRET = f"s+k/t=e\"s't\\{secrets.token_hex(6)}-é"
MAX_OUTPUT = 1024 * 1024
TRIVIAL = "def run(payload):\n    return {'ok': True}\n"


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    runtime_env = {
        "AzureSession__SecretSettingsAllowList": SETTING,
        SETTING: SECRET,
        "AzureSession__MaxOutputBytes": str(MAX_OUTPUT),
    }
    with make_stack(tmp_path_factory.mktemp("findings"), runtime_env=runtime_env) as stack:
        yield stack


@pytest.fixture
def api(stack: LocalStack) -> Iterator[StackClient]:
    with StackClient(stack) as client:
        yield client


def _open_fds(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


def _rss_bytes(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    return 0


def _no_internals(status: dict) -> None:
    text = json.dumps(status)
    assert "Traceback" not in text, text
    assert str(REPO) not in text and "site-packages" not in text, text


# --- row 6: a directory named output.json ----------------------------------------------------


def test_row6_directory_output_is_a_clear_error_without_a_leak(
    api: StackClient, stack: LocalStack
) -> None:
    body = {"workflowCode": TRIVIAL, "commandOverride": "mkdir /mnt/data/output.json"}
    api.run(body)  # warm-up: connection pools and the like reach their steady state
    emulator = stack.pids()["emulator"]
    before = _open_fds(emulator)
    statuses = [api.run(body) for _ in range(3)]
    time.sleep(0.5)
    after = _open_fds(emulator)
    for status in statuses:
        assert status["runtimeStatus"] == "Failed", status
        assert "output.json was refused" in status["error"]["message"], status
        _no_internals(status)
    assert after <= before + 2, (before, after)  # was +7 per run


# --- row 7: a huge (sparse) output.json ------------------------------------------------------


def test_row7_huge_output_is_refused_while_streamed(api: StackClient, stack: LocalStack) -> None:
    body = {"workflowCode": TRIVIAL, "commandOverride": "truncate -s 256M /mnt/data/output.json"}
    pids = stack.pids()
    before = {name: _rss_bytes(pid) for name, pid in pids.items()}
    status = api.run(body)
    growth = {name: _rss_bytes(pid) - before[name] for name, pid in pids.items()}
    assert status["runtimeStatus"] == "Failed", status
    message = status["error"]["message"]
    assert "MaxOutputBytes" in message and str(MAX_OUTPUT) in message, message
    _no_internals(status)
    assert all(g < 64 * 1024 * 1024 for g in growth.values()), growth  # was +540 MB


# --- row 8: a secret in its common encodings -------------------------------------------------

LEAKY = """
import base64, json, os, urllib.parse

def run(payload):
    s = os.environ['TOKEN']
    print(urllib.parse.quote(s), urllib.parse.quote_plus(s), json.dumps(s), repr(s))
    print(base64.b64encode(s.encode()).decode(), base64.urlsafe_b64encode(s.encode()).decode())
    b64 = base64.b64encode(s.encode()).decode()
    aro_progress("leak", raw=s, quoted=urllib.parse.quote(s), b64=b64)
    raise RuntimeError(f"failed with {s!r} / {json.dumps(s)} / {urllib.parse.quote(s)}")
"""


def test_row8_encoded_secrets_are_redacted(api: StackClient) -> None:
    body = {"workflowCode": LEAKY, "secretEnvironmentVariables": {"TOKEN": SETTING}}
    status = api.run(body)
    history = api.status_management(status["instanceId"], show_history=True)
    trace = api.http.get(f"/api/workflows/{status['instanceId']}/trace").json()
    assert status["runtimeStatus"] == "Failed", status
    assert [span["name"] for span in trace["spans"]] == ["leak"]  # the trace kept, redacted
    encoded = base64.b64encode(SECRET.encode()).decode()
    assert encoded in secret_forms(SECRET) and urllib.parse.quote(SECRET) in secret_forms(SECRET)
    for text in (json.dumps(status), json.dumps(history), json.dumps(trace)):
        for form in secret_forms(SECRET):
            assert form not in text, form
    assert "***" in json.dumps(status)  # the places the secret was are masked


# --- row 9: the Durable management API is no side door ---------------------------------------


def test_row9_a_function_key_does_not_open_the_management_api(
    api: StackClient, stack: LocalStack
) -> None:
    instance = api.start({"workflowCode": TRIVIAL})
    for method, path in (
        ("GET", "/runtime/webhooks/durabletask/instances"),
        ("GET", f"/runtime/webhooks/durabletask/instances/{instance}?showInput=true"),
        ("POST", f"/runtime/webhooks/durabletask/instances/{instance}/terminate"),
        ("POST", "/runtime/webhooks/durabletask/orchestrators/WorkflowOrchestrator"),
    ):
        response = api.http.request(method, path, json={})
        assert response.status_code in (401, 403), (path, response.status_code)
    assert api.wait(instance)["runtimeStatus"] == "Completed"  # not terminated by the caller


def test_row9_input_the_api_refuses_is_refused_on_the_side_door_too(
    api: StackClient, stack: LocalStack
) -> None:
    """Even with the system key, orchestration input breaking the API's rules never runs."""
    crafted = {
        "workflow_code": TRIVIAL,
        "session": {"strategy": "ephemeral"},
        "environment_variables": {"LD_PRELOAD": "/mnt/data/evil.so", "PATH": "/mnt/data"},
        "command": "python /mnt/data/run.py",
        "config": {
            "timeout_seconds": 100_000,
            "max_execution_seconds": 220,
            "initial_poll_seconds": 1,
            "max_poll_seconds": 5,
            "poll_backoff_factor": 1.5,
            "output_tail_chars": 1000,
        },
    }
    response = api.http.post(
        "/runtime/webhooks/durabletask/orchestrators/WorkflowOrchestrator",
        json=crafted,
        headers={"x-functions-key": stack.system_key},
    )
    assert response.status_code == 202, response.text
    instance = response.json()["id"]
    deadline = time.monotonic() + 30
    while (state := api.status_management(instance, show_history=True))["runtimeStatus"] in (
        "Pending",
        "Running",
    ):
        assert time.monotonic() < deadline, state
        time.sleep(0.1)
    assert state["runtimeStatus"] == "Failed", state
    assert "LD_PRELOAD" in json.dumps(state["output"]), state["output"]
    scheduled = [e.get("Name") for e in state["historyEvents"] if e["EventType"] == "TaskScheduled"]
    assert "StartExecution" not in scheduled, scheduled


# --- row 10: a huge body to an anonymous route ------------------------------------------------


def test_row10_a_huge_body_to_the_anonymous_health_route_is_refused(stack: LocalStack) -> None:
    port = httpx.URL(stack.base_url).port
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(b"GET /api/health HTTP/1.1\r\nHost: x\r\nContent-Length: 300000000\r\n\r\n")
        sock.sendall(b"x" * 65536)
        reply = sock.recv(4096)
    assert reply.startswith(b"HTTP/1.1 413"), reply[:200]
