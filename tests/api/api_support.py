"""Shared helpers: a durable client with mocked calls, requests, a fake session client."""

from __future__ import annotations

import json
import uuid
from typing import Any
from unittest.mock import AsyncMock

import azure.durable_functions as df
import azure.functions as func
from azure.durable_functions.models.DurableOrchestrationStatus import DurableOrchestrationStatus

from api.caller import ANONYMOUS_OWNER, owner_tag
from orchestrator.models import OrchestrationInput, RunConfig, SessionRef
from session_client.errors import SessionNotFound

HUB = "http://localhost:7071/runtime/webhooks/durabletask/instances/INSTANCEID"
CLIENT_JSON = json.dumps(
    {
        "taskHubName": "Hub",
        "creationUrls": {},
        "rpcBaseUrl": "http://127.0.0.1:17071/durabletask/",
        "managementUrls": {
            "id": "INSTANCEID",
            "statusQueryGetUri": f"{HUB}?taskHub=Hub&connection=Storage&code=sys",
            "sendEventPostUri": f"{HUB}/raiseEvent/{{eventName}}?taskHub=Hub&code=sys",
            "terminatePostUri": f"{HUB}/terminate?reason={{text}}&taskHub=Hub&code=sys",
            "purgeHistoryDeleteUri": f"{HUB}?taskHub=Hub&code=sys",
        },
    }
)
ORIGIN = "https://myapp.example.net"
GOOD_BODY = {"workflowCode": "def run(payload):\n    return payload\n", "input": {"a": 1}}


def owned_id(owner: str = ANONYMOUS_OWNER, rest: str | None = None) -> str:
    """An instance id of ``owner`` (as the starter mints them); ``rest`` defaults to a UUID."""
    return f"{owner_tag(owner)}-{rest or uuid.uuid4().hex}"


#: The default instance: a run of the anonymous caller (no function key in the request).
INST1 = owned_id(rest="inst1")


def echo_start_new(default: str) -> AsyncMock:
    """``start_new`` answering with the id it was asked to use, as the durable backend does."""

    async def start_new(name: str, instance_id: str | None = None, **kwargs: Any) -> str:
        return instance_id or default

    return AsyncMock(side_effect=start_new)


def durable_client(instance_id: str = "abc123") -> df.DurableOrchestrationClient:
    """A real client object whose network calls are AsyncMocks."""
    durable = df.DurableOrchestrationClient(CLIENT_JSON)
    durable.start_new = echo_start_new(instance_id)
    durable.get_status = AsyncMock(return_value=DurableOrchestrationStatus.from_json(""))
    durable.terminate = AsyncMock(return_value=None)
    durable.get_status_by = AsyncMock(return_value=[])
    return durable


def request(
    method: str,
    path: str,
    *,
    body: object = b"",
    headers: dict[str, str] | None = None,
    params: dict[str, str] | None = None,
    route_params: dict[str, str] | None = None,
) -> func.HttpRequest:
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    all_headers = {"Content-Type": "application/json"} if raw else {}
    all_headers.update(headers or {})
    return func.HttpRequest(
        method,
        f"{ORIGIN}{path}",
        headers=all_headers,
        params=params or {},
        route_params=route_params or {},
        body=raw,
    )


def post_workflow(body: object = None, **kwargs: Any) -> func.HttpRequest:
    return request("POST", "/api/workflows", body=GOOD_BODY if body is None else body, **kwargs)


def body_of(response: func.HttpResponse) -> dict:
    return json.loads(response.get_body())


def instance_status(
    runtime: str,
    *,
    instance_id: str = INST1,
    input: Any = None,
    output: Any = None,
    custom: Any = None,
    name: str = "WorkflowOrchestrator",
    created: str = "2025-01-01T12:00:00Z",
    updated: str = "2025-01-01T12:00:05Z",
) -> DurableOrchestrationStatus:
    return DurableOrchestrationStatus(
        name=name,
        instanceId=instance_id,
        createdTime=created,
        lastUpdatedTime=updated,
        input=input,
        output=output,
        runtimeStatus=runtime,
        customStatus=custom,
    )


class FakeSessionClient:
    """Records ``delete_session``; ``fail`` is raised instead when set."""

    def __init__(self, *, fail: Exception | None = None) -> None:
        self.deleted: list[str] = []
        self.fail = fail

    async def delete_session(self, identifier: str) -> None:
        self.deleted.append(identifier)
        if self.fail is not None:
            raise self.fail


def not_found() -> SessionNotFound:
    return SessionNotFound("DELETE /session failed with 404", status_code=404)


def orchestration_input(*, session: SessionRef | None = None, **overrides: Any) -> str:
    """A valid orchestration input as the starter writes it (JSON text)."""
    return OrchestrationInput(
        workflow_code="def run(payload):\n    return payload\n",
        session=session or SessionRef(strategy="ephemeral"),
        command="python /mnt/data/run.py",
        config=RunConfig(
            timeout_seconds=60,
            max_execution_seconds=220,
            initial_poll_seconds=0.5,
            max_poll_seconds=10,
            poll_backoff_factor=1.5,
            output_tail_chars=2000,
        ),
        **overrides,
    ).to_wire()
