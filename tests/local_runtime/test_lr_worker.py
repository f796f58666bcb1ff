"""TimerScheduler against a fake store: wake-ups and store failures."""

from __future__ import annotations

import asyncio
import time

from local_runtime.loader import ActivityFunction
from local_runtime.store import WorkItem
from local_runtime.worker import ActivityWorker, TimerScheduler


class FlakyStore:
    """Messages as (visible_at, instance id); the first query fails."""

    def __init__(self, messages: list[tuple[float, str]]) -> None:
        self.messages = messages
        self.calls = 0

    def instances_with_messages(self, *, after: float, until: float) -> list[str]:
        self.calls += 1
        if self.calls == 1:
            raise OSError("disk I/O error")
        return [iid for at, iid in self.messages if after < at <= until]

    def next_visible_after(self, when: float) -> float | None:
        return min((at for at, _ in self.messages if at > when), default=None)


async def test_a_failed_store_query_does_not_skip_due_messages() -> None:
    store = FlakyStore([(time.time() - 5, "due")])
    woken: list[str] = []
    scheduler = TimerScheduler(store=store, on_due=woken.append)  # type: ignore[arg-type]
    scheduler.start(asyncio.get_running_loop())
    try:
        await asyncio.sleep(0.05)
        scheduler.wake()
        await asyncio.sleep(0.05)
    finally:
        await scheduler.stop()
    assert store.calls >= 2
    assert woken == ["due"]


class RecordingStore:
    """Records the results the worker tries to record."""

    def __init__(self) -> None:
        self.results: list[dict] = []

    def complete_work_item(self, item: WorkItem, event: dict) -> bool:
        self.results.append(event)
        return True


async def test_items_submitted_during_stop_are_neither_run_nor_recorded() -> None:
    calls: list[object] = []

    async def call(x: str | None) -> str:
        calls.append(x)
        return "null"

    store = RecordingStore()
    worker = ActivityWorker(
        store=store,  # type: ignore[arg-type]
        activities={
            "sync": ActivityFunction(name="sync", param="x", call=call),
            "async": ActivityFunction(name="async", param="x", call=call),
        },
        max_concurrency=2,
        on_recorded=lambda _: None,
    )
    worker.start(asyncio.get_running_loop())
    # e.g. from an episode that outlived the dispatcher's close timeout
    worker.submit([WorkItem(1, "i", "e", 0, "sync", "1"), WorkItem(2, "i", "e", 1, "async", "2")])
    await worker.stop()
    await asyncio.sleep(0.05)
    assert (calls, store.results) == ([], [])
