"""A Durable Functions app covering every engine scenario, used by the local_runtime tests."""

from __future__ import annotations

import asyncio
import json
import time
from datetime import timedelta

import azure.durable_functions as df
import azure.functions as func

app = df.DFApp(http_auth_level=func.AuthLevel.ANONYMOUS)

#: attempts per key, so a flaky activity fails a given number of times per test
ATTEMPTS: dict[str, int] = {}


# --- activities -------------------------------------------------------------------------


@app.activity_trigger(input_name="name")
def hello(name: str) -> str:
    """Sync activity."""
    return f"Hello {name}!"


@app.activity_trigger(input_name="payload")
async def ahello(payload: dict) -> dict:
    """Async activity taking one dict."""
    await asyncio.sleep(0)
    return {"greeting": f"Hello {payload['name']}!"}


@app.activity_trigger(input_name="payload")
def boom(payload: str) -> str:
    """Always fails."""
    raise ValueError(f"boom {payload}")


@app.activity_trigger(input_name="payload")
def flaky(payload: dict) -> str:
    """Fails the first `fail` attempts for `key`."""
    key = payload["key"]
    ATTEMPTS[key] = ATTEMPTS.get(key, 0) + 1
    if ATTEMPTS[key] <= payload["fail"]:
        raise RuntimeError(f"attempt {ATTEMPTS[key]} failed")
    return f"ok after {ATTEMPTS[key]}"


@app.activity_trigger(input_name="name")
@app.durable_client_input(client_name="client")
async def start_greeter(name: str, client: df.DurableOrchestrationClient) -> str:
    """An activity with a durable client: starts another orchestration (as on Azure)."""
    return await client.start_new("o_hello", client_input=name)


@app.activity_trigger(input_name="seconds")
async def slow(seconds: float) -> float:
    """Sleeps, to race against timers and to be killed mid-run."""
    await asyncio.sleep(seconds)
    return seconds


@app.activity_trigger(input_name="seconds")
def slow_sync(seconds: float) -> float:
    """Blocking sleep in a thread."""
    time.sleep(seconds)
    return seconds


CONCURRENCY = {"now": 0, "max": 0}


@app.activity_trigger(input_name="seconds")
async def tracked(seconds: float) -> int:
    """Records how many of these run at once."""
    CONCURRENCY["now"] += 1
    CONCURRENCY["max"] = max(CONCURRENCY["max"], CONCURRENCY["now"])
    try:
        await asyncio.sleep(seconds)
    finally:
        CONCURRENCY["now"] -= 1
    return CONCURRENCY["max"]


# --- orchestrators ----------------------------------------------------------------------


@app.orchestration_trigger(context_name="context")
def o_hello(context: df.DurableOrchestrationContext):
    """One activity."""
    name = context.get_input()
    return (yield context.call_activity("hello", name))


@app.orchestration_trigger(context_name="context")
def o_starts_another(context: df.DurableOrchestrationContext):
    """An activity starts an orchestration this one does not wait for."""
    return (yield context.call_activity("start_greeter", context.get_input()))


@app.orchestration_trigger(context_name="context")
def o_chain(context: df.DurableOrchestrationContext):
    """Chaining, a sync and an async activity."""
    a = yield context.call_activity(hello, "Tokyo")
    b = yield context.call_activity("ahello", {"name": "Seattle"})
    c = yield context.call_activity("hello", "London")
    return [a, b["greeting"], c]


@app.orchestration_trigger(context_name="context")
def o_caught(context: df.DurableOrchestrationContext):
    """A failing activity whose error the orchestrator catches."""
    try:
        yield context.call_activity("boom", "x")
    except Exception as exc:
        return f"caught: {exc}"
    return "not reached"


@app.orchestration_trigger(context_name="context")
def o_uncaught(context: df.DurableOrchestrationContext):
    """A failing activity that fails the orchestration."""
    yield context.call_activity("boom", "y")
    return "not reached"


@app.orchestration_trigger(context_name="context")
def o_raise(context: df.DurableOrchestrationContext):
    """Raises in orchestrator code."""
    yield context.call_activity("hello", "x")
    raise RuntimeError("orchestrator says no")


