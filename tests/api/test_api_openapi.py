"""The OpenAPI document: matches the live routes, resolves every $ref, describes real answers."""

from __future__ import annotations

import json
from typing import Any

import pytest
from api_support import body_of, request

from api import schemas
from api.openapi import openapi, openapi_document
from api.status import list_item, status_document
from orchestrator.errors import WorkflowRunError
from orchestrator.models import ErrorDoc, LimitDoc, Logs, Timings

HTTP_METHODS = {"get", "put", "post", "delete", "patch", "head", "options", "trace"}


@pytest.fixture(scope="module")
def document() -> dict[str, Any]:
    return openapi_document(server_url="https://myapp.example.net")


def live_routes(functions) -> dict[tuple[str, str], str]:
    """``(path, method) -> auth level`` of every HTTP trigger function_app registers."""
    routes = {}
    for fn in functions:
        trigger = fn.get_trigger()
        if trigger.type != "httpTrigger":
            continue
        for method in trigger.methods:
            key = (f"/api/{trigger.route}", str(method.value).lower())
            routes[key] = str(trigger.auth_level.value).lower()
    return routes


def test_every_live_route_is_documented_and_nothing_else(document, live_functions):
    live = live_routes(live_functions)
    documented = {
        (path, method)
        for path, item in document["paths"].items()
        for method in item
        if method in HTTP_METHODS
    }
    assert set(live) == documented
    assert len(live) == 9


def test_security_matches_each_route_auth_level(document, live_functions):
    schemes = document["components"]["securitySchemes"]
    assert schemes["functionKeyHeader"] == {
        "type": "apiKey",
        "in": "header",
        "name": "x-functions-key",
    }
    assert schemes["functionKeyQuery"] == {"type": "apiKey", "in": "query", "name": "code"}
    for (path, method), level in live_routes(live_functions).items():
        security = document["paths"][path][method]["security"]
        if level == "anonymous":
            assert security == [], path
        else:
            assert security == [{"functionKeyHeader": []}, {"functionKeyQuery": []}], path


def _refs(node: Any) -> list[str]:
    if isinstance(node, dict):
        found = [node["$ref"]] if isinstance(node.get("$ref"), str) else []
        return found + [ref for value in node.values() for ref in _refs(value)]
    if isinstance(node, list):
        return [ref for value in node for ref in _refs(value)]
    return []


def _resolve(document: dict[str, Any], ref: str) -> Any:
    assert ref.startswith("#/"), ref
    node: Any = document
    for part in ref[2:].split("/"):
        node = node[part.replace("~1", "/").replace("~0", "~")]
    return node


def test_the_document_is_structurally_valid_openapi_31(document):
    assert document["openapi"] == "3.1.0"
    assert document["info"]["title"] and document["info"]["version"]
    json.dumps(document)  # plain JSON
    refs = _refs(document)
    assert refs
    for ref in refs:
        assert isinstance(_resolve(document, ref), dict), ref
    assert "$defs" not in json.dumps(document)
    for path, item in document["paths"].items():
        assert path.startswith("/api/")
        for method, operation in item.items():
            assert operation["responses"], (path, method)
            names = {p["name"] for p in operation.get("parameters", []) if p["in"] == "path"}
            assert names == set(part[1:-1] for part in path.split("/") if part.startswith("{"))
            assert all(p["required"] for p in operation.get("parameters", []) if p["in"] == "path")
    operation_ids = [
        op["operationId"] for item in document["paths"].values() for op in item.values()
    ]
    assert len(operation_ids) == len(set(operation_ids))


def test_schemas_come_from_the_pydantic_models(document):
    components = document["components"]["schemas"]
    for name in (
        "WorkflowRequest",
        "CancelRequest",
        "Accepted",
        "WorkflowStatus",
        "WorkflowList",
        "Problem",
    ):
        assert name in components
    request_schema = components["WorkflowRequest"]
    assert "workflowCode" in request_schema["required"]
    assert request_schema["additionalProperties"] is False
    assert set(request_schema["properties"]) >= {"sessionStrategy", "timeoutSeconds"}
    post = document["paths"]["/api/workflows"]["post"]
    assert post["requestBody"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/WorkflowRequest"
    }
    assert "application/problem+json" in post["responses"]["400"]["content"]


async def test_the_endpoint_serves_the_document_with_the_request_origin():
    response = await openapi(request("GET", "/api/openapi.json"))
    assert response.status_code == 200
    body = body_of(response)
    assert body["servers"] == [{"url": "https://myapp.example.net"}]
    assert body["openapi"] == "3.1.0"


# --- the schemas describe what the handlers really send ----------------------------------


def failed_output() -> str:
    error = WorkflowRunError(
        ErrorDoc(
            type="ExecutionTimeout",
            message="killed",
            stage="running",
            logs=Logs(stdout_tail="o", stderr_tail="e"),
            execution_id="e1",
            limit=LimitDoc(name="AzureSession__MaxExecutionSeconds", seconds=210),
            timings=Timings(upload_ms=5, run_ms=210000, total_ms=210100),
        )
    )
    return f"Orchestrator function 'WorkflowOrchestrator' failed: {error}"


STATUS_CASES = [
    dict(runtime_status="Pending"),
    dict(runtime_status="Running", custom_status={"phase": "running", "executionId": "e1"}),
    dict(
        runtime_status="Completed",
        custom_status={"phase": "completed", "startedAt": "2025-01-01T12:00:00.250000+00:00"},
        output={
            "status": "succeeded",
            "result": {"x": 1},
            "executionId": "e1",
            "logs": {"stdoutTail": "", "stderrTail": ""},
            "timings": {"uploadMs": 1, "runMs": 2, "collectMs": 3, "totalMs": 6},
            "polls": 1,
        },
    ),
    dict(runtime_status="Failed", custom_status={"phase": "failed"}, output=failed_output()),
    dict(runtime_status="Failed", output="plain failure"),
    dict(runtime_status="Terminated", output='{"canceledBy": "anonymous", "reason": "r"}'),
]


@pytest.mark.parametrize("case", STATUS_CASES)
def test_status_answers_validate_against_the_published_schema(case):
    document = status_document(
        instance_id="inst1",
        created_time="2025-01-01T12:00:00Z",
        last_updated_time="2025-01-01T12:00:09Z",
        **case,
    )
    schemas.WorkflowStatus.model_validate(document)
    item = {**list_item(document), "statusUri": "https://x/api/workflowStatus/inst1"}
    schemas.WorkflowListItem.model_validate(item)


def test_run_routes_document_that_they_only_serve_the_callers_own_runs(document):
    paths = document["paths"]
    for path, method in [
        ("/api/workflowStatus/{instanceId}", "get"),
        ("/api/workflows/{instanceId}/cancel", "post"),
    ]:
        operation = paths[path][method]
        assert "another caller" in operation["responses"]["404"]["description"]
        assert "401" in operation["responses"]
        (param,) = [p for p in operation["parameters"] if p["name"] == "instanceId"]
        assert "owner tag" in param["description"]
    listing = paths["/api/workflows"]["get"]
    assert "own recent runs" in listing["summary"]
    assert "401" in listing["responses"]
