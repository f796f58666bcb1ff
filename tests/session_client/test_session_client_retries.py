"""Retries: which failures are retried, how long the client sleeps, when it gives up."""

from __future__ import annotations

import email.utils
import time

import httpx
import pytest
import respx
from session_client_support import SleepRecorder, execution_body, make_client

from session_client import (
    AzureSessionClient,
    SessionAuthError,
    SessionBadRequest,
    SessionNotFound,
    SessionRequestError,
    SessionServerError,
    SessionThrottled,
    SessionTimeout,
)
from session_client._retry import RetryPolicy


async def test_429_retry_after_seconds_is_slept_then_succeeds(
    client: AzureSessionClient, router: respx.Router, sleeps: SleepRecorder, identifier: str
) -> None:
    route = router.get("/files").mock(
        side_effect=[
            httpx.Response(429, headers={"Retry-After": "3"}),
            httpx.Response(429, headers={"Retry-After": "1.5"}),
            httpx.Response(200, json={"value": []}),
        ]
    )

    assert await client.list_files(identifier) == []

    assert route.call_count == 3
    assert sleeps.delays == [3.0, 1.5]


async def test_retry_after_http_date_and_cap(
    client: AzureSessionClient, router: respx.Router, sleeps: SleepRecorder, identifier: str
) -> None:
    soon = email.utils.formatdate(time.time() + 20, usegmt=True)
    router.get("/files").mock(
        side_effect=[
            httpx.Response(503, headers={"Retry-After": soon}),
            httpx.Response(429, headers={"Retry-After": "3600"}),
            httpx.Response(200, json={"value": []}),
        ]
    )

    await client.list_files(identifier)

    assert 17.0 <= sleeps.delays[0] <= 20.0
    assert sleeps.delays[1] == 60.0


@pytest.mark.parametrize("status", [500, 502, 503, 504])
async def test_5xx_then_success_uses_bounded_backoff(
    client: AzureSessionClient,
    router: respx.Router,
    sleeps: SleepRecorder,
    identifier: str,
    status: int,
) -> None:
    route = router.get("/files/a").mock(
        side_effect=[httpx.Response(status)] * 3 + [httpx.Response(200, json={"name": "a"})]
    )

    assert (await client.get_file(identifier, "a")).name == "a"

    assert route.call_count == 4
    # equal jitter: retry n sleeps within [ceiling/2, ceiling], ceiling = 0.5 * 2**n
    for n, delay in enumerate(sleeps.delays):
        ceiling = min(10.0, 0.5 * 2**n)
        assert ceiling / 2 <= delay <= ceiling


def test_backoff_is_capped_at_ten_seconds() -> None:
    policy = RetryPolicy(max_retries=10, random=lambda: 1.0)
    assert [policy.delay(n) for n in range(7)] == [0.5, 1.0, 2.0, 4.0, 8.0, 10.0, 10.0]
    low = RetryPolicy(random=lambda: 0.0)
    assert low.delay(3) == 2.0
    assert policy.delay(0, retry_after=90.0) == 60.0


async def test_retries_exhausted_raise_last_error(
    client: AzureSessionClient, router: respx.Router, sleeps: SleepRecorder, identifier: str
) -> None:
    route = router.get("/files").respond(
        503, json={"error": {"code": "Busy", "message": "try later"}}
    )

    with pytest.raises(SessionServerError) as info:
        await client.list_files(identifier)

    assert route.call_count == 5  # 1 + max_retries (4)
    assert len(sleeps.delays) == 4
    assert info.value.status_code == 503
    assert info.value.code == "Busy"


async def test_throttled_exhausted_keeps_retry_after(
    router: respx.Router, sleeps: SleepRecorder, identifier: str
) -> None:
    route = router.get("/files").respond(429, headers={"Retry-After": "2"})
    async with make_client(router, sleeps, max_retries=1) as client:
        with pytest.raises(SessionThrottled) as info:
            await client.list_files(identifier)
    assert route.call_count == 2
    assert sleeps.delays == [2.0]
    assert info.value.retry_after == 2.0


async def test_max_retries_zero_never_retries(
    router: respx.Router, sleeps: SleepRecorder, identifier: str
) -> None:
    route = router.get("/files").respond(500)
    async with make_client(router, sleeps, max_retries=0) as client:
        with pytest.raises(SessionServerError):
            await client.list_files(identifier)
    assert route.call_count == 1
    assert sleeps.delays == []


@pytest.mark.parametrize(
    ("status", "error"),
    [
        (400, SessionBadRequest),
        (401, SessionAuthError),
        (403, SessionAuthError),
        (404, SessionNotFound),
    ],
)
async def test_client_errors_are_not_retried(
    client: AzureSessionClient,
    router: respx.Router,
    sleeps: SleepRecorder,
    identifier: str,
    status: int,
    error: type[Exception],
) -> None:
    route = router.get("/files").respond(status)

    with pytest.raises(error):
        await client.list_files(identifier)

    assert route.call_count == 1
    assert sleeps.delays == []


async def test_connect_error_then_timeout_then_success_on_get(
    client: AzureSessionClient, router: respx.Router, sleeps: SleepRecorder, identifier: str
) -> None:
    route = router.get("/files").mock(
        side_effect=[
            httpx.ConnectError("refused"),
            httpx.ReadTimeout("slow"),
            httpx.Response(200, json={"value": []}),
        ]
    )

    await client.list_files(identifier)

    assert route.call_count == 3
    assert len(sleeps.delays) == 2


