"""Production controls through the real local stack: cancel, idempotency, caller-scoped
sessions and runs, listing, health, OpenAPI and the client CLI."""

from __future__ import annotations

import json
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from e2e_support import REPO, StackClient, example, make_stack

from devstack.stack import LocalStack

pytestmark = pytest.mark.e2e

ALICE, BOB = f"alice-{uuid.uuid4().hex}", f"bob-{uuid.uuid4().hex}"
SLEEPER = "import time\n\ndef run(payload):\n    time.sleep(60)\n    return 'never'\n"


@pytest.fixture(scope="module")
def two_callers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    """A stack that accepts two function keys: two callers."""
    root = tmp_path_factory.mktemp("callers")
    with make_stack(root, runtime_env={"LocalRuntime__FunctionKeys": f"{ALICE},{BOB}"}) as stack:
        yield stack


@pytest.fixture
def alice(two_callers: LocalStack) -> Iterator[StackClient]:
    with StackClient(two_callers, key=ALICE) as client:
        yield client


@pytest.fixture
def bob(two_callers: LocalStack) -> Iterator[StackClient]:
    with StackClient(two_callers, key=BOB) as client:
        yield client


def _wait_for_phase(api: StackClient, instance: str, phase: str) -> None:
    deadline = time.monotonic() + 20
    while api.status(instance)["phase"] != phase:
        assert time.monotonic() < deadline, api.status(instance)
        time.sleep(0.05)


def test_cancel_ends_the_run_records_who_and_why_and_frees_the_session(
    alice: StackClient,
) -> None:
    instance = alice.start({"workflowCode": SLEEPER})
    _wait_for_phase(alice, instance, "running")

    response = alice.http.post(f"/api/workflows/{instance}/cancel", json={"reason": "wrong input"})
    assert response.status_code == 202, response.text
    assert response.json()["sessionDeletion"] == "deleted"
    status = alice.wait(instance, timeout=20)

    assert status["runtimeStatus"] == "Terminated"
    assert status["phase"] == "canceled"
    assert status["cancellation"]["reason"] == "wrong input"
    assert status["cancellation"]["canceledBy"].startswith("key-")
    again = alice.http.post(f"/api/workflows/{instance}/cancel")
    assert again.status_code == 409
    assert again.json()["runtimeStatus"] == "Terminated"


def test_cancel_inside_the_starting_activity_ends_the_run_and_its_watch(
    alice: StackClient, two_callers: LocalStack
) -> None:
    """A cancel during RunExecution's fast window: the session goes, the watch returns."""
    instance = alice.start({"workflowCode": SLEEPER})
    time.sleep(0.4)
    assert alice.status(instance)["phase"] == "starting"
    response = alice.http.post(f"/api/workflows/{instance}/cancel", json={"reason": "fast"})
    assert response.status_code == 202, response.text
    assert response.json()["sessionDeletion"] == "deleted"
    assert alice.wait(instance, timeout=20)["runtimeStatus"] == "Terminated"
    # the watching activity saw its execution vanish and gave its slot back
    deadline = time.monotonic() + 10
    while "RunExecution: Lost" not in two_callers.log_tail("runtime", chars=500_000):
        assert time.monotonic() < deadline, two_callers.log_tail("runtime")
        time.sleep(0.1)


def test_cancel_of_an_unknown_run_is_404(alice: StackClient) -> None:
    assert alice.http.post(f"/api/workflows/{uuid.uuid4().hex}/cancel").status_code == 404


def test_same_idempotency_key_and_body_returns_the_same_run(alice: StackClient) -> None:
    key = f"order-{uuid.uuid4().hex}"
    body = {"workflowCode": example("hello"), "input": {"name": "Idem"}}

    first = alice.submit(body, headers={"Idempotency-Key": key})
    second = alice.submit(body, headers={"Idempotency-Key": key})
    changed = alice.submit({**body, "input": {"name": "Other"}}, headers={"Idempotency-Key": key})

    assert first.status_code == second.status_code == 202
    assert first.json()["id"] == second.json()["id"]
    assert second.headers["Idempotent-Replayed"] == "true"
    assert changed.status_code == 409
    assert alice.wait(first.json()["id"])["output"] == {"greeting": "Hello, Idem!"}


def test_two_callers_with_the_same_session_id_never_share_files(
    alice: StackClient, bob: StackClient
) -> None:
    session = f"shared-name-{uuid.uuid4().hex[:8]}"
    writer = "def run(payload):\n    open('/mnt/data/secret.txt', 'w').write('alice only')\n"
    reader = "def run(payload):\n    return open('/mnt/data/secret.txt').read()\n"

    assert alice.run({"workflowCode": writer, "sessionId": session})["runtimeStatus"] == "Completed"
    theirs = bob.run({"workflowCode": reader, "sessionId": session})
    mine = alice.run({"workflowCode": reader, "sessionId": session})

    assert theirs["runtimeStatus"] == "Failed"
    assert theirs["error"]["type"] == "FileNotFoundError"
    assert mine["output"] == "alice only"


