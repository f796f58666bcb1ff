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


COUNTING = (
    "import time\n\ndef run(payload):\n"
    "    with open('/mnt/data/starts.txt', 'a') as f:\n        f.write('x')\n"
    "    time.sleep(payload['seconds'])\n"
    "    return {'starts': len(open('/mnt/data/starts.txt').read())}\n"
)


def test_a_host_killed_inside_the_starting_activity_does_not_start_the_run_twice(
    tmp_path: Path,
) -> None:
    """RunExecution runs again after the restart: it finds its execution and watches it."""
    with make_stack(tmp_path) as stack, StackClient(stack) as api:
        body = {
            "workflowCode": COUNTING,
            "input": {"seconds": 1.2},
            "sessionStrategy": "reuse",
            "sessionId": "restart-once",
        }
        instance = api.start(body)
        time.sleep(0.6)  # inside RunExecution's fast window, the workflow running
        assert api.status(instance)["phase"] == "starting"
        stack.kill_runtime()
        time.sleep(0.3)
        stack.start_runtime()
        status = api.wait(instance, timeout=60)

        assert status["runtimeStatus"] == "Completed", status
        assert status["output"] == {"starts": 1}
        assert "(resumed)" in stack.log_tail("runtime", chars=200_000)