@app.orchestration_trigger(context_name="context")
def o_retry(context: df.DurableOrchestrationContext):
    """call_activity_with_retry; input {key, fail, max}."""
    args = context.get_input()
    opts = df.RetryOptions(
        first_retry_interval_in_milliseconds=50, max_number_of_attempts=args["max"]
    )
    try:
        result = yield context.call_activity_with_retry("flaky", opts, args)
    except Exception as exc:
        result = f"gave up: {str(exc).splitlines()[0]}"
    after = yield context.call_activity("hello", "after")
    return [result, after]


@app.orchestration_trigger(context_name="context")
def o_timer(context: df.DurableOrchestrationContext):
    """A durable timer of `input` seconds."""
    seconds = context.get_input()
    start = context.current_utc_datetime
    yield context.create_timer(start + timedelta(seconds=seconds))
    return (context.current_utc_datetime - start).total_seconds()


@app.orchestration_trigger(context_name="context")
def o_fanout(context: df.DurableOrchestrationContext):
    """Fan-out / fan-in."""
    names = context.get_input()
    results = yield context.task_all([context.call_activity("hello", n) for n in names])
    return results


@app.orchestration_trigger(context_name="context")
def o_race(context: df.DurableOrchestrationContext):
    """Timer vs activity: input {activity_seconds, timeout_seconds}."""
    args = context.get_input()
    timer = context.create_timer(
        context.current_utc_datetime + timedelta(seconds=args["timeout_seconds"])
    )
    work = context.call_activity("slow", args["activity_seconds"])
    winner = yield context.task_any([timer, work])
    if winner == work:
        timer.cancel()
        return {"winner": "activity", "value": work.result}
    return {"winner": "timer"}


@app.orchestration_trigger(context_name="context")
def o_approval(context: df.DurableOrchestrationContext):
    """Waits for an external event, with custom status."""
    context.set_custom_status({"stage": "waiting"})
    answer = yield context.wait_for_external_event("Approval")
    context.set_custom_status({"stage": "done"})
    return {"approved": answer}


@app.orchestration_trigger(context_name="context")
def o_counter(context: df.DurableOrchestrationContext):
    """continue_as_new until the count reaches 3."""
    n = context.get_input() or 0
    yield context.call_activity("hello", str(n))
    if n < 3:
        context.continue_as_new(n + 1)
        return None
    return n


@app.orchestration_trigger(context_name="context")
def o_child(context: df.DurableOrchestrationContext):
    """A sub-orchestration."""
    name = context.get_input()
    greeting = yield context.call_activity("hello", name)
    if name == "fail":
        raise ValueError("child failed")
    return {"child": greeting, "parent": context.parent_instance_id}


@app.orchestration_trigger(context_name="context")
def o_parent(context: df.DurableOrchestrationContext):
    """Calls o_child twice, once with an explicit id, and catches a failing child."""
    a = yield context.call_sub_orchestrator("o_child", "A")
    b = yield context.call_sub_orchestrator("o_child", "B", context.instance_id + ":b")
    try:
        yield context.call_sub_orchestrator("o_child", "fail")
        failed = None
    except Exception as exc:
        failed = str(exc).splitlines()[0]
    return {"a": a, "b": b, "failed": failed}


@app.orchestration_trigger(context_name="context")
def o_child_collision(context: df.DurableOrchestrationContext):
    """Starts a child with the id of an instance that is still running (the input)."""
    try:
        yield context.call_sub_orchestrator("o_approval", None, context.get_input())
    except Exception as exc:
        return str(exc).splitlines()[0]
    return "started"


@app.orchestration_trigger(context_name="context")
def o_child_flaky(context: df.DurableOrchestrationContext):
    """A child that fails while `flaky` fails."""
    return (yield context.call_activity("flaky", context.get_input()))


@app.orchestration_trigger(context_name="context")
def o_parent_retry(context: df.DurableOrchestrationContext):
    """call_sub_orchestrator_with_retry around a child that fails once."""
    opts = df.RetryOptions(first_retry_interval_in_milliseconds=20, max_number_of_attempts=3)
    return (
        yield context.call_sub_orchestrator_with_retry("o_child_flaky", opts, context.get_input())
    )


@app.orchestration_trigger(context_name="context")
def o_nondeterministic(context: df.DurableOrchestrationContext):
    """Calls a different activity on replay (reads a module flag)."""
    name = "hello" if not NONDET["replayed"] else "ahello"
    NONDET["replayed"] = True
    yield context.call_activity(name, "x")
    yield context.call_activity("hello", "y")
    return "done"


