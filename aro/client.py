"""``WorkflowClient``: submit workflows, follow them to the end, cancel and list them (sync httpx).

Usage::

    from aro import Submission, WorkflowClient

    with WorkflowClient("http://127.0.0.1:7071", key=None) as client:
        accepted = client.submit(Submission.from_file("workflow.py", input={"name": "Ada"}))
        status = client.wait(accepted.id, timeout=600, on_update=print)
        print(status.output)

From async code use :class:`aro.AsyncWorkflowClient`, which has the same methods.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx

from aro import _protocol as proto
from aro.errors import AroError
from aro.models import Accepted, Submission, WorkflowPage, WorkflowStatus


class WorkflowClient:
    """A blocking client of the workflow API; one ``httpx.Client`` per instance.

    Parameters:
        url: the Functions host, e.g. ``http://127.0.0.1:7071`` (a trailing ``/api`` is fine).
        key: the function key, sent as ``x-functions-key``; None for anonymous hosts.
        timeout: seconds for each HTTP request.
        transport: an httpx transport, e.g. ``httpx.MockTransport`` in tests.
        sleep, clock: injected for tests and progress displays.
    """

    def __init__(
        self,
        url: str = proto.DEFAULT_URL,
        *,
        key: str | None = None,
        timeout: float = proto.DEFAULT_HTTP_TIMEOUT,
        transport: httpx.BaseTransport | None = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.url = proto.normalize_base_url(url)
        #: Injected time functions, shared with progress displays.
        self.sleep = sleep
        self.clock = clock
        self._http = httpx.Client(
            base_url=self.url,
            headers=proto.default_headers(key),
            timeout=timeout,
            transport=transport,
        )

    def __enter__(self) -> WorkflowClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the connection pool."""
        self._http.close()

    def _send(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        with proto.map_transport_errors(self.url):
            return self._http.request(method, path, **kwargs)

    def submit(self, submission: Submission, *, idempotency_key: str | None = None) -> Accepted:
        """Start a workflow; returns at once with its id (``202 Accepted``)."""
        response = self._send(
            "POST",
            proto.submit_path(),
            json=submission.to_body(),
            headers=proto.idempotency_headers(idempotency_key),
        )
        return proto.parse_accepted(response)

    def status(self, instance_id: str) -> WorkflowStatus:
        """The instance's current status (raises :class:`~aro.errors.NotFound` if unknown)."""
        return self._status(instance_id)[0]

    def _status(self, instance_id: str) -> tuple[WorkflowStatus, float | None]:
        return proto.parse_status(self._send("GET", proto.status_path(instance_id)))

    def trace(self, instance_id: str) -> list[dict[str, Any]]:
        """Every span of a finished run's agent trace, in end order (all pages)."""
        spans: list[dict[str, Any]] = []
        skip: int | None = 0
        while skip is not None:
            page = proto.parse_trace_page(
                self._send("GET", proto.trace_path(instance_id), params={"skip": skip})
            )
            spans += page["spans"]
            skip = page.get("nextSkip") if page.get("nextSkip") != skip else None
        return spans

    def cancel(self, instance_id: str, *, reason: str | None = None) -> WorkflowStatus:
        """Ask the server to cancel; :class:`~aro.errors.Conflict` if it already finished."""
        response = self._send(
            "POST", proto.cancel_path(instance_id), json=proto.cancel_body(reason)
        )
        return proto.parse_cancel(response, instance_id)

    def list(
        self,
        *,
        status: str | None = None,
        top: int | None = None,
        continuation_token: str | None = None,
    ) -> WorkflowPage:
        """One page of instances, newest first as the server orders them."""
        params = proto.list_params(status=status, top=top, continuation_token=continuation_token)
        return proto.parse_page(self._send("GET", proto.submit_path(), params=params))

    def iter_all(
        self, *, status: str | None = None, top: int | None = None
    ) -> Iterator[WorkflowStatus]:
        """Every instance, following ``continuationToken`` page after page."""
        token: str | None = None
        while True:
            page = self.list(status=status, top=top, continuation_token=token)
            yield from page.items
            token = proto.next_page_token(page, token)
            if token is None:
                return

    def wait(
        self,
        instance_id: str,
        *,
        timeout: float | None = None,
        poll_interval: float = proto.MAX_POLL_INTERVAL,
        on_update: Callable[[WorkflowStatus], None] | None = None,
        sleep: Callable[[float], None] | None = None,
    ) -> WorkflowStatus:
        """Poll until the instance is terminal and return its last status (whatever it is).

        Polls after 0.25 s, then 1.5 times longer each time up to ``poll_interval``.
        ``on_update`` gets each status whose runtime status or phase changed. Up to
        five transient failures in a row (no answer, 429, 5xx) are ridden out.
        Raises :class:`~aro.errors.WaitTimeout` after ``timeout`` seconds (None: never).
        """
        sleep = sleep or self.sleep
        state = proto.WaitState(instance_id, timeout, poll_interval, on_update, self.clock)
        while True:
            outcome: proto.PollOutcome
            try:
                outcome = self._status(instance_id)
            except AroError as exc:
                outcome = exc
            step = state.step(outcome)
            if isinstance(step, WorkflowStatus):
                return step
            sleep(step)

    def run(
        self,
        submission: Submission,
        *,
        idempotency_key: str | None = None,
        timeout: float | None = None,
        on_update: Callable[[WorkflowStatus], None] | None = None,
    ) -> Any:
        """Submit, wait and return the workflow's result; :class:`WorkflowFailed` otherwise."""
        accepted = self.submit(submission, idempotency_key=idempotency_key)
        status = self.wait(accepted.id, timeout=timeout, on_update=on_update)
        return proto.result_of(status)
