"""The I/O-free half of the client: URLs, headers, answer parsing and the polling schedule.

Both :class:`~aro.client.WorkflowClient` and :class:`~aro.async_client.AsyncWorkflowClient`
send what this module builds and hand every answer back to it, so they share behaviour.
"""

from __future__ import annotations

import contextlib
import email.utils
import json
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, TypeVar
from urllib.parse import quote

import httpx
from pydantic import BaseModel, ValidationError

from aro.errors import (
    STATUS_ERRORS,
    ApiError,
    AroError,
    ConnectionFailed,
    WaitTimeout,
    WorkflowFailed,
)
from aro.models import Accepted, Problem, WorkflowPage, WorkflowStatus

DEFAULT_URL = "http://127.0.0.1:7071"
DEFAULT_HTTP_TIMEOUT = 30.0
#: Adaptive polling: first wait, growth factor, longest wait (seconds).
INITIAL_POLL_INTERVAL = 0.25
POLL_BACKOFF = 1.5
MAX_POLL_INTERVAL = 2.0
#: Consecutive transient failures (no answer, 429, 5xx) tolerated while waiting.
MAX_POLL_FAILURES = 5
#: Longest throttling ``Retry-After`` honoured while waiting (seconds).
MAX_THROTTLE_WAIT = 30.0
USER_AGENT = "aro-client/0.1"
MAX_BODY_IN_MESSAGE = 500

ModelT = TypeVar("ModelT", bound=BaseModel)


def normalize_base_url(url: str) -> str:
    """``url`` without a trailing slash or ``/api``: the client appends ``/api/...`` itself."""
    url = url.strip().rstrip("/")
    if url.endswith("/api"):
        url = url[: -len("/api")]
    return url


def default_headers(key: str | None) -> dict[str, str]:
    """Headers on every request; the function key only when one is given."""
    headers = {"Accept": "application/json", "User-Agent": USER_AGENT}
    if key:
        headers["x-functions-key"] = key
    return headers


def submit_path() -> str:
    """Where submissions go (and where instances are listed)."""
    return "/api/workflows"


def status_path(instance_id: str) -> str:
    """The status endpoint of one instance."""
    return f"/api/workflowStatus/{quote(instance_id, safe='')}"


def cancel_path(instance_id: str) -> str:
    """The cancel endpoint of one instance."""
    return f"/api/workflows/{quote(instance_id, safe='')}/cancel"


def list_params(
    *, status: str | None, top: int | None, continuation_token: str | None
) -> dict[str, str]:
    """Query parameters of the list endpoint, only those given."""
    params: dict[str, str] = {}
    if status:
        params["status"] = status
    if top is not None:
        params["top"] = str(top)
    if continuation_token:
        params["continuationToken"] = continuation_token
    return params


def parse_retry_after(value: str | None) -> float | None:
    """``Retry-After`` as seconds: delta-seconds or an HTTP date; None if absent or garbled."""
    if not value:
        return None
    value = value.strip()
    with contextlib.suppress(ValueError):
        return max(0.0, float(value))
    with contextlib.suppress(TypeError, ValueError, IndexError):
        when = email.utils.parsedate_to_datetime(value)
        return max(0.0, when.timestamp() - time.time())
    return None


@contextlib.contextmanager
def map_transport_errors(url: str) -> Iterator[None]:
    """Turn httpx transport failures into :class:`ConnectionFailed` naming ``url``."""
    try:
        yield
    except httpx.TimeoutException as exc:
        raise ConnectionFailed(f"no answer from {url} in time ({exc!r})", url=url) from exc
    except httpx.TransportError as exc:
        raise ConnectionFailed(f"cannot reach {url}: {exc}", url=url) from exc


def _problem_of(response: httpx.Response) -> tuple[Problem, bool]:
    """The answer's problem document (and True), or one synthesized from its text (and False)."""
    try:
        document = response.json()
    except (json.JSONDecodeError, UnicodeDecodeError):
        document = None
    if isinstance(document, dict):
        with contextlib.suppress(ValidationError):
            problem = Problem.model_validate(document)
            if problem.title or problem.detail or problem.errors:
                return problem, True
    text = response.text.strip()[:MAX_BODY_IN_MESSAGE]
    synthesized = Problem(
        title=response.reason_phrase, status=response.status_code, detail=text or None
    )
    return synthesized, False