NONDET = {"replayed": False}


@app.orchestration_trigger(context_name="context")
def o_slow(context: df.DurableOrchestrationContext):
    """Two blocking activities; for kill/restart tests."""
    seconds = context.get_input()
    a = yield context.call_activity("slow_sync", seconds)
    b = yield context.call_activity("slow", seconds)
    return {"total": a + b}


@app.orchestration_trigger(context_name="context")
def o_tracked(context: df.DurableOrchestrationContext):
    """Fan-out of `count` tracked activities of `seconds` each."""
    args = context.get_input()
    yield context.task_all(
        [context.call_activity("tracked", args["seconds"]) for _ in range(args["count"])]
    )
    return "ok"


@app.orchestration_trigger(context_name="context")
def o_bad_yield(context: df.DurableOrchestrationContext):
    """Yields something that is not a task: the library raises a plain exception."""
    yield 5


@app.orchestration_trigger(context_name="context")
def o_plain(context: df.DurableOrchestrationContext):
    """Not a generator: the return value is the output right away."""
    return {"plain": context.get_input()}


# --- HTTP ---------------------------------------------------------------------------------


@app.route(route="orchestrators/{functionName}", methods=["POST"])
@app.durable_client_input(client_name="client")
async def http_start(req: func.HttpRequest, client: df.DurableOrchestrationClient):
    """Starts any orchestrator; body is the input; optional ?instanceId=."""
    body = req.get_body()
    payload = json.loads(body) if body else None
    instance_id = await client.start_new(
        req.route_params["functionName"], req.params.get("instanceId"), payload
    )
    return client.create_check_status_response(req, instance_id)


@app.route(route="status/{instanceId}", methods=["GET"])
@app.durable_client_input(client_name="client")
async def http_status(req: func.HttpRequest, client: df.DurableOrchestrationClient):
    """Returns a compact status; 404 for unknown ids."""
    status = await client.get_status(req.route_params["instanceId"], show_input=True)
    if not status:
        return func.HttpResponse("not found", status_code=404)
    body = {
        "runtimeStatus": status.runtime_status.value if status.runtime_status else None,
        "output": status.output,
        "input": status.input_,
        "customStatus": status.custom_status,
    }
    return func.HttpResponse(json.dumps(body), mimetype="application/json")


@app.route(route="echo/{a}/{b?}", methods=["GET", "POST"])
def echo(req: func.HttpRequest) -> func.HttpResponse:
    """Echoes the request, a sync function."""
    body = {
        "method": req.method,
        "url": req.url,
        "params": dict(req.params),
        "route": dict(req.route_params),
        "headers": {"x-test": req.headers.get("x-test")},
        "body": req.get_body().decode(),
    }
    return func.HttpResponse(
        json.dumps(body), status_code=201, headers={"X-Echo": "1"}, mimetype="application/json"
    )


@app.route(route="unserializable", methods=["GET"])
def unserializable(req: func.HttpRequest) -> func.HttpResponse:
    """Returns a value the worker cannot turn into a response (its annotation is loadable)."""
    return {1, 2}  # type: ignore[return-value]


@app.route(route="client/{op}/{instanceId}", methods=["POST"])
@app.durable_client_input(client_name="client")
async def http_client_ops(req: func.HttpRequest, client: df.DurableOrchestrationClient):
    """Exercises client calls: raise, terminate, purge, list."""
    op = req.route_params["op"]
    instance_id = req.route_params["instanceId"]
    if op == "raise":
        await client.raise_event(instance_id, "Approval", json.loads(req.get_body()))
        result = "raised"
    elif op == "terminate":
        await client.terminate(instance_id, "stop it")
        result = "terminated"
    elif op == "purge":
        result = (await client.purge_instance_history(instance_id)).instances_deleted
    elif op == "list":
        statuses = await client.get_status_by(instance_id_prefix=instance_id)
        result = sorted(s.instance_id for s in statuses)
    elif op == "wait":
        return await client.wait_for_completion_or_create_check_status_response(
            req, instance_id, timeout_in_milliseconds=5000
        )
    else:
        return func.HttpResponse("bad op", status_code=400)
    return func.HttpResponse(json.dumps({"result": result}), mimetype="application/json")
