"""Engine scenarios from the reference's verified traces, run by the real library."""

from __future__ import annotations

import json
import time

from lr_helpers import new_id, trace, wait_instance

from local_runtime.testing import RunningRuntime


def start(rt: RunningRuntime, name: str, value: object = None, *, instance_id: str | None = None):
    """Start an orchestration directly on the runtime; returns its id."""
    return rt.runtime.start_new(
        name,
        instance_id=instance_id or new_id(name),
        input_json=None if value is None else json.dumps(value),
    )


def output(instance) -> object:
    return json.loads(instance.output) if instance.output is not None else None


def test_activity(rt: RunningRuntime) -> None:
    iid = start(rt, "o_hello", "World")
    inst = wait_instance(rt, iid)
    assert (inst.status, output(inst)) == ("Completed", "Hello World!")
    assert trace(rt, iid) == [
        ("ExecutionStarted", None),
        ("TaskScheduled", 0),
        ("TaskCompleted", 0),
        ("ExecutionCompleted", None),
    ]


def test_an_activity_with_a_durable_client_starts_another_orchestration(
    rt: RunningRuntime,
) -> None:
    parent = wait_instance(rt, start(rt, "o_starts_another", "Ada"))
    assert parent.status == "Completed", parent
    child = wait_instance(rt, output(parent))
    assert (child.status, output(child)) == ("Completed", "Hello Ada!")


def test_chaining_sync_and_async_activities(rt: RunningRuntime) -> None:
    inst = wait_instance(rt, start(rt, "o_chain"))
    assert output(inst) == ["Hello Tokyo!", "Hello Seattle!", "Hello London!"]


def test_caught_failure_sees_reason_and_details(rt: RunningRuntime) -> None:
    inst = wait_instance(rt, start(rt, "o_caught"))
    assert inst.status == "Completed"
    text = output(inst)
    assert text.startswith("caught: Activity function 'boom' failed: ValueError: boom x \n ")
    assert "Traceback" in text


def test_uncaught_activity_failure_fails_instance(rt: RunningRuntime) -> None:
    inst = wait_instance(rt, start(rt, "o_uncaught"))
    assert inst.status == "Failed"
    assert output(inst).startswith(
        "Orchestrator function 'o_uncaught' failed: Activity function 'boom' failed: "
        "ValueError: boom y"
    )
    completed = [e for e in rt.runtime.store.get_history(inst.instance_id) if e["EventType"] == 1]
    assert completed[0]["OrchestrationStatus"] == "Failed"
    assert "ValueError" in completed[0]["FailureDetails"]


def test_orchestrator_exception_out_of_proc_data(rt: RunningRuntime) -> None:
    inst = wait_instance(rt, start(rt, "o_raise"))
    assert inst.status == "Failed"
    assert output(inst) == "Orchestrator function 'o_raise' failed: orchestrator says no"


def test_plain_library_exception(rt: RunningRuntime) -> None:
    inst = wait_instance(rt, start(rt, "o_bad_yield"))
    assert inst.status == "Failed"
    assert output(inst).startswith("Orchestrator function 'o_bad_yield' failed: ")


def test_retry_success_takes_timer_and_reattempt_ids(rt: RunningRuntime) -> None:
    iid = start(rt, "o_retry", {"key": new_id(), "fail": 1, "max": 3})
    inst = wait_instance(rt, iid)
    assert output(inst) == ["ok after 2", "Hello after!"]
    assert trace(rt, iid) == [
        ("ExecutionStarted", None),
        ("TaskScheduled", 0),
        ("TaskFailed", 0),
        ("TimerCreated", 1),
        ("TimerFired", 1),
        ("TaskScheduled", 2),
        ("TaskCompleted", 2),
        ("TaskScheduled", 3),
        ("TaskCompleted", 3),
        ("ExecutionCompleted", None),
    ]


def test_retry_exhausted_needs_one_more_timer(rt: RunningRuntime) -> None:
    iid = start(rt, "o_retry", {"key": new_id(), "fail": 9, "max": 2})
    inst = wait_instance(rt, iid)
    assert output(inst) == [
        "gave up: Activity function 'flaky' failed: RuntimeError: attempt 2 failed ",
        "Hello after!",
    ]
    assert trace(rt, iid) == [
        ("ExecutionStarted", None),
        ("TaskScheduled", 0),
        ("TaskFailed", 0),
        ("TimerCreated", 1),
        ("TimerFired", 1),
        ("TaskScheduled", 2),
        ("TaskFailed", 2),
        ("TimerCreated", 3),
        ("TimerFired", 3),
        ("TaskScheduled", 4),
        ("TaskCompleted", 4),
        ("ExecutionCompleted", None),
    ]


