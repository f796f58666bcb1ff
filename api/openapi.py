"""``OpenApi``: an OpenAPI 3.1 document generated from the pydantic models.

Schemas come from ``model_json_schema`` (via ``models_json_schema``, so shared
models are emitted once under ``components/schemas``); paths come from
:data:`OPERATIONS`, which a test compares with the routes ``function_app``
registers, in both directions.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import azure.functions as func
from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from api import schemas
from api.health import VERSION
from api.idempotency import IDEMPOTENCY_HEADER, REPLAYED_HEADER
from api.listing import RUNTIME_STATUSES
from api.models import CancelRequest, WorkflowRequest
from api.problems import PROBLEM_CONTENT_TYPE, json_response
from api.starter import origin_of

REF_TEMPLATE = "#/components/schemas/{model}"
ROUTE_PREFIX = "/api"
FUNCTION_KEY_SECURITY = [{"functionKeyHeader": []}, {"functionKeyQuery": []}]

REQUEST_MODELS: tuple[type[BaseModel], ...] = (WorkflowRequest, CancelRequest)
RESPONSE_MODELS: tuple[type[BaseModel], ...] = (
    schemas.Accepted,
    schemas.WorkflowStatus,
    schemas.WorkflowList,
    schemas.CancelAccepted,
    schemas.TracePage,
    schemas.Health,
    schemas.Problem,
)


@dataclass(frozen=True)
class Response:
    """One documented answer."""

    description: str
    model: type[BaseModel] | None = None
    headers: tuple[str, ...] = ()
    #: Media types of a non-JSON answer (the run viewer's page and assets).
    media: tuple[str, ...] = ()


@dataclass(frozen=True)
class Operation:
    """One HTTP function: its route (as registered), method and documentation."""

    function: str
    route: str
    method: str
    summary: str
    anonymous: bool = False
    body: type[BaseModel] | None = None
    body_required: bool = True
    parameters: tuple[dict[str, Any], ...] = ()
    responses: dict[int, Response] = field(default_factory=dict)


def _problem(description: str) -> Response:
    return Response(description, schemas.Problem)


def _query(name: str, description: str, schema: dict[str, Any]) -> dict[str, Any]:
    return {
        "name": name,
        "in": "query",
        "required": False,
        "description": description,
        "schema": schema,
    }


INSTANCE_ID_PARAM = {
    "name": "instanceId",
    "in": "path",
    "required": True,
    "description": "The id from the 202 answer. It starts with the caller's owner tag: only "
    "the caller that started the run can use it; for anyone else it is unknown (404).",
    "schema": {"type": "string", "pattern": "^[A-Za-z0-9_-]{1,100}$"},
}
OWNER_401 = _problem("AzureSession__OwnerHeader is set and the request lacks that header.")

OPERATIONS: tuple[Operation, ...] = (
    Operation(
        function="StartWorkflow",
        route="workflows",
        method="post",
        summary="Start a workflow run.",
        body=WorkflowRequest,
        parameters=(
            {
                "name": IDEMPOTENCY_HEADER,
                "in": "header",
                "required": False,
                "description": "Repeat-safe submission: the same key and body answer with the "
                "same instance (header Idempotent-Replayed: true).",
                "schema": {"type": "string", "pattern": "^[\\x21-\\x7e]{1,200}$"},
            },
        ),
        responses={
            202: Response(
                "Accepted; poll statusUri. The id carries the caller's owner tag.",
                schemas.Accepted,
                headers=("Location", "Retry-After", REPLAYED_HEADER),
            ),
            400: _problem("Invalid request (every bad field listed) or Idempotency-Key."),
            401: OWNER_401,
            409: _problem("The Idempotency-Key was used with a different request."),
            413: _problem("Body too large."),
            415: _problem("Not application/json."),
            500: _problem("Invalid AzureSession__ settings."),
            503: _problem("The durable backend did not start the run."),
        },
    ),
    Operation(
        function="ListWorkflows",
        route="workflows",
        method="get",
        summary="The caller's own recent runs, newest first, in pages.",
        parameters=(
            {
                **_query(
                    "status",
                    "Runtime statuses (Durable's names), comma-separated: Running,Completed.",
                    {"type": "array", "items": {"enum": list(RUNTIME_STATUSES)}, "minItems": 1},
                ),
                "style": "form",
                "explode": False,
            },
            _query(
                "top",
                "Page size.",
                {"type": "integer", "minimum": 1, "maximum": 100, "default": 20},
            ),
            _query(
                "days",
                "Only runs created in the last N days.",
                {"type": "integer", "minimum": 1, "maximum": 90, "default": 7},
            ),
            _query(
                "continuationToken",
                "From the previous page (of the same caller and status filter).",
                {"type": "string"},
            ),
        ),
        responses={
            200: Response("A page of the caller's own runs.", schemas.WorkflowList),
            400: _problem("A bad query parameter (named in errors), or another caller's token."),
            401: OWNER_401,
            500: _problem("Invalid AzureSession__ settings."),
            503: _problem("The durable backend did not answer."),
        },
    ),
    Operation(
        function="GetWorkflowStatus",
        route="workflowStatus/{instanceId}",
        method="get",
        summary="Phase, output or structured error of one of the caller's runs.",
        parameters=(INSTANCE_ID_PARAM,),
        responses={
            200: Response("The run's status.", schemas.WorkflowStatus),
            400: _problem("Malformed instance id."),
            401: OWNER_401,
            404: _problem("Unknown instance id, or another caller's run."),
            500: _problem("Invalid AzureSession__ settings."),
            503: _problem("The durable backend did not answer."),
        },
    ),
    Operation(
        function="GetWorkflowTrace",
        route="workflows/{instanceId}/trace",
        method="get",
        summary="The agent trace of one of the caller's finished runs, in pages.",
        parameters=(
            INSTANCE_ID_PARAM,
            _query(
                "skip",
                "Spans to skip (nextSkip of the previous page).",
                {"type": "integer", "minimum": 0, "maximum": 1_000_000_000, "default": 0},
            ),
            _query(
                "top",
                "Page size.",
                {"type": "integer", "minimum": 1, "maximum": 2000, "default": 500},
            ),
        ),
        responses={
            200: Response("A page of the run's spans.", schemas.TracePage),
            400: _problem("Malformed instance id or paging parameter."),
            401: OWNER_401,
            404: _problem("Unknown instance id, or another caller's run."),
            500: _problem("Invalid AzureSession__ settings."),
            503: _problem("The durable backend did not answer."),
        },
    ),
    Operation(
        function="CancelWorkflow",
        route="workflows/{instanceId}/cancel",
        method="post",
        summary="Cancel one of the caller's runs: terminate it and delete its session.",
        body=CancelRequest,
        body_required=False,
        parameters=(INSTANCE_ID_PARAM,),
        responses={
            202: Response(
                "Cancel accepted; the status becomes Terminated / canceled.",
                schemas.CancelAccepted,
                headers=("Location", "Retry-After"),
            ),
            400: _problem("Malformed instance id or body."),
            401: OWNER_401,
            404: _problem("Unknown instance id, or another caller's run."),
            409: _problem("The run already finished (runtimeStatus says how)."),
            500: _problem("Invalid AzureSession__ settings."),
            503: _problem("The durable backend did not answer."),
        },
    ),
    Operation(
        function="Health",
        route="health",
        method="get",
        summary="Settings check; ?deep=true also probes the session pool.",
        anonymous=True,
        parameters=(_query("deep", "Also probe the pool.", {"type": "boolean", "default": False}),),
        responses={
            200: Response("Healthy.", schemas.Health),
            400: _problem("deep is not true or false."),
            503: Response("Degraded: bad settings or an unreachable pool.", schemas.Health),
        },
    ),
    Operation(
        function="RunViewer",
        route="ui",
        method="get",
        summary="The run viewer: a web page for your runs (enter your function key in it).",
        anonymous=True,
        responses={200: Response("The page (it calls this API).", media=("text/html",))},
    ),
    Operation(
        function="RunViewerAsset",
        route="ui/{asset}",
        method="get",
        summary="The run viewer's script and styles.",
        anonymous=True,
        parameters=(
            {
                "name": "asset",
                "in": "path",
                "required": True,
                "description": "app.js or app.css.",
                "schema": {"type": "string"},
            },
        ),
        responses={
            200: Response("The script or the styles.", media=("text/javascript", "text/css")),
            404: Response("No such asset.", media=("text/plain",)),
        },
    ),
    Operation(
        function="OpenApi",
        route="openapi.json",
        method="get",
        summary="This document.",
        anonymous=True,
        responses={200: Response("The OpenAPI 3.1 document.")},
    ),
)

HEADER_DOCS = {
    "Location": "The status URL of the run.",
    "Retry-After": "Seconds to wait before polling.",
    REPLAYED_HEADER: "true when an Idempotency-Key matched an earlier identical request.",
}


def component_schemas() -> dict[str, Any]:
    """Every model's JSON schema under its name, refs pointing at ``components/schemas``."""
    pairs = [(model, "validation") for model in REQUEST_MODELS]
    pairs += [(model, "serialization") for model in RESPONSE_MODELS]
    _, top = models_json_schema(pairs, ref_template=REF_TEMPLATE)
    return dict(sorted(top.get("$defs", {}).items()))


