"""SIGKILL the Functions host mid-run; a restart on the same store finishes the run once."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from e2e_support import StackClient, make_stack

pytestmark = pytest.mark.e2e

SLOW = (
    "import time\n\ndef run(payload):\n"
    "    time.sleep(payload['seconds'])\n    return {'slept': payload['seconds']}\n"
)


def test_killed_host_resumes_the_run_and_completes_it_once(tmp_path: Path) -> None:
    with make_stack(tmp_path) as stack, StackClient(stack) as api:
        instance = api.start({"workflowCode": SLOW, "input": {"seconds": 2}})
        deadline = time.monotonic() + 15
        while api.status(instance)["phase"] != "running":
            assert time.monotonic() < deadline, api.status(instance)
            time.sleep(0.05)

        stack.kill_runtime()  # the sandboxed run goes on in the emulator meanwhile
        time.sleep(0.5)
        stack.start_runtime()
        status = api.wait(instance, timeout=60)

        assert status["runtimeStatus"] == "Completed", status
        assert status["output"] == {"slept": 2}
        management = api.status_management(instance, show_history=True)
        kinds = [event["EventType"] for event in management["historyEvents"]]
        assert kinds.count("ExecutionCompleted") == 1
        # Every task result was recorded once, however often an activity ran.
        completed = [
            e["TaskScheduledId"]
            for e in management["historyEvents"]
            if e["EventType"] == "TaskCompleted"
        ]
        assert len(completed) == len(set(completed))