def raise_for_problem(response: httpx.Response) -> None:
    """Raise the matching :class:`ApiError` for a 4xx/5xx answer."""
    if response.status_code < 400:
        return
    cls = STATUS_ERRORS.get(response.status_code, ApiError)
    problem, from_api = _problem_of(response)
    raise cls(
        response.status_code,
        problem,
        retry_after=parse_retry_after(response.headers.get("Retry-After")),
        from_api=from_api,
    )


def parse_body(response: httpx.Response, model: type[ModelT]) -> ModelT:
    """A successful answer's JSON as ``model``; a garbled one becomes an :class:`AroError`."""
    raise_for_problem(response)
    try:
        return model.model_validate(response.json())
    except (json.JSONDecodeError, UnicodeDecodeError, ValidationError) as exc:
        text = response.text[:MAX_BODY_IN_MESSAGE]
        raise AroError(
            f"unexpected answer from {response.request.method} {response.request.url.path} "
            f"(HTTP {response.status_code}, not a {model.__name__}): {text}"
        ) from exc


def parse_accepted(response: httpx.Response) -> Accepted:
    """The 202 answer to a submission, with ``Location`` and ``Retry-After`` folded in."""
    accepted = parse_body(response, Accepted)
    updates: dict[str, Any] = {}
    if accepted.location is None and "Location" in response.headers:
        updates["location"] = response.headers["Location"]
    retry_after = parse_retry_after(response.headers.get("Retry-After"))
    if retry_after is not None:
        updates["retry_after"] = retry_after
    return accepted.model_copy(update=updates) if updates else accepted


def parse_status(response: httpx.Response) -> tuple[WorkflowStatus, float | None]:
    """A status answer (200, or 202 while running) and its ``Retry-After`` hint."""
    return parse_body(response, WorkflowStatus), parse_retry_after(
        response.headers.get("Retry-After")
    )


def parse_page(response: httpx.Response) -> WorkflowPage:
    """One page of the instance list."""
    return parse_body(response, WorkflowPage)


def is_transient(exc: BaseException) -> bool:
    """True for failures worth another poll: no answer, 429 or 5xx."""
    if isinstance(exc, ConnectionFailed):
        return True
    return isinstance(exc, ApiError) and exc.is_transient


@dataclass
class PollSchedule:
    """Adaptive poll delays: start short, grow by ``factor``, never beyond ``maximum``.

    A server ``Retry-After`` hint is honoured loosely: it can lengthen a wait, but only up
    to ``maximum``, so a generic "retry in 10 s" never makes a short workflow feel slow.
    """

    initial: float = INITIAL_POLL_INTERVAL
    factor: float = POLL_BACKOFF
    maximum: float = MAX_POLL_INTERVAL
    _current: float = field(init=False, default=0.0)

    def __post_init__(self) -> None:
        if not self.maximum > 0:  # a zero wait would hammer the server in a tight loop
            raise ValueError(f"the poll interval must be positive, not {self.maximum!r}")
        self.initial = min(max(self.initial, 0.0), self.maximum)
        self._current = self.initial

    def next_delay(self, retry_after: float | None = None) -> float:
        """The delay before the next poll."""
        delay = self._current
        if retry_after is not None:
            delay = max(delay, min(retry_after, self.maximum))
        self._current = min(self._current * self.factor, self.maximum)
        return delay


#: What one status poll gave: the status and its ``Retry-After`` hint, or the error it raised.
PollOutcome = tuple[WorkflowStatus, float | None] | AroError