def test_timer_fires_at_its_time(rt: RunningRuntime) -> None:
    iid = start(rt, "o_timer", 0.3)
    inst = wait_instance(rt, iid)
    assert 0.3 <= output(inst) < 0.4
    assert trace(rt, iid) == [
        ("ExecutionStarted", None),
        ("TimerCreated", 0),
        ("TimerFired", 0),
        ("ExecutionCompleted", None),
    ]


def test_fan_out_results_in_call_order(rt: RunningRuntime) -> None:
    names = [f"n{i}" for i in range(8)]
    iid = start(rt, "o_fanout", names)
    inst = wait_instance(rt, iid)
    assert output(inst) == [f"Hello {n}!" for n in names]
    scheduled = [t for name, t in trace(rt, iid) if name == "TaskScheduled"]
    assert scheduled == list(range(8))


def test_timer_vs_activity_activity_wins_and_timer_is_cancelled(rt: RunningRuntime) -> None:
    iid = start(rt, "o_race", {"activity_seconds": 0.01, "timeout_seconds": 5})
    inst = wait_instance(rt, iid)
    assert output(inst) == {"winner": "activity", "value": 0.01}
    assert ("TimerCreated", 0) in trace(rt, iid)
    assert ("TaskCompleted", 1) in trace(rt, iid)
    assert not rt.runtime.store.due_messages(iid, now=1e12)  # the timer message is gone


def test_timer_vs_activity_timer_wins(rt: RunningRuntime) -> None:
    iid = start(rt, "o_race", {"activity_seconds": 2, "timeout_seconds": 0.1})
    inst = wait_instance(rt, iid)
    assert output(inst) == {"winner": "timer"}
    assert rt.runtime.store.pending_work_items() == [] or all(
        w.instance_id != iid for w in rt.runtime.store.pending_work_items()
    )


def test_external_event_and_custom_status(rt: RunningRuntime) -> None:
    iid = start(rt, "o_approval")
    for _ in range(200):
        inst = rt.runtime.store.get_instance(iid)
        if inst.status == "Running":
            break
    import time

    time.sleep(0.05)
    inst = rt.runtime.store.get_instance(iid)
    assert json.loads(inst.custom_status) == {"stage": "waiting"}
    rt.runtime.raise_event(iid, "Approval", json.dumps({"by": "me"}))
    inst = wait_instance(rt, iid)
    assert output(inst) == {"approved": {"by": "me"}}
    assert json.loads(inst.custom_status) == {"stage": "done"}
    assert ("EventRaised", None) in trace(rt, iid)


def test_event_raised_before_the_wait_is_kept(rt: RunningRuntime) -> None:
    iid = new_id("early")
    rt.runtime.start_new("o_approval", instance_id=iid, input_json=None)
    rt.runtime.raise_event(iid, "Approval", "1")
    assert output(wait_instance(rt, iid)) == {"approved": 1}


def test_continue_as_new_restarts_with_new_input_and_fresh_history(rt: RunningRuntime) -> None:
    iid = start(rt, "o_counter", 0)
    inst = wait_instance(rt, iid)
    assert (inst.status, output(inst)) == ("Completed", 3)
    history = rt.runtime.store.get_history(iid)
    started = [e for e in history if e["EventType"] == 0]
    assert len(started) == 1 and started[0]["Input"] == "3"


def test_sub_orchestrations(rt: RunningRuntime) -> None:
    iid = start(rt, "o_parent")
    inst = wait_instance(rt, iid)
    result = output(inst)
    assert result["a"] == {"child": "Hello A!", "parent": iid}
    assert result["b"] == {"child": "Hello B!", "parent": iid}
    assert result["failed"] == "Orchestrator function 'o_child' failed: child failed "
    assert trace(rt, iid)[1:3] == [
        ("SubOrchestrationInstanceCreated", 0),
        ("SubOrchestrationInstanceCompleted", 0),
    ]
    child = rt.runtime.store.get_instance(f"{iid}:b")
    assert child.status == "Completed" and child.parent_instance_id == iid
    assert rt.runtime.store.get_instance(f"{iid}:0").status == "Completed"


