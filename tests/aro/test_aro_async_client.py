"""AsyncWorkflowClient: the same behaviour as the sync client, from asyncio code."""

from __future__ import annotations

import json

import httpx
import pytest
import respx
from aro_support import URL, FakeClock, accepted, problem, status

from aro import (
    AsyncWorkflowClient,
    ConnectionFailed,
    NotFound,
    Submission,
    WaitTimeout,
    WorkflowFailed,
)


def make_client(clock: FakeClock, *, key: str | None = None) -> AsyncWorkflowClient:
    return AsyncWorkflowClient(URL, key=key, sleep=clock.asleep, clock=clock)


async def test_async_run_submits_and_waits(
    router: respx.MockRouter, clock: FakeClock, instance_id: str
) -> None:
    submit = router.post("/api/workflows").mock(return_value=accepted(instance_id))
    router.get(f"/api/workflowStatus/{instance_id}").mock(
        side_effect=[
            status(instance_id, "Running", "running", code=202),
            status(instance_id, "Completed", "completed", output={"ok": True}),
        ]
    )
    phases: list[str | None] = []
    async with make_client(clock, key="k") as client:
        output = await client.run(
            Submission(workflow_code="x", input={"a": 1}),
            idempotency_key="i-1",
            on_update=lambda s: phases.append(s.phase),
        )
    assert output == {"ok": True}
    assert phases == ["running", "completed"]
    request = submit.calls.last.request
    assert json.loads(request.content) == {"workflowCode": "x", "input": {"a": 1}}
    assert request.headers["x-functions-key"] == "k"
    assert request.headers["Idempotency-Key"] == "i-1"
    assert clock.sleeps == [0.25]


async def test_async_run_raises_workflow_failed(
    router: respx.MockRouter, clock: FakeClock, instance_id: str
) -> None:
    router.post("/api/workflows").mock(return_value=accepted(instance_id))
    router.get(f"/api/workflowStatus/{instance_id}").mock(
        return_value=status(instance_id, "Failed", "failed", error={"type": "E", "message": "m"})
    )
    async with make_client(clock) as client:
        with pytest.raises(WorkflowFailed, match="E: m"):
            await client.run(Submission(workflow_code="x"))


async def test_async_wait_timeout_and_not_found(
    router: respx.MockRouter, clock: FakeClock, instance_id: str
) -> None:
    router.get(f"/api/workflowStatus/{instance_id}").mock(
        return_value=status(instance_id, "Running", "running")
    )
    router.get("/api/workflowStatus/missing").mock(return_value=problem(404, "Not found", "x"))
    async with make_client(clock) as client:
        with pytest.raises(WaitTimeout):
            await client.wait(instance_id, timeout=1)
        with pytest.raises(NotFound):
            await client.status("missing")


async def test_async_iter_all_and_cancel(
    router: respx.MockRouter, clock: FakeClock, instance_id: str
) -> None:
    router.get("/api/workflows").mock(
        side_effect=[
            httpx.Response(
                200,
                json={
                    "items": [{"instanceId": instance_id, "runtimeStatus": "Running"}],
                    "continuationToken": "next",
                },
            ),
            httpx.Response(200, json={"items": [{"instanceId": "b", "runtimeStatus": "Pending"}]}),
        ]
    )
    cancel = router.post(f"/api/workflows/{instance_id}/cancel").mock(
        return_value=status(instance_id, "Running", "canceling", code=202)
    )
    async with make_client(clock) as client:
        ids = [item.instance_id async for item in client.iter_all()]
        canceled = await client.cancel(instance_id, reason="why")
    assert ids == [instance_id, "b"]
    assert canceled.phase == "canceling"
    assert json.loads(cancel.calls.last.request.content) == {"reason": "why"}


async def test_async_wait_rides_out_transient_failures_like_the_sync_client(
    router: respx.MockRouter, clock: FakeClock, instance_id: str
) -> None:
    running = {"instanceId": instance_id, "runtimeStatus": "Running", "phase": "running"}
    router.get(f"/api/workflowStatus/{instance_id}").mock(
        side_effect=[
            httpx.ConnectError("restarting"),
            problem(503, "Unavailable", "busy"),
            httpx.Response(429, json={"title": "Slow down"}, headers={"Retry-After": "5"}),
            httpx.Response(202, json=running, headers={"Retry-After": "10"}),
            status(instance_id, "Completed", "completed", output=1),
        ]
    )
    async with make_client(clock) as client:
        assert (await client.wait(instance_id, timeout=60)).output == 1
    assert clock.sleeps == pytest.approx([0.25, 0.375, 5.0, 2.0])


async def test_async_wait_gives_up_after_too_many_failures_in_a_row(
    router: respx.MockRouter, clock: FakeClock, instance_id: str
) -> None:
    router.get(f"/api/workflowStatus/{instance_id}").mock(side_effect=httpx.ConnectError("down"))
    async with make_client(clock) as client:
        with pytest.raises(ConnectionFailed):
            await client.wait(instance_id, timeout=600)
    assert len(clock.sleeps) == 5
