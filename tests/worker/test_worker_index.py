"""Azure's worker indexes and loads every function of function_app.py with the expected bindings."""

from __future__ import annotations

import uuid

import azure.functions as func
import pytest
from azure_functions_runtime import handle_event
from conftest import Served

from local_runtime import python_worker
from orchestrator import names

HTTP = {
    # name: (route, methods, authLevel, takes the durable client)
    "StartWorkflow": ("workflows", ["POST"], "FUNCTION", True),
    "ListWorkflows": ("workflows", ["GET"], "FUNCTION", True),
    "GetWorkflowStatus": ("workflowStatus/{instanceId}", ["GET"], "FUNCTION", True),
    "GetWorkflowTrace": ("workflows/{instanceId}/trace", ["GET"], "FUNCTION", True),
    "CancelWorkflow": ("workflows/{instanceId}/cancel", ["POST"], "FUNCTION", True),
    "Health": ("health", ["GET"], "ANONYMOUS", False),
    "OpenApi": ("openapi.json", ["GET"], "ANONYMOUS", False),
    "RunViewer": ("ui", ["GET"], "ANONYMOUS", False),
    "RunViewerAsset": ("ui/{asset}", ["GET"], "ANONYMOUS", False),
}


def test_the_worker_is_the_pinned_one_on_python_313() -> None:
    import sys

    assert sys.version_info[:2] == (3, 13)
    assert python_worker.worker_version() == "1.3.0"  # requirements.txt pins it
    assert func.__version__.startswith("2.")


def test_every_function_loads(served: Served) -> None:
    functions = served.worker.functions
    assert set(functions) == {*HTTP, *names.ORCHESTRATORS, *names.ACTIVITIES}
    assert len(functions) == len(HTTP) + len(names.ORCHESTRATORS) + len(names.ACTIVITIES)
    for name, function in functions.items():
        # the host addresses functions by this id (uuid5 of the name in the worker)
        assert function.function_id == str(uuid.uuid5(uuid.NAMESPACE_OID, name))


@pytest.mark.parametrize("name", sorted(HTTP))
def test_http_function_bindings(served: Served, name: str) -> None:
    route, methods, auth_level, has_client = HTTP[name]
    function = served.worker.functions[name]
    trigger = function.trigger
    assert (trigger["type"], trigger["name"]) == ("httpTrigger", "req")
    assert (trigger["route"], trigger["methods"], trigger["authLevel"]) == (
        route,
        methods,
        auth_level,
    )
    by_name = {b["name"]: b for b in function.bindings}
    assert by_name["$return"] == {"direction": "OUT", "type": "http", "name": "$return"}
    assert ("client" in by_name) is has_client
    if has_client:
        assert by_name["client"] == {"direction": "IN", "type": "durableClient", "name": "client"}
    # the typed BindingInfo the host also gets: direction numbers of FunctionRpc.proto
    assert function.binding_info["req"][:2] == ("httpTrigger", 0)
    assert function.binding_info["$return"][:2] == ("http", 1)


#: Activities that also take a durable client (to start or read an orchestration).
CLIENT_ACTIVITIES = {names.SCHEDULE_CALLBACK, names.DELIVER_CALLBACK}


def test_orchestrator_and_activity_bindings(served: Served) -> None:
    for name in names.ORCHESTRATORS:
        assert served.worker.functions[name].bindings == (
            {"direction": "IN", "type": "orchestrationTrigger", "name": "context"},
        )
    trigger = {"direction": "IN", "type": "activityTrigger", "name": "payload"}
    client = {"direction": "IN", "type": "durableClient", "name": "client"}
    for activity in names.ACTIVITIES:
        bindings = served.worker.functions[activity].bindings
        expected = [trigger, client] if activity in CLIENT_ACTIVITIES else [trigger]
        assert {tuple(sorted(b.items())) for b in bindings} == {
            tuple(sorted(b.items())) for b in expected
        }


def test_what_the_worker_will_pass_and_expect(served: Served) -> None:
    """The worker's own registry: parameter types it converts to, and return handling."""
    registry = handle_event._functions
    info = {fi.name: fi for fi in registry._functions.values()}
    start = info["StartWorkflow"]
    assert start.is_async and start.is_http_func and start.has_return
    assert start.input_types["req"].binding_name == "httpTrigger"
    assert start.input_types["req"].pytype is func.HttpRequest
    # DFApp re-annotates the client parameter as str: the worker passes the binding's JSON text
    assert start.input_types["client"].pytype is str
    assert start.return_type.binding_name == "http"
    assert start.return_type.pytype is func.HttpResponse
    orchestrator = info[names.ORCHESTRATOR]
    assert not orchestrator.is_async  # run in the worker's thread pool
    assert orchestrator.input_types["context"].binding_name == "orchestrationTrigger"
    assert orchestrator.return_type.binding_name == "orchestrationTrigger"
    for activity in names.ACTIVITIES:
        fi = info[activity]
        assert fi.is_async
        assert fi.input_types["payload"].binding_name == "activityTrigger"
        assert fi.input_types["payload"].pytype is str
        assert fi.return_type.binding_name == "activityTrigger"
