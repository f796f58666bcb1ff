"""Workflows submitted over HTTP and run for real: runtime -> emulator -> sandbox -> output.json."""

from __future__ import annotations

import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
from e2e_support import StackClient, example

from tests.support.broken_apps import APP_FUNCTION_COUNT

pytestmark = pytest.mark.e2e


def test_hello_completes_with_its_greeting(api: StackClient) -> None:
    status = api.run({"workflowCode": example("hello"), "input": {"name": "Ada"}})

    assert status["runtimeStatus"] == "Completed", status
    assert status["output"] == {"greeting": "Hello, Ada!"}
    assert status["phase"] == "completed"
    assert status["error"] is None
    assert status["timings"]["totalMs"] >= status["timings"]["runMs"] > 0


def test_every_invocation_goes_through_azures_worker(api: StackClient) -> None:
    """The host runs on .venv-worker: Azure's worker indexed the app and runs each call."""
    api.run({"workflowCode": example("hello")})
    log = api.stack.log_tail("runtime", chars=1_000_000)
    loaded = f"{APP_FUNCTION_COUNT} function(s), loaded by Azure's Python worker 1.3.0"
    assert loaded in log, (
        "the host did not run on Azure's worker: build .venv-worker (make worker-venv)"
    )
    for name in ("StartWorkflow", "GetWorkflowStatus", "WorkflowOrchestrator", "RunExecution"):
        assert f"Function name: {name}, Function Type:" in log  # the worker's own log line


def test_durable_hops_of_a_trivial_run_and_a_four_second_run(api: StackClient) -> None:
    """watch mode: a short run is one activity, a 4 s run one watch window more; no timers."""
    trivial = api.run({"workflowCode": "def run(payload):\n    return 1\n"})
    assert trivial["output"] == 1
    assert (trivial["timings"]["activities"], trivial["timings"]["timers"]) == (1, 0)
    slow = api.run(
        {"workflowCode": "import time\n\ndef run(payload):\n    time.sleep(4)\n    return 4\n"}
    )
    assert slow["output"] == 4
    assert (slow["timings"]["activities"], slow["timings"]["timers"]) == (2, 0)
    assert slow["timings"]["runMs"] >= 4000


def test_submit_answers_202_with_location_and_status_urls(api: StackClient) -> None:
    response = api.submit({"workflowCode": example("hello")})

    assert response.status_code == 202
    body = response.json()
    assert response.headers["Location"].endswith(f"/api/workflowStatus/{body['id']}")
    assert int(response.headers["Retry-After"]) >= 1
    assert body["statusUri"] == response.headers["Location"]
    # The Durable management URL points at this same host; it takes the system key.
    assert api.http.get(body["statusQueryGetUri"]).status_code == 401
    management = api.http.get(
        body["statusQueryGetUri"], headers={"x-functions-key": api.stack.system_key}
    )
    assert management.status_code in (200, 202)
    api.wait(body["id"])


def test_raising_workflow_fails_with_type_message_and_traceback(api: StackClient) -> None:
    code = "def run(payload):\n    raise ValueError('bad payload: ' + payload['x'])\n"
    status = api.run({"workflowCode": code, "input": {"x": "42"}})

    assert status["runtimeStatus"] == "Failed", status
    error = status["error"]
    assert error["type"] == "ValueError"
    assert error["message"] == "bad payload: 42"
    assert "raise ValueError" in error["traceback"]
    assert "workflow.py" in error["traceback"]


def test_syntax_error_is_a_400_and_starts_nothing(api: StackClient) -> None:
    response = api.submit({"workflowCode": "def run(payload):\n    return (\n"})

    assert response.status_code == 400
    assert response.headers["content-type"].startswith("application/problem+json")
    problem = response.json()
    assert [e["path"] for e in problem["errors"]] == ["workflowCode"]
    assert "line" in problem["errors"][0]["message"]


