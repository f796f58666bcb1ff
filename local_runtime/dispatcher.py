"""Runs orchestrator episodes: one at a time per instance, instances in parallel.

Orchestrator code is synchronous user code, so episodes run in a thread pool and the
event loop (HTTP, activities, timers) stays responsive. `notify(instance_id)` is
thread-safe; a notification during a running episode marks the instance dirty so it runs
again right after, which serializes episodes per instance without a lock per instance.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor

from local_runtime.engine import run_episode
from local_runtime.events import EventType, utc_now
from local_runtime.invocation import OrchestratorFunction
from local_runtime.store import DurableStore, WorkItem

log = logging.getLogger("local_runtime.dispatcher")


class OrchestrationDispatcher:
    """Schedules episodes on a thread pool, serialized per instance."""

    def __init__(
        self,
        *,
        store: DurableStore,
        orchestrators: Mapping[str, OrchestratorFunction],
        on_work_items: Callable[[list[WorkItem]], None],
        on_timers_added: Callable[[], None],
        max_workers: int,
    ) -> None:
        self._store = store
        self._orchestrators = orchestrators
        self._on_work_items = on_work_items
        self._on_timers_added = on_timers_added
        self._pool = ThreadPoolExecutor(max_workers, thread_name_prefix="orchestrator")
        self._lock = threading.Lock()
        self._running: set[str] = set()
        self._dirty: set[str] = set()
        self._closed = False
        self._idle = threading.Condition(self._lock)

    def notify(self, instance_id: str) -> None:
        """Something arrived for the instance: run an episode now or right after this one."""
        with self._lock:
            if self._closed:
                return
            if instance_id in self._running:
                self._dirty.add(instance_id)
                return
            self._running.add(instance_id)
        self._pool.submit(self._drain, instance_id)

    def close(self, *, timeout: float = 5.0) -> None:
        """Stop accepting work and wait for running episodes."""
        with self._lock:
            self._closed = True
            self._dirty.clear()
            self._idle.wait_for(lambda: not self._running, timeout=timeout)
        self._pool.shutdown(wait=False, cancel_futures=True)

    def _drain(self, instance_id: str) -> None:
        while True:
            again = False
            try:
                again = self._episode(instance_id)
            except Exception:
                log.exception("instance %s: episode failed inside the runtime", instance_id)
            with self._lock:
                if not self._closed and (again or instance_id in self._dirty):
                    self._dirty.discard(instance_id)
                    continue
                self._running.discard(instance_id)
                self._dirty.discard(instance_id)
                self._idle.notify_all()
                return

    def _episode(self, instance_id: str) -> bool:
        """Run one episode; True if it should run again (more messages may be due)."""
        instance = self._store.get_instance(instance_id)
        if instance is None:
            return False
        messages = self._store.due_messages(instance_id, now=time.time())
        if instance.status == "Suspended":
            messages = [
                m for m in messages if m.event["EventType"] == EventType.EXECUTION_TERMINATED
            ]
        if not messages:
            return False
        history = self._store.get_history(instance_id)
        result = run_episode(
            instance=instance,
            history=history,
            messages=messages,
            orchestrators=self._orchestrators,
            now=utc_now(),
        )
        work = self._store.commit_episode(result.commit)
        if work:
            self._on_work_items(work)
        if result.timers_added:
            self._on_timers_added()
        for other in result.notify:
            if other != instance_id:
                self.notify(other)
        return (
            result.more
            or result.timers_added
            or instance_id in result.notify
            or bool(result.commit.consumed_message_ids and not result.commit.append_events)
        )
