"""A full pool through the real stack: a run waits for a free session, or fails clearly."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from e2e_support import StackClient, make_stack

pytestmark = pytest.mark.e2e

SLEEP = "import time\n\ndef run(payload):\n    time.sleep(payload['s'])\n    return payload['s']\n"


def _wait_for_phase(api: StackClient, instance: str, phase: str) -> None:
    deadline = time.monotonic() + 20
    while api.status(instance)["phase"] != phase:
        assert time.monotonic() < deadline, api.status(instance)
        time.sleep(0.05)


def test_a_run_waits_for_a_free_session_then_completes(tmp_path: Path) -> None:
    fast_retries = {
        "AzureSession__PoolExhaustedRetrySeconds": "1",
        "AzureSession__PoolExhaustedRetries": "5",
    }
    stack = make_stack(tmp_path, emulator_args=("--max-sessions", "1"), runtime_env=fast_retries)
    with stack, StackClient(stack) as api:
        first = api.start({"workflowCode": SLEEP, "input": {"s": 2}})
        _wait_for_phase(api, first, "running")
        second = api.start({"workflowCode": SLEEP, "input": {"s": 0}})
        _wait_for_phase(api, second, "waiting_for_session")

        # The first run deletes its ephemeral session when it ends, freeing the slot.
        assert api.wait(first)["output"] == 2
        done = api.wait(second, timeout=60)

    assert done["runtimeStatus"] == "Completed", done
    assert done["output"] == 0


def test_a_full_pool_without_retries_fails_with_a_clear_error(tmp_path: Path) -> None:
    no_retries = {"AzureSession__PoolExhaustedRetries": "0"}
    stack = make_stack(tmp_path, emulator_args=("--max-sessions", "1"), runtime_env=no_retries)
    with stack, StackClient(stack) as api:
        first = api.start({"workflowCode": SLEEP, "input": {"s": 3}})
        _wait_for_phase(api, first, "running")
        second = api.run({"workflowCode": SLEEP, "input": {"s": 0}})

    assert second["runtimeStatus"] == "Failed"
    assert second["error"]["type"] == "SessionPoolExhausted"
    assert second["error"]["hint"]
