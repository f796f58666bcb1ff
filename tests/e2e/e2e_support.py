"""Small HTTP helpers for the end-to-end tests (imported by name)."""

from __future__ import annotations

import enum
import time
from pathlib import Path
from typing import Any

import httpx

from devstack.stack import LocalStack, StackConfig, free_port

REPO = Path(__file__).resolve().parents[2]
TERMINAL = {"Completed", "Failed", "Terminated", "Canceled"}


class _StackKey(enum.Enum):
    STACK_KEY = "the stack's function key"


#: Default of ``StackClient(key=...)``: send the stack's own key (``stack.function_key``).
STACK_KEY = _StackKey.STACK_KEY


class StackClient:
    """Submits workflows to a running stack and polls their status.

    Sends ``stack.function_key`` as ``x-functions-key`` unless told otherwise:
    ``key="..."`` sends that key, ``key=None`` sends none (anonymous checks).
    """

    def __init__(self, stack: LocalStack, *, key: str | _StackKey | None = STACK_KEY) -> None:
        self.stack = stack
        if key is STACK_KEY:
            key = stack.function_key
        self.key = key
        headers = {"x-functions-key": key} if key else {}
        self.http = httpx.Client(base_url=stack.base_url, timeout=30.0, headers=headers)

    def __enter__(self) -> StackClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.http.close()

    def submit(self, body: dict[str, Any], **kwargs: Any) -> httpx.Response:
        return self.http.post("/api/workflows", json=body, **kwargs)

    def start(self, body: dict[str, Any], **kwargs: Any) -> str:
        response = self.submit(body, **kwargs)
        assert response.status_code == 202, response.text
        return response.json()["id"]

    def status(self, instance_id: str) -> dict[str, Any]:
        response = self.http.get(f"/api/workflowStatus/{instance_id}")
        assert response.status_code == 200, response.text
        return response.json()

    def status_management(self, instance_id: str, *, show_history: bool = False) -> dict[str, Any]:
        """The Durable management API's view of the instance (history included on request)."""
        params = {"showHistory": "true"} if show_history else {}
        response = self.http.get(
            f"/runtime/webhooks/durabletask/instances/{instance_id}",
            params=params,
            headers={"x-functions-key": self.stack.system_key},
        )
        assert response.status_code in (200, 202), response.text
        return response.json()

    def wait(self, instance_id: str, *, timeout: float = 60.0) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while True:
            status = self.status(instance_id)
            if status["runtimeStatus"] in TERMINAL:
                return status
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"{instance_id} still {status['runtimeStatus']} after {timeout} s: {status}\n"
                    f"--- runtime log ---\n{self.stack.log_tail('runtime')}"
                )
            time.sleep(0.1)

    def run(self, body: dict[str, Any], *, timeout: float = 60.0, **kwargs: Any) -> dict[str, Any]:
        return self.wait(self.start(body, **kwargs), timeout=timeout)


def example(name: str) -> str:
    """The source of examples/<name>/workflow.py."""
    return (REPO / "examples" / name / "workflow.py").read_text()


def make_stack(root: Path, **overrides: object) -> LocalStack:
    """A stack with its own ports, settings file, durable store and session directory."""
    config = StackConfig(
        state_dir=root,
        settings_path=root / "local.settings.json",
        runtime_port=free_port(),
        emulator_port=free_port(),
        log_to_files=True,
        **overrides,
    )
    return LocalStack(config)