def test_listing_pages_through_recent_runs(alice: StackClient) -> None:
    ids = {alice.start({"workflowCode": example("hello")}) for _ in range(3)}
    for instance in ids:
        alice.wait(instance)

    seen: list[str] = []
    token = None
    for _ in range(50):
        params = {"status": "Completed", "top": 2}
        if token:
            params["continuationToken"] = token
        page = alice.http.get("/api/workflows", params=params)
        assert page.status_code == 200, page.text
        items = page.json()["items"]
        assert len(items) <= 2
        assert all(item["runtimeStatus"] == "Completed" for item in items)
        seen += [item["instanceId"] for item in items]
        token = page.json()["continuationToken"]
        if not token:
            break

    assert ids <= set(seen)
    assert len(seen) == len(set(seen))
    bad = alice.http.get("/api/workflows", params={"top": 0})
    assert bad.status_code == 400
    assert bad.json()["errors"][0]["path"] == "top"


def _listed(api: StackClient) -> list[str]:
    """Every instance id the caller's listing shows, following the continuation tokens."""
    seen: list[str] = []
    token = None
    for _ in range(100):
        params: dict[str, str | int] = {"top": 5}
        if token:
            params["continuationToken"] = token
        page = api.http.get("/api/workflows", params=params)
        assert page.status_code == 200, page.text
        seen += [item["instanceId"] for item in page.json()["items"]]
        token = page.json()["continuationToken"]
        if not token:
            return seen
    raise AssertionError("the listing never ended")


def test_another_callers_runs_are_invisible_and_cannot_be_canceled(
    alice: StackClient, bob: StackClient
) -> None:
    running = alice.start({"workflowCode": SLEEPER})
    done = alice.start({"workflowCode": example("hello"), "input": {"name": "Alice"}})
    alice.wait(done)
    own = bob.start({"workflowCode": example("hello"), "input": {"name": "Bob"}})
    bob.wait(own)

    unknown = f"{own.split('-', 1)[0]}-{uuid.uuid4().hex}"  # Bob's tag, no such run
    for instance in (running, done):
        status = bob.http.get(f"/api/workflowStatus/{instance}")
        cancel = bob.http.post(f"/api/workflows/{instance}/cancel", json={"reason": "bob"})
        assert status.status_code == 404, status.text
        assert cancel.status_code == 404, cancel.text
        assert status.headers["content-type"].startswith("application/problem+json")
        assert "Alice" not in status.text
        nothing = bob.http.get(f"/api/workflowStatus/{unknown}").json()
        assert status.json() == {**nothing, "detail": nothing["detail"].replace(unknown, instance)}

    bobs, alices = _listed(bob), _listed(alice)
    assert own in bobs
    assert running not in bobs and done not in bobs
    assert {running, done} <= set(alices) and own not in alices

    assert alice.status(running)["runtimeStatus"] in ("Pending", "Running")
    assert alice.http.post(f"/api/workflows/{running}/cancel").status_code == 202
    assert alice.wait(running, timeout=20)["cancellation"]["canceledBy"].startswith("key-")


def test_health_is_anonymous_and_the_deep_check_reaches_the_pool(two_callers: LocalStack) -> None:
    plain = httpx.get(f"{two_callers.base_url}/api/health")
    deep = httpx.get(f"{two_callers.base_url}/api/health", params={"deep": "true"})

    assert plain.status_code == 200
    assert plain.json()["status"] == "ok"
    assert deep.json()["pool"] == "ok"


def test_openapi_document_describes_the_live_routes(alice: StackClient) -> None:
    document = httpx.get(f"{alice.stack.base_url}/api/openapi.json").json()

    assert document["openapi"].startswith("3.1")
    for path in document["paths"]:
        live = path.replace("{instanceId}", uuid.uuid4().hex).replace("{asset}", "app.js")
        for method in document["paths"][path]:
            response = alice.http.request(method.upper(), live)
            assert response.status_code != 404 or "problem" in response.headers.get(
                "content-type", ""
            ), f"{method.upper()} {path} is not served"
    without_key = httpx.post(f"{alice.stack.base_url}/api/workflows", json={})
    assert without_key.status_code == 401


def _aro(stack: LocalStack, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "aro", *args, "--url", stack.base_url, "--key", ALICE],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_cli_runs_a_workflow_and_exits_by_its_outcome(two_callers: LocalStack) -> None:
    hello = REPO / "examples" / "hello"
    ok = _aro(two_callers, "run", str(hello / "workflow.py"), "--input", str(hello / "input.json"))
    failed = _aro(two_callers, "run", str(REPO / "examples" / "failing" / "workflow.py"))

    assert ok.returncode == 0, ok.stderr
    assert json.loads(ok.stdout) == {"greeting": "Hello, Ada!"}
    assert failed.returncode == 1
    assert "Error" in failed.stderr


def test_cli_cancel_and_status(two_callers: LocalStack, tmp_path: Path) -> None:
    workflow = tmp_path / "sleeper.py"
    workflow.write_text(SLEEPER)
    started = _aro(two_callers, "run", str(workflow), "--no-wait")
    instance = started.stdout.strip().splitlines()[-1].strip()

    canceled = _aro(two_callers, "cancel", instance, "--reason", "from the CLI")
    with StackClient(two_callers, key=ALICE) as api:
        status = api.wait(instance, timeout=20)
    shown = _aro(two_callers, "status", instance, "--json")

    assert started.returncode == 0, started.stderr
    assert canceled.returncode == 0, canceled.stderr
    assert status["cancellation"]["reason"] == "from the CLI"
    assert json.loads(shown.stdout)["runtimeStatus"] == "Terminated"