def test_sub_orchestration_with_retry(rt: RunningRuntime) -> None:
    iid = start(rt, "o_parent_retry", {"key": new_id(), "fail": 1})
    inst = wait_instance(rt, iid)
    assert (inst.status, output(inst)) == ("Completed", "ok after 2")
    assert trace(rt, iid)[1:-1] == [
        ("SubOrchestrationInstanceCreated", 0),
        ("SubOrchestrationInstanceFailed", 0),
        ("TimerCreated", 1),
        ("TimerFired", 1),
        ("SubOrchestrationInstanceCreated", 2),
        ("SubOrchestrationInstanceCompleted", 2),
    ]
    assert rt.runtime.store.get_instance(f"{iid}:0").status == "Failed"
    assert rt.runtime.store.get_instance(f"{iid}:2").status == "Completed"


def test_non_generator_orchestrator(rt: RunningRuntime) -> None:
    inst = wait_instance(rt, start(rt, "o_plain", "x"))
    assert output(inst) == {"plain": "x"}


def test_non_determinism_fails_with_clear_message(rt: RunningRuntime) -> None:
    import scenarios_app

    scenarios_app.NONDET["replayed"] = False
    inst = wait_instance(rt, start(rt, "o_nondeterministic"))
    assert inst.status == "Failed"
    message = output(inst)
    assert message.startswith("Non-deterministic workflow detected: task #0")
    assert "activity 'hello'" in message and "activity 'ahello'" in message


def test_terminate_running_instance(rt: RunningRuntime) -> None:
    iid = start(rt, "o_approval")
    rt.runtime.terminate(iid, "enough")
    inst = wait_instance(rt, iid)
    assert (inst.status, output(inst)) == ("Terminated", "enough")
    assert trace(rt, iid)[-1] == ("ExecutionTerminated", None)


def test_duplicate_completion_is_recorded_once(rt: RunningRuntime) -> None:
    from local_runtime.store import NewMessage

    iid = start(rt, "o_approval")
    import time

    time.sleep(0.05)
    # a stray second result for a task id that does not exist / already completed
    rt.runtime.store.enqueue(
        NewMessage(
            instance_id=iid,
            event={"EventType": 5, "EventId": -1, "IsPlayed": False,
                   "Timestamp": "2020-01-01T00:00:00.000000Z", "TaskScheduledId": 0,
                   "Result": "1"},
        )
    )  # fmt: skip
    rt.runtime.dispatcher.notify(iid)
    rt.runtime.raise_event(iid, "Approval", "2")
    inst = wait_instance(rt, iid)
    assert output(inst) == {"approved": 2}
    assert [n for n, _ in trace(rt, iid)].count("TaskCompleted") == 0


def test_work_item_result_recorded_once(rt: RunningRuntime) -> None:
    iid = start(rt, "o_race", {"activity_seconds": 3, "timeout_seconds": 5})
    import time

    for _ in range(100):
        items = [w for w in rt.runtime.store.pending_work_items() if w.instance_id == iid]
        if items:
            break
        time.sleep(0.01)
    item = items[0]
    done = {"EventType": 5, "EventId": -1, "IsPlayed": False,
            "Timestamp": "2020-01-01T00:00:00.000000Z", "TaskScheduledId": item.task_id,
            "Result": "7"}  # fmt: skip
    assert rt.runtime.store.complete_work_item(item, done) is True
    assert rt.runtime.store.complete_work_item(item, done) is False
    rt.runtime.dispatcher.notify(iid)
    assert output(wait_instance(rt, iid)) == {"winner": "activity", "value": 7}


def test_child_id_still_in_use_fails_the_task_not_the_parent(rt: RunningRuntime) -> None:
    busy = start(rt, "o_approval")
    while rt.runtime.store.get_instance(busy).status != "Running":
        time.sleep(0.01)
    iid = start(rt, "o_child_collision", busy)
    inst = wait_instance(rt, iid)
    assert (inst.status, output(inst)) == (
        "Completed",
        f"Sub-orchestration 'o_approval' could not start: An instance with ID '{busy}' "
        "already exists and is Running. ",
    )
    assert rt.runtime.store.get_instance(busy).status in ("Pending", "Running")
    rt.runtime.terminate(busy, "done")
