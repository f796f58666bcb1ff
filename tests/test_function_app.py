"""function_app.py registers exactly the expected functions, triggers and routes."""

from __future__ import annotations

import importlib.util
import json
import sys
import uuid
from pathlib import Path
from unittest.mock import AsyncMock

import azure.durable_functions as df
import azure.functions as func
import pytest

import settings as settings_module
from orchestrator import names

APP_PATH = Path(__file__).resolve().parents[1] / "function_app.py"


def load_fresh_app():
    """A private copy of function_app (``get_functions()`` may be called once per app)."""
    name = f"function_app_under_test_{uuid.uuid4().hex}"
    spec = importlib.util.spec_from_file_location(name, APP_PATH)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    finally:
        sys.modules.pop(name, None)
    return module


@pytest.fixture(scope="module")
def functions():
    module = load_fresh_app()
    return {f.get_function_name(): f for f in module.app.get_functions()}


def test_registered_names(functions):
    assert set(functions) == {
        "StartWorkflow",
        "ListWorkflows",
        "GetWorkflowStatus",
        "GetWorkflowTrace",
        "CancelWorkflow",
        "Health",
        "OpenApi",
        "RunViewer",
        "RunViewerAsset",
        *names.ORCHESTRATORS,
        *names.ACTIVITIES,
    }
    assert names.ACTIVITIES == (
        "UploadWorkflowFiles",
        "StartExecution",
        "GetExecution",
        "DownloadOutput",
        "CleanupSession",
        "StopSession",
        "RunExecution",
        "WatchExecution",
        "ScheduleCallback",
        "DeliverCallback",
    )
    assert names.ORCHESTRATOR == "WorkflowOrchestrator"


def test_http_routes_methods_and_auth(functions):
    start = functions["StartWorkflow"].get_trigger()
    assert start.type == "httpTrigger"
    assert start.route == "workflows"
    assert [str(m.value) for m in start.methods] == ["POST"]
    assert str(start.auth_level.value).lower() == "function"
    status = functions["GetWorkflowStatus"].get_trigger()
    assert status.type == "httpTrigger"
    assert status.route == "workflowStatus/{instanceId}"
    assert [str(m.value) for m in status.methods] == ["GET"]
    assert str(status.auth_level.value).lower() == "function"
    for name in ("StartWorkflow", "ListWorkflows", "GetWorkflowStatus", "CancelWorkflow"):
        trigger = functions[name].get_trigger()
        assert str(trigger.auth_level.value).lower() == "function", name
        types = {b.type for b in functions[name].get_bindings()}
        assert types == {"httpTrigger", "http", "durableClient"}
    cancel = functions["CancelWorkflow"].get_trigger()
    assert cancel.route == "workflows/{instanceId}/cancel"
    assert [str(m.value) for m in cancel.methods] == ["POST"]
    listing = functions["ListWorkflows"].get_trigger()
    assert listing.route == "workflows"
    assert [str(m.value) for m in listing.methods] == ["GET"]


def test_health_and_openapi_are_anonymous_and_need_no_durable_client(functions):
    for name, route in (("Health", "health"), ("OpenApi", "openapi.json")):
        trigger = functions[name].get_trigger()
        assert trigger.route == route
        assert [str(m.value) for m in trigger.methods] == ["GET"]
        assert str(trigger.auth_level.value).lower() == "anonymous"
        assert {b.type for b in functions[name].get_bindings()} == {"httpTrigger", "http"}


def test_orchestrator_and_activity_triggers(functions):
    assert functions["WorkflowOrchestrator"].get_trigger().type == "orchestrationTrigger"
    for name in names.ACTIVITIES:
        trigger = functions[name].get_trigger()
        assert trigger.type == "activityTrigger"
        assert trigger.name == "payload"


def test_import_reads_no_settings(monkeypatch):
    def boom():
        raise AssertionError("settings read at import")

    monkeypatch.setattr(settings_module, "get_settings", boom)
    load_fresh_app()


async def test_starter_wiring_reads_settings_in_the_handler(monkeypatch):
    module = load_fresh_app()
    fn = module.StartWorkflow.build().get_user_function()
    calls = []

    def fake_settings():
        calls.append(1)
        return settings_module.SessionSettings()

    import api.caller

    monkeypatch.setattr(api.caller, "get_settings", fake_settings)
    monkeypatch.setattr(
        df.DurableOrchestrationClient, "start_new", AsyncMock(return_value="wired1")
    )
    client_json = json.dumps(
        {
            "taskHubName": "Hub",
            "creationUrls": {},
            "rpcBaseUrl": "http://127.0.0.1:9/durabletask/",
            "managementUrls": {
                "id": "INSTANCEID",
                "statusQueryGetUri": "http://localhost:7071/x/INSTANCEID",
            },
        }
    )
    request = func.HttpRequest(
        "POST",
        "http://127.0.0.1:7071/api/workflows",
        headers={"content-type": "application/json"},
        body=json.dumps({"workflowCode": "def run(p):\n    return p\n"}).encode(),
    )
    response = await fn(req=request, client=client_json)
    assert response.status_code == 202
    assert calls == [1]
    assert response.headers["Location"] == "http://127.0.0.1:7071/api/workflowStatus/wired1"


async def test_activity_wiring_round_trips_json_text(monkeypatch):
    from activities import clients

    module = load_fresh_app()
    fn = module.StopSession.build().get_user_function()
    deleted = []

    class Client:
        async def delete_session(self, identifier):
            deleted.append(identifier)

    import activities.session_activities as acts

    monkeypatch.setattr(
        acts,
        "get_settings",
        lambda: settings_module.SessionSettings(session_identifier_key="k"),
    )
    clients.set_client_factory(lambda s: Client())
    try:
        payload = json.dumps(
            {"instance_id": "i1", "session": {"strategy": "ephemeral", "owner": "anonymous"}}
        )
        result = await fn(payload=payload)
    finally:
        clients.set_client_factory(None)
    assert json.loads(result)["stopped"] is True
    assert len(deleted) == 1
    assert deleted[0] not in result


def test_the_deployed_app_needs_nothing_that_funcignore_leaves_out() -> None:
    """Azure gets the repo minus .funcignore: the app (and its activities) must import there."""
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent
    probe = (
        "import os, sys, function_app, runner\n"
        "root = os.getcwd()\n"
        "files = [getattr(m, '__file__', None) or '' for m in list(sys.modules.values())]\n"
        "tops = {os.path.relpath(f, root).split(os.sep)[0] for f in files\n"
        "        if f.startswith(root + os.sep) and os.sep + '.venv' + os.sep not in f}\n"
        "print('\\n'.join(sorted(tops)))\n"
    )
    used = subprocess.run(
        [sys.executable, "-c", probe], cwd=root, capture_output=True, text=True, check=True
    ).stdout.split()
    ignored = {
        line.strip().rstrip("/")
        for line in (root / ".funcignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    }

    assert "function_app.py" in used
    assert sorted(set(used) & ignored) == []
