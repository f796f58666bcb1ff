"""Helpers shared by the local_runtime tests (ids, clients, polling, history traces)."""

from __future__ import annotations

import socket
import time
import uuid
from pathlib import Path
from typing import Any

import httpx

from local_runtime.testing import RunningRuntime

APP_DIR = Path(__file__).parent / "apps"
APP = "scenarios_app:app"
TERMINAL = {"Completed", "Failed", "Terminated", "Canceled"}


def new_id(prefix: str = "t") -> str:
    """A unique instance id per test."""
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


def http_client() -> httpx.Client:
    """A client with TCP_NODELAY (no 40 ms Nagle stalls on keep-alive POSTs)."""
    transport = httpx.HTTPTransport(socket_options=[(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)])
    return httpx.Client(timeout=20, transport=transport)


def wait_instance(rt: RunningRuntime, instance_id: str, *, timeout: float = 10.0) -> Any:
    """Poll the store until the instance finishes; returns the Instance row."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        instance = rt.runtime.store.get_instance(instance_id)
        if instance is not None and instance.status in TERMINAL:
            return instance
        time.sleep(0.01)
    raise AssertionError(
        f"{instance_id} did not finish: {rt.runtime.store.get_instance(instance_id)}"
    )


def wait_status(client: httpx.Client, url: str, *, timeout: float = 10.0) -> httpx.Response:
    """Poll a statusQueryGetUri until it stops answering 202."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        response = client.get(url)
        if response.status_code != 202:
            return response
        time.sleep(0.01)
    raise AssertionError(f"{url} still running")


def trace(rt: RunningRuntime, instance_id: str) -> list[tuple[str, Any]]:
    """The history as (event name, task id) pairs, without Orchestrator* markers."""
    names = {
        0: "ExecutionStarted", 1: "ExecutionCompleted", 3: "ExecutionTerminated",
        4: "TaskScheduled", 5: "TaskCompleted", 6: "TaskFailed",
        7: "SubOrchestrationInstanceCreated", 8: "SubOrchestrationInstanceCompleted",
        9: "SubOrchestrationInstanceFailed", 10: "TimerCreated", 11: "TimerFired",
        15: "EventRaised",
    }  # fmt: skip
    out = []
    for ev in rt.runtime.store.get_history(instance_id):
        if ev["EventType"] in (12, 13):
            continue
        task_id = ev.get("TaskScheduledId", ev.get("TimerId"))
        if ev["EventType"] in (4, 7, 10):
            task_id = ev["EventId"]
        out.append((names[ev["EventType"]], task_id))
    return out
