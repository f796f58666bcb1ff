"""Webhooks through the whole stack: a real receiver on 127.0.0.1 verifies what it gets.

The stack is the one ``make run`` starts: its settings allow-list loopback and http, and
generate the signing secret. The receiver answers as each test scripts it (500 first, a
400, a slow answer) and records every request.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from e2e_support import StackClient, make_stack
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from activities.callback import (
    ATTEMPT_HEADER,
    EVENT_ID_HEADER,
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    verify,
)
from devstack.stack import LocalStack
from thread_server import serve_in_thread

pytestmark = pytest.mark.e2e

HELLO = "def run(payload):\n    return {'hello': payload.get('name')}\n"


@dataclass
class Receiver:
    """Answers POST /hook with the next scripted (status, delay); records each request."""

    answers: list[tuple[int, float]] = field(default_factory=list)
    received: list[dict[str, Any]] = field(default_factory=list)
    port: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook?tenant=t1"

    def script(self, *answers: tuple[int, float]) -> None:
        with self.lock:
            self.answers = list(answers)
            self.received = []

    async def hook(self, request: Request) -> Response:
        body = await request.body()
        with self.lock:
            status, delay = self.answers.pop(0) if self.answers else (200, 0.0)
            self.received.append(
                {"headers": dict(request.headers), "body": body, "query": request.url.query}
            )
        await asyncio.sleep(delay)
        return Response(status_code=status)

    def wait_for(self, count: int, timeout: float = 30) -> list[dict[str, Any]]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                if len(self.received) >= count:
                    return list(self.received)
            time.sleep(0.05)
        raise AssertionError(f"{len(self.received)} deliveries, expected {count}")


@pytest.fixture(scope="module")
def receiver() -> Iterator[Receiver]:
    receiver = Receiver()
    app = Starlette(routes=[Route("/hook", receiver.hook, methods=["POST"])])
    with serve_in_thread(app, name="webhook-receiver") as port:
        receiver.port = port
        yield receiver


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    with make_stack(tmp_path_factory.mktemp("webhooks")) as stack:
        yield stack


@pytest.fixture
def api(stack: LocalStack) -> Iterator[StackClient]:
    with StackClient(stack) as client:
        yield client


def _callback_state(api: StackClient, instance: str, state: str, timeout: float = 30) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        status = api.status(instance)
        if (status.get("callback") or {}).get("state") == state:
            return status
        assert time.monotonic() < deadline, status
        time.sleep(0.1)


def test_a_finished_run_is_delivered_signed(
    api: StackClient, stack: LocalStack, receiver: Receiver
) -> None:
    receiver.script((200, 0))
    status = api.run({"workflowCode": HELLO, "input": {"name": "Ada"}, "callbackUrl": receiver.url})
    assert status["runtimeStatus"] == "Completed", status
    (delivery,) = receiver.wait_for(1)
    headers, body = delivery["headers"], delivery["body"]
    secret = stack.values["AzureSession__CallbackSigningSecret"]
    assert verify(
        secret,
        body=body,
        timestamp=headers[TIMESTAMP_HEADER.lower()],
        signature_header=headers[SIGNATURE_HEADER.lower()],
    )
    assert not verify(
        "another-secret",
        body=body,
        timestamp=headers[TIMESTAMP_HEADER.lower()],
        signature_header=headers[SIGNATURE_HEADER.lower()],
    )
    document = json.loads(body)
    assert document["instanceId"] == status["instanceId"]
    assert document["runtimeStatus"] == "Completed" and document["output"] == {"hello": "Ada"}
    assert "callback" not in document
    assert delivery["query"] == "tenant=t1" and headers[ATTEMPT_HEADER.lower()] == "1"
    assert headers[EVENT_ID_HEADER.lower()]
    final = _callback_state(api, status["instanceId"], "delivered")
    assert final["callback"] == {
        "state": "delivered",
        "attempts": 1,
        "lastStatus": 200,
        "lastError": None,
    }


def test_a_500_is_retried_then_delivered(api: StackClient, receiver: Receiver) -> None:
    receiver.script((500, 0), (503, 0), (200, 0))
    status = api.run({"workflowCode": HELLO, "callbackUrl": receiver.url})
    deliveries = receiver.wait_for(3)
    events = {d["headers"][EVENT_ID_HEADER.lower()] for d in deliveries}
    assert len(events) == 1  # one event, three attempts
    assert [d["headers"][ATTEMPT_HEADER.lower()] for d in deliveries] == ["1", "2", "3"]
    final = _callback_state(api, status["instanceId"], "delivered")
    assert final["callback"]["attempts"] == 3


def test_a_400_stops_the_delivery(api: StackClient, receiver: Receiver) -> None:
    receiver.script((400, 0), (200, 0))
    status = api.run({"workflowCode": HELLO, "callbackUrl": receiver.url})
    final = _callback_state(api, status["instanceId"], "failed")
    assert final["callback"]["attempts"] == 1 and final["callback"]["lastStatus"] == 400
    assert final["runtimeStatus"] == "Completed"  # the run's own result is untouched
    time.sleep(1.5)
    assert len(receiver.received) == 1


def test_a_slow_receiver_does_not_hold_the_run(api: StackClient, receiver: Receiver) -> None:
    receiver.script((200, 6.0))
    instance = api.start({"workflowCode": HELLO, "callbackUrl": receiver.url})
    started = time.monotonic()
    status = api.wait(instance)
    assert status["runtimeStatus"] == "Completed"
    assert time.monotonic() - started < 4  # the receiver is still sleeping
    assert status["callback"]["state"] in ("pending", "retrying")
    assert _callback_state(api, instance, "delivered", timeout=30)


def test_failed_and_canceled_runs_notify_too(api: StackClient, receiver: Receiver) -> None:
    receiver.script((200, 0), (200, 0))
    failed = api.run(
        {"workflowCode": "def run(p):\n    raise ValueError('no')\n", "callbackUrl": receiver.url}
    )
    long = api.start(
        {
            "workflowCode": "import time\n\ndef run(p):\n    time.sleep(30)\n",
            "callbackUrl": receiver.url,
        }
    )
    time.sleep(1.0)
    assert api.http.post(f"/api/workflows/{long}/cancel", json={}).status_code == 202
    deliveries = receiver.wait_for(2)
    documents = {json.loads(d["body"])["instanceId"]: json.loads(d["body"]) for d in deliveries}
    assert documents[failed["instanceId"]]["error"]["type"] == "ValueError"
    assert documents[long]["runtimeStatus"] == "Terminated"
    assert documents[long]["error"]["type"] == "Canceled"
    assert _callback_state(api, long, "delivered")["callback"]["attempts"] == 1


@pytest.mark.parametrize(
    "url",
    [
        "http://10.1.2.3/hook",
        "http://192.168.1.10/hook",
        "http://169.254.169.254/latest/meta-data",
        "http://[fe80::1]/hook",
        "http://[::ffff:10.0.0.1]/hook",
        "http://100.64.0.1/hook",
        "http://user:pw@127.0.0.1/hook",
        "ftp://127.0.0.1/hook",
        "http://no-such-host.invalid/hook",
    ],
)
def test_refused_addresses_are_a_400_at_submission(api: StackClient, url: str) -> None:
    response = api.submit({"workflowCode": HELLO, "callbackUrl": url})
    assert response.status_code == 400, response.text
    assert response.json()["errors"][0]["path"] == "callbackUrl"
