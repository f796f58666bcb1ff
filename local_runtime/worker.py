"""Activity executor and durable timer scheduler, both on the server's event loop.

Activities run concurrently up to host.json `maxConcurrentActivityFunctions`, each called
through the invoker (the worker's side of the call: `invocation`). A result is recorded with
the work item's deletion in one transaction, so a re-run after a crash is recorded at most
once.
The timer scheduler sleeps until the next message becomes visible (a durable timer) and
is woken when an episode adds one: no polling.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Mapping
from typing import Any

from local_runtime.events import EventType, event, format_time, utc_now
from local_runtime.invocation import ActivityFunction, InvocationError
from local_runtime.store import DurableStore, WorkItem

log = logging.getLogger("local_runtime.worker")


class ActivityWorker:
    """Runs activity work items and records their results."""

    def __init__(
        self,
        *,
        store: DurableStore,
        activities: Mapping[str, ActivityFunction],
        max_concurrency: int,
        on_recorded: Callable[[str], None],
        client_binding: Callable[[str | None], str] | None = None,
    ) -> None:
        self._store = store
        self._activities = activities
        #: task hub -> the durable client binding JSON, for activities that take a client
        self._client_binding = client_binding
        self._max = max_concurrency
        self._on_recorded = on_recorded
        self._loop: asyncio.AbstractEventLoop | None = None
        self._semaphore: asyncio.Semaphore | None = None
        self._inflight: set[int] = set()
        self._tasks: set[asyncio.Task[None]] = set()
        self._stopped = False

    def start(self, loop: asyncio.AbstractEventLoop) -> None:
        """Bind to the running loop."""
        self._loop = loop
        self._semaphore = asyncio.Semaphore(self._max)

    def submit(self, items: list[WorkItem]) -> None:
        """Queue work items; thread-safe, duplicates of running items are ignored."""
        if self._loop is None or self._loop.is_closed():
            return
        for item in items:
            self._loop.call_soon_threadsafe(self._spawn, item)

    async def stop(self) -> None:
        """Cancel running activities (their work items stay for the next start)."""
        self._stopped = True  # items submitted from now on wait for the next start
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    def _spawn(self, item: WorkItem) -> None:
        if self._stopped or item.id in self._inflight:
            return
        self._inflight.add(item.id)
        task = asyncio.get_running_loop().create_task(self._run(item))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _run(self, item: WorkItem) -> None:
        assert self._semaphore is not None
        try:
            async with self._semaphore:
                result = await self._invoke(item)
            try:
                recorded = await asyncio.to_thread(self._store.complete_work_item, item, result)
            except Exception:
                log.exception(
                    "instance %s: result of task #%d not recorded; it runs again at the next start",
                    item.instance_id,
                    item.task_id,
                )
                return
            if recorded:
                self._on_recorded(item.instance_id)
            else:
                log.info(
                    "instance %s: result of task #%d ignored (already recorded or finished)",
                    item.instance_id,
                    item.task_id,
                )
        finally:
            self._inflight.discard(item.id)

    async def _invoke(self, item: WorkItem) -> dict[str, Any]:
        """Run the activity; a TaskCompleted or TaskFailed event."""
        activity = self._activities.get(item.name)
        if activity is None:
            return _failed(
                item,
                f"Activity function '{item.name}' failed: the function doesn't exist, "
                "is disabled, or is not an activity function",
                None,
            )
        values = {}
        if activity.durable_client_param and self._client_binding is not None:
            values[activity.durable_client_param] = self._client_binding(activity.task_hub)
        try:
            encoded = await activity.call(item.input, values)
        except InvocationError as exc:
            reason = f"Activity function '{item.name}' failed: {exc.message}"
            log.info("instance %s: task #%d failed: %s", item.instance_id, item.task_id, reason)
            return _failed(item, reason, exc.stack_trace.strip() or None)
        return event(
            EventType.TASK_COMPLETED,
            format_time(utc_now()),
            TaskScheduledId=item.task_id,
            Result=encoded,
        )


def _failed(item: WorkItem, reason: str, details: str | None) -> dict[str, Any]:
    return event(
        EventType.TASK_FAILED,
        format_time(utc_now()),
        TaskScheduledId=item.task_id,
        Reason=reason,
        Details=details,
    )


class TimerScheduler:
    """Wakes instances when their messages (durable timers) become visible."""

    def __init__(self, *, store: DurableStore, on_due: Callable[[str], None]) -> None:
        self._store = store
        self._on_due = on_due
        self._loop: asyncio.AbstractEventLoop | None = None
        self._wakeup: asyncio.Event | None = None
        self._task: asyncio.Task[None] | None = None

    def start(self, loop: asyncio.AbstractEventLoop) -> None:
        """Start the scheduling task; the first pass wakes every instance with due messages."""
        self._loop = loop
        self._wakeup = asyncio.Event()
        self._task = loop.create_task(self._run())

    def wake(self) -> None:
        """A timer was added: recompute the next due time (thread-safe)."""
        if self._loop is not None and self._wakeup is not None and not self._loop.is_closed():
            self._loop.call_soon_threadsafe(self._wakeup.set)

    async def stop(self) -> None:
        """Stop the scheduling task."""
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)

    async def _run(self) -> None:
        assert self._wakeup is not None
        checked = 0.0
        while True:
            self._wakeup.clear()
            now = time.time()
            try:
                due = self._store.instances_with_messages(after=checked, until=now)
                upcoming = self._store.next_visible_after(now)
                checked = now
            except Exception:  # retried over the same window in a second
                log.exception("timer scheduler: store query failed")
                due, upcoming = [], time.time() + 1.0
            for instance_id in due:
                self._on_due(instance_id)
            timeout = None if upcoming is None else max(0.0, upcoming - time.time())
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wakeup.wait(), timeout)