@dataclass
class WaitState:
    """The whole ``wait`` loop minus the I/O, so the sync and async clients cannot drift apart.

    Each client polls, hands the outcome to :meth:`step` and sleeps what it returns,
    until :meth:`step` returns the terminal status.
    """

    instance_id: str
    timeout: float | None
    poll_interval: float
    on_update: Callable[[WorkflowStatus], None] | None
    clock: Callable[[], float]
    schedule: PollSchedule = field(init=False)
    started: float = field(init=False)
    last: WorkflowStatus | None = None
    failures: int = 0
    max_failures: int = MAX_POLL_FAILURES

    def __post_init__(self) -> None:
        self.schedule = PollSchedule(maximum=self.poll_interval)
        self.started = self.clock()

    def step(self, outcome: PollOutcome) -> WorkflowStatus | float:
        """The terminal status to return, or the seconds to sleep before polling again.

        Raises a non-transient error at once, a transient one when too many came in a
        row, and :class:`WaitTimeout` when no time is left.
        """
        if isinstance(outcome, AroError):
            if not is_transient(outcome):
                raise outcome
            delay = self.failed(outcome)
        else:
            status, hint = outcome
            self.observe(status)
            if status.is_terminal:
                return status
            delay = self.schedule.next_delay(hint)
        bounded = self.bounded(delay)
        if bounded is None:
            raise WaitTimeout(self.instance_id, waited=self.elapsed(), status=self.last)
        return bounded

    def elapsed(self) -> float:
        """Seconds since waiting began."""
        return self.clock() - self.started

    def remaining(self) -> float | None:
        """Seconds left before the client gives up, or None without a timeout."""
        return None if self.timeout is None else self.timeout - self.elapsed()

    def observe(self, status: WorkflowStatus) -> None:
        """Record a fresh status; report it when the runtime status or phase changed."""
        self.failures = 0
        changed = self.last is None or _shown(self.last) != _shown(status)
        self.last = status
        if changed and self.on_update is not None:
            self.on_update(status)

    def failed(self, exc: AroError) -> float:
        """Count a transient failure; re-raise when too many came in a row; the delay to wait."""
        self.failures += 1
        if self.failures > self.max_failures:
            raise exc
        retry_after = exc.retry_after if isinstance(exc, ApiError) else None
        delay = self.schedule.next_delay()
        if retry_after is not None:
            delay = max(delay, min(retry_after, MAX_THROTTLE_WAIT))
        return delay

    def bounded(self, delay: float) -> float | None:
        """``delay`` trimmed to the time left, or None when no time is left at all."""
        remaining = self.remaining()
        if remaining is None:
            return delay
        if remaining <= 0:
            return None
        return min(delay, remaining)


def _shown(status: WorkflowStatus) -> tuple[Any, ...]:
    """What a display shows of a status: a change in any of it is reported."""
    steps = status.progress.steps if status.progress is not None else None
    return status.runtime_status, status.phase, steps


def trace_path(instance_id: str) -> str:
    """``/api/workflows/{id}/trace``."""
    return f"{submit_path()}/{quote(instance_id, safe='')}/trace"


def parse_trace_page(response: httpx.Response) -> dict[str, Any]:
    """A page of ``GET .../trace`` as plain JSON (spans are open-ended documents)."""
    raise_for_problem(response)
    try:
        document = response.json()
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise AroError(f"unexpected answer for a trace: {response.text[:200]}") from exc
    if not isinstance(document, dict) or not isinstance(document.get("spans"), list):
        raise AroError(f"unexpected answer for a trace: {response.text[:200]}")
    return document


def idempotency_headers(key: str | None) -> dict[str, str] | None:
    """The ``Idempotency-Key`` header of a submission, when a key is given."""
    return {"Idempotency-Key": key} if key else None


def cancel_body(reason: str | None) -> dict[str, str] | None:
    """The JSON body of a cancel request (none without a reason)."""
    return {"reason": reason} if reason else None


def next_page_token(page: WorkflowPage, token: str | None) -> str | None:
    """The token of the page after ``page``; None at the end (or if the server repeats itself)."""
    if not page.continuation_token or page.continuation_token == token:
        return None
    return page.continuation_token


def result_of(status: WorkflowStatus) -> Any:
    """The output of a completed run; :class:`WorkflowFailed` for any other terminal status."""
    if not status.succeeded:
        raise WorkflowFailed(status)
    return status.output


def parse_cancel(response: httpx.Response, instance_id: str) -> WorkflowStatus:
    """The 202 answer to a cancel request: a status document, completed from what we know."""
    raise_for_problem(response)
    try:
        document = response.json()
    except (json.JSONDecodeError, UnicodeDecodeError):
        document = None
    if not isinstance(document, dict):
        document = {}
    document.setdefault("instanceId", instance_id)
    document.setdefault("runtimeStatus", "Unknown")
    try:
        return WorkflowStatus.model_validate(document)
    except ValidationError as exc:
        raise AroError(f"unexpected answer to cancel {instance_id}: {response.text[:200]}") from exc