async def test_transport_errors_exhausted(
    router: respx.Router, sleeps: SleepRecorder, identifier: str
) -> None:
    router.get("/files").mock(side_effect=httpx.ReadTimeout("slow"))
    async with make_client(router, sleeps, max_retries=2) as client:
        with pytest.raises(SessionTimeout):
            await client.list_files(identifier)
    assert len(sleeps.delays) == 2


async def test_upload_is_retried_with_a_fresh_multipart_body(
    client: AzureSessionClient, router: respx.Router, identifier: str
) -> None:
    route = router.post("/files").mock(
        side_effect=[httpx.Response(502), httpx.Response(200, json={"name": "a.txt"})]
    )

    await client.upload_file(identifier, "a.txt", b"payload-123")

    assert route.call_count == 2
    for call in route.calls:
        assert b'filename="a.txt"' in call.request.content
        assert b"payload-123" in call.request.content


async def test_token_is_fetched_for_every_attempt(
    router: respx.Router, sleeps: SleepRecorder, identifier: str
) -> None:
    class Counting:
        calls = 0

        async def get_token(self) -> str:
            self.calls += 1
            return f"t{self.calls}"

        async def aclose(self) -> None:
            pass

    auth = Counting()
    route = router.get("/files").mock(
        side_effect=[httpx.Response(500), httpx.Response(200, json={"value": []})]
    )
    async with make_client(router, sleeps, token=None, auth=auth) as client:
        await client.list_files(identifier)
    assert [c.request.headers["authorization"] for c in route.calls] == ["Bearer t1", "Bearer t2"]


# --- POST /executions: not idempotent unless an execution id is given ----------


@pytest.mark.parametrize(
    "failure",
    [
        httpx.Response(429, headers={"Retry-After": "1"}),
        httpx.Response(503),
        httpx.ConnectError("refused"),
        httpx.ConnectTimeout("no route"),
    ],
    ids=["429", "503", "connect-error", "connect-timeout"],
)
async def test_execution_without_id_retried_when_certainly_not_processed(
    client: AzureSessionClient,
    router: respx.Router,
    sleeps: SleepRecorder,
    identifier: str,
    failure: object,
) -> None:
    route = router.post("/executions").mock(
        side_effect=[failure, httpx.Response(202, json=execution_body(identifier))]
    )

    execution = await client.start_execution(identifier, "1", timeout_seconds=5)

    assert execution.id == "exec-1"
    assert route.call_count == 2
    assert len(sleeps.delays) == 1


@pytest.mark.parametrize(
    ("failure", "error"),
    [
        (httpx.Response(500), SessionServerError),
        (httpx.Response(502), SessionServerError),
        (httpx.Response(504), SessionServerError),
        (httpx.ReadTimeout("slow"), SessionTimeout),
        (httpx.ReadError("reset"), SessionRequestError),
    ],
    ids=["500", "502", "504", "read-timeout", "read-error"],
)
async def test_execution_without_id_not_retried_when_maybe_processed(
    client: AzureSessionClient,
    router: respx.Router,
    sleeps: SleepRecorder,
    identifier: str,
    failure: object,
    error: type[Exception],
) -> None:
    route = router.post("/executions").mock(
        side_effect=[failure, httpx.Response(202, json=execution_body(identifier))]
    )

    with pytest.raises(error):
        await client.start_execution(identifier, "1", timeout_seconds=5)

    assert route.call_count == 1
    assert sleeps.delays == []


@pytest.mark.parametrize(
    "failure",
    [httpx.Response(500), httpx.Response(504), httpx.ReadTimeout("slow")],
    ids=["500", "504", "read-timeout"],
)
async def test_execution_with_id_is_looked_up_before_it_is_sent_again(
    client: AzureSessionClient,
    router: respx.Router,
    sleeps: SleepRecorder,
    identifier: str,
    failure: object,
) -> None:
    post = router.post("/executions").mock(
        side_effect=[failure, httpx.Response(202, json=execution_body(identifier, id="op-5"))]
    )
    probe = router.get("/executions/op-5").respond(404, json={"error": {"code": "NotFound"}})

    execution = await client.start_execution(
        identifier, "1", timeout_seconds=5, execution_id="op-5"
    )

    assert execution.id == "op-5"
    assert probe.call_count == 1
    assert post.call_count == 2
    assert all(c.request.headers["operation-id"] == "op-5" for c in post.calls)


async def test_execution_with_id_that_did_start_is_not_sent_twice(
    client: AzureSessionClient, router: respx.Router, sleeps: SleepRecorder, identifier: str
) -> None:
    post = router.post("/executions").mock(side_effect=[httpx.ReadTimeout("slow")])
    probe = router.get("/executions/op-6").respond(
        200, json=execution_body(identifier, id="op-6", status="Running")
    )

    execution = await client.start_execution(
        identifier, "1", timeout_seconds=5, execution_id="op-6"
    )

    assert execution.id == "op-6"
    assert post.call_count == 1
    assert probe.call_count == 1


async def test_sync_execute_follows_the_same_rule(
    client: AzureSessionClient, router: respx.Router, sleeps: SleepRecorder, identifier: str
) -> None:
    route = router.post("/executions").respond(500)
    with pytest.raises(SessionServerError):
        await client.execute(identifier, "1", timeout_seconds=5)
    assert route.call_count == 1