def _processes_with_marker(marker: str) -> list[int]:
    """PIDs whose environment carries ``marker`` (sandboxed runs are visible from the host)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if marker.encode() in (entry / "environ").read_bytes():
                found.append(int(entry.name))
        except OSError:
            continue
    return found


def test_deadline_fails_the_run_and_stops_its_session_work(api: StackClient) -> None:
    marker = f"E2E_MARKER_{uuid.uuid4().hex}"
    code = "import time\n\ndef run(payload):\n    time.sleep(60)\n    return 'never'\n"
    instance = api.start(
        {"workflowCode": code, "timeoutSeconds": 3, "environmentVariables": {marker: "1"}}
    )
    # The run really started in the sandbox before the deadline.
    deadline = time.monotonic() + 10
    while not _processes_with_marker(marker) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert _processes_with_marker(marker), "the workflow never started"

    status = api.wait(instance, timeout=30)

    assert status["runtimeStatus"] == "Failed"
    assert status["error"]["type"] == "DeadlineExceeded"
    assert "3" in status["error"]["message"]
    gone = time.monotonic() + 5
    while _processes_with_marker(marker) and time.monotonic() < gone:
        time.sleep(0.1)
    assert not _processes_with_marker(marker), "the sandboxed run outlived its deadline"


def test_environment_variables_reach_the_workflow(api: StackClient) -> None:
    code = "import os\n\ndef run(payload):\n    return {'greeting': os.environ['GREETING']}\n"
    status = api.run({"workflowCode": code, "environmentVariables": {"GREETING": "bonjour"}})

    assert status["output"] == {"greeting": "bonjour"}


def test_runner_preamble_runs_before_the_workflow(api: StackClient) -> None:
    preamble = "import os\nos.environ['FROM_PREAMBLE'] = 'yes'\n"
    code = (
        "import os\n\nSEEN_AT_IMPORT = os.environ.get('FROM_PREAMBLE')\n\n"
        "def run(payload):\n    return SEEN_AT_IMPORT\n"
    )
    status = api.run({"workflowCode": code, "runnerPreamble": preamble})

    assert status["runtimeStatus"] == "Completed", status
    assert status["output"] == "yes"


def test_command_override_runs_instead_of_run_py(api: StackClient) -> None:
    writer = (
        "import json, sys; json.dump({'status': 'succeeded', 'result': sys.argv[1:]},"
        " open('/mnt/data/output.json', 'w'))"
    )
    status = api.run(
        {
            "workflowCode": "# no entrypoint needed with a command override\n",
            "commandOverride": f'python -c "{writer}" alpha "beta gamma"',
        }
    )

    assert status["runtimeStatus"] == "Completed", status
    assert status["output"] == ["alpha", "beta gamma"]


def test_reused_session_sees_the_previous_runs_files(api: StackClient) -> None:
    session = f"e2e-{uuid.uuid4().hex[:12]}"
    writer = (
        "def run(payload):\n"
        "    open('/mnt/data/notes.txt', 'w').write(payload['note'])\n"
        "    return 'written'\n"
    )
    reader = "def run(payload):\n    return open('/mnt/data/notes.txt').read()\n"

    first = api.run({"workflowCode": writer, "input": {"note": "kept"}, "sessionId": session})
    second = api.run({"workflowCode": reader, "sessionId": session})
    fresh = api.run({"workflowCode": reader})

    assert first["output"] == "written"
    assert second["output"] == "kept"
    assert fresh["runtimeStatus"] == "Failed"
    assert fresh["error"]["type"] == "FileNotFoundError"


def test_twenty_concurrent_workflows_each_get_their_own_output(api: StackClient) -> None:
    code = (
        "import time\n\ndef run(payload):\n"
        "    time.sleep(0.2)\n    return {'n': payload['n'], 'square': payload['n'] ** 2}\n"
    )
    ids = [api.start({"workflowCode": code, "input": {"n": n}}) for n in range(20)]
    with ThreadPoolExecutor(max_workers=5) as pool:
        statuses = list(pool.map(lambda i: api.wait(i, timeout=120), ids))

    assert [s["runtimeStatus"] for s in statuses] == ["Completed"] * 20
    assert [s["output"] for s in statuses] == [{"n": n, "square": n * n} for n in range(20)]


def test_unknown_and_malformed_instance_ids(api: StackClient) -> None:
    assert api.http.get(f"/api/workflowStatus/{uuid.uuid4().hex}").status_code == 404
    assert api.http.get("/api/workflowStatus/not%20an%20id").status_code == 400


def test_no_key_or_pool_identifier_leaks_into_the_durable_store(api: StackClient) -> None:
    """The pool identifier is derived inside activities; history holds names only."""
    session = f"e2e-{uuid.uuid4().hex[:12]}"
    api.run({"workflowCode": example("hello"), "sessionId": session})
    values = api.stack.values
    pool = httpx.get(
        f"{api.stack.config.pool_endpoint}/listSessions",
        params={"api-version": "2025-02-02-preview"},
        headers={"Authorization": f"Bearer {values['AzureSession__StaticToken']}"},
    )
    identifiers = [s["identifier"] for s in pool.json()["sessions"]]
    state = api.stack.config.state_dir
    blob = b"".join(p.read_bytes() for p in state.glob("durable.sqlite3*"))

    assert identifiers, "the pool should know the reused session"
    assert blob, "the durable store should exist"
    assert values["AzureSession__SessionIdentifierKey"].encode() not in blob
    assert values["AzureSession__StaticToken"].encode() not in blob
    assert [i for i in identifiers if i.encode() in blob] == []
    assert session.encode() in blob  # the caller's name is stored; only the name