def _ref(model: type[BaseModel]) -> dict[str, str]:
    return {"$ref": REF_TEMPLATE.format(model=model.__name__)}


def _operation(op: Operation) -> dict[str, Any]:
    document: dict[str, Any] = {
        "operationId": op.function,
        "summary": op.summary,
        "security": [] if op.anonymous else FUNCTION_KEY_SECURITY,
        "responses": {},
    }
    if op.parameters:
        document["parameters"] = list(op.parameters)
    if op.body is not None:
        document["requestBody"] = {
            "required": op.body_required,
            "content": {"application/json": {"schema": _ref(op.body)}},
        }
    for status, answer in sorted(op.responses.items()):
        entry: dict[str, Any] = {"description": answer.description}
        if answer.model is not None:
            media = PROBLEM_CONTENT_TYPE if answer.model is schemas.Problem else "application/json"
            entry["content"] = {media: {"schema": _ref(answer.model)}}
        elif op.function == "OpenApi":
            entry["content"] = {"application/json": {"schema": {"type": "object"}}}
        elif answer.media:
            entry["content"] = {m: {"schema": {"type": "string"}} for m in answer.media}
        if answer.headers:
            entry["headers"] = {
                name: {"description": HEADER_DOCS[name], "schema": {"type": "string"}}
                for name in answer.headers
            }
        document["responses"][str(status)] = entry
    return document


def openapi_document(*, server_url: str | None = None) -> dict[str, Any]:
    """The OpenAPI 3.1 document of every HTTP route."""
    paths: dict[str, dict[str, Any]] = {}
    for op in OPERATIONS:
        paths.setdefault(f"{ROUTE_PREFIX}/{op.route}", {})[op.method] = _operation(op)
    document: dict[str, Any] = {
        "openapi": "3.1.0",
        "info": {
            "title": "Agent Runtime Orchestrator",
            "version": VERSION,
            "description": "Runs Python workflows as durable jobs in Azure Container Apps "
            "dynamic sessions.",
        },
        "paths": paths,
        "components": {
            "schemas": component_schemas(),
            "securitySchemes": {
                "functionKeyHeader": {"type": "apiKey", "in": "header", "name": "x-functions-key"},
                "functionKeyQuery": {"type": "apiKey", "in": "query", "name": "code"},
            },
        },
    }
    if server_url:
        document["servers"] = [{"url": server_url}]
    return document


async def openapi(req: func.HttpRequest) -> func.HttpResponse:
    """Handle ``GET /api/openapi.json``."""
    return json_response(openapi_document(server_url=origin_of(req.url)))
