"""``AsyncWorkflowClient``: the same methods as :class:`aro.WorkflowClient`, for asyncio code.

Usage::

    async with AsyncWorkflowClient("http://127.0.0.1:7071") as client:
        accepted = await client.submit(Submission(workflow_code=code, input={"x": 1}))
        status = await client.wait(accepted.id, timeout=600)
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import httpx

from aro import _protocol as proto
from aro.errors import AroError
from aro.models import Accepted, Submission, WorkflowPage, WorkflowStatus


class AsyncWorkflowClient:
    """A non-blocking client of the workflow API; one ``httpx.AsyncClient`` per instance."""

    def __init__(
        self,
        url: str = proto.DEFAULT_URL,
        *,
        key: str | None = None,
        timeout: float = proto.DEFAULT_HTTP_TIMEOUT,
        transport: httpx.AsyncBaseTransport | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.url = proto.normalize_base_url(url)
        self._sleep = sleep
        self._clock = clock
        self._http = httpx.AsyncClient(
            base_url=self.url,
            headers=proto.default_headers(key),
            timeout=timeout,
            transport=transport,
        )

    async def __aenter__(self) -> AsyncWorkflowClient:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the connection pool."""
        await self._http.aclose()

    async def _send(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        with proto.map_transport_errors(self.url):
            return await self._http.request(method, path, **kwargs)

    async def submit(
        self, submission: Submission, *, idempotency_key: str | None = None
    ) -> Accepted:
        """Start a workflow; returns at once with its id (``202 Accepted``)."""
        response = await self._send(
            "POST",
            proto.submit_path(),
            json=submission.to_body(),
            headers=proto.idempotency_headers(idempotency_key),
        )
        return proto.parse_accepted(response)

    async def status(self, instance_id: str) -> WorkflowStatus:
        """The instance's current status (raises :class:`~aro.errors.NotFound` if unknown)."""
        return (await self._status(instance_id))[0]

    async def _status(self, instance_id: str) -> tuple[WorkflowStatus, float | None]:
        return proto.parse_status(await self._send("GET", proto.status_path(instance_id)))

    async def trace(self, instance_id: str) -> list[dict[str, Any]]:
        """Every span of a finished run's agent trace, in end order (all pages)."""
        spans: list[dict[str, Any]] = []
        skip: int | None = 0
        while skip is not None:
            page = proto.parse_trace_page(
                await self._send("GET", proto.trace_path(instance_id), params={"skip": skip})
            )
            spans += page["spans"]
            skip = page.get("nextSkip") if page.get("nextSkip") != skip else None
        return spans

    async def cancel(self, instance_id: str, *, reason: str | None = None) -> WorkflowStatus:
        """Ask the server to cancel; :class:`~aro.errors.Conflict` if it already finished."""
        response = await self._send(
            "POST", proto.cancel_path(instance_id), json=proto.cancel_body(reason)
        )
        return proto.parse_cancel(response, instance_id)

    async def list(
        self,
        *,
        status: str | None = None,
        top: int | None = None,
        continuation_token: str | None = None,
    ) -> WorkflowPage:
        """One page of instances."""
        params = proto.list_params(status=status, top=top, continuation_token=continuation_token)
        return proto.parse_page(await self._send("GET", proto.submit_path(), params=params))

    async def iter_all(
        self, *, status: str | None = None, top: int | None = None
    ) -> AsyncIterator[WorkflowStatus]:
        """Every instance, following ``continuationToken`` page after page."""
        token: str | None = None
        while True:
            page = await self.list(status=status, top=top, continuation_token=token)
            for item in page.items:
                yield item
            token = proto.next_page_token(page, token)
            if token is None:
                return

    async def wait(
        self,
        instance_id: str,
        *,
        timeout: float | None = None,
        poll_interval: float = proto.MAX_POLL_INTERVAL,
        on_update: Callable[[WorkflowStatus], None] | None = None,
    ) -> WorkflowStatus:
        """Poll until the instance is terminal; see :meth:`aro.WorkflowClient.wait`."""
        state = proto.WaitState(instance_id, timeout, poll_interval, on_update, self._clock)
        while True:
            outcome: proto.PollOutcome
            try:
                outcome = await self._status(instance_id)
            except AroError as exc:
                outcome = exc
            step = state.step(outcome)
            if isinstance(step, WorkflowStatus):
                return step
            await self._sleep(step)

    async def run(
        self,
        submission: Submission,
        *,
        idempotency_key: str | None = None,
        timeout: float | None = None,
        on_update: Callable[[WorkflowStatus], None] | None = None,
    ) -> Any:
        """Submit, wait and return the workflow's result; :class:`WorkflowFailed` otherwise."""
        accepted = await self.submit(submission, idempotency_key=idempotency_key)
        status = await self.wait(accepted.id, timeout=timeout, on_update=on_update)
        return proto.result_of(status)
