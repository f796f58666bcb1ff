"""The Durable Functions HTTP API under /runtime/webhooks/durabletask.

The management URLs in check-status responses (statusQueryGetUri, sendEventPostUri, ...)
point at it, so a person with curl uses the same endpoints as the library. Status codes
follow the real extension's HttpApiHandler and what the 1.7.0 client accepts.

Two mounts serve the same endpoints:

* `WEBHOOK_PATH`, public, checked at `system` level by `auth.authorize`: the system key
  (or the master key) in the `x-functions-key` header or `?code=`, as on Azure; a
  function key does not open it. The URLs it answers with carry a `code` only when the
  caller sent one; the client binding's URLs carry the system key, as Azure's do.
* `RPC_PATH/<token>`, the client binding's `rpcBaseUrl`: `DurableOrchestrationClient` calls
  it from inside functions and cannot send headers, so the path holds a random token made
  per served app (`LocalRuntime.rpc_token`), known only to the binding and never returned
  to callers.
"""

from __future__ import annotations

import asyncio
import base64
import hmac
import json
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import quote

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from local_runtime import auth
from local_runtime.errors import InstanceExistsError
from local_runtime.events import EventType, format_time, parse_time
from local_runtime.runtime import LocalRuntime, Outcome, UnknownOrchestratorError, decode_payload
from local_runtime.store import TERMINAL_STATUSES, Instance, InstanceQuery

WEBHOOK_PATH = "/runtime/webhooks/durabletask"
RPC_PATH = "/runtime/local-rpc"
WEBHOOK_AUTH_LEVEL = "system"
INSTANCE_ID_PLACEHOLDER = "INSTANCEID"
CONTINUATION_HEADER = "x-ms-continuation-token"
RUNNING_STATUSES = frozenset({"Pending", "Running", "Suspended"})
MAX_PAGE_SIZE = 10_000

Endpoint = Callable[[Request], Awaitable[Response]]


# --- URLs and binding data -----------------------------------------------------------------


def rpc_base_url(base_url: str, token: str) -> str:
    """Where the library's client sends its calls (`rpcBaseUrl`, with trailing slash)."""
    return f"{base_url}{RPC_PATH}/{token}/"


def _required_query(hub: str, code: str | None) -> str:
    query = f"taskHub={quote(hub)}&connection=Storage"
    return f"{query}&code={quote(code, safe='')}" if code else query


def management_urls(
    base_url: str, hub: str, instance_id: str, *, code: str | None = None
) -> dict[str, str]:
    """The management payload of an instance; `code` is appended only when given."""
    prefix = f"{base_url}{WEBHOOK_PATH}/instances/{instance_id}"
    query = _required_query(hub, code)
    return {
        "id": instance_id,
        "statusQueryGetUri": f"{prefix}?{query}",
        "sendEventPostUri": f"{prefix}/raiseEvent/{{eventName}}?{query}",
        "terminatePostUri": f"{prefix}/terminate?reason={{text}}&{query}",
        "rewindPostUri": f"{prefix}/rewind?reason={{text}}&{query}",
        "purgeHistoryDeleteUri": f"{prefix}?{query}",
        "restartPostUri": f"{prefix}/restart?{query}",
        "suspendPostUri": f"{prefix}/suspend?reason={{text}}&{query}",
        "resumePostUri": f"{prefix}/resume?reason={{text}}&{query}",
    }


def client_binding(base_url: str, hub: str, *, rpc_token: str, code: str | None = None) -> str:
    """The JSON string a `durable_client_input` parameter receives."""
    webhooks = f"{base_url}{WEBHOOK_PATH}"
    query = _required_query(hub, code)
    return json.dumps(
        {
            "taskHubName": hub,
            "creationUrls": {
                "createNewInstancePostUri": (
                    f"{webhooks}/orchestrators/{{functionName}}[/{{instanceId}}]?{query}"
                ),
                "createAndWaitOnNewInstancePostUri": (
                    f"{webhooks}/orchestrators/{{functionName}}[/{{instanceId}}]"
                    f"?timeout={{timeoutInSeconds}}&pollingInterval={{intervalInSeconds}}&{query}"
                ),
            },
            "managementUrls": management_urls(base_url, hub, INSTANCE_ID_PLACEHOLDER, code=code),
            "baseUrl": webhooks,
            "requiredQueryStringParameters": query,
            "rpcBaseUrl": rpc_base_url(base_url, rpc_token),
            "httpBaseUrl": "",
        }
    )


# --- status bodies ---------------------------------------------------------------------------


def _loads(text: str | None) -> Any:
    return None if text is None else json.loads(text)


def status_body(
    instance: Instance,
    *,
    show_input: bool = True,
    history: list[dict[str, Any]] | None = None,
    show_history_output: bool = False,
) -> dict[str, Any]:
    """The status JSON the client turns into DurableOrchestrationStatus."""
    body: dict[str, Any] = {
        "name": instance.name,
        "instanceId": instance.instance_id,
        "runtimeStatus": instance.status,
        "input": _loads(instance.input) if show_input else None,
        "customStatus": _loads(instance.custom_status),
        "output": _loads(instance.output),
        "createdTime": instance.created_time,
        "lastUpdatedTime": instance.last_updated_time,
    }
    if history is not None:
        body["historyEvents"] = [
            _history_entry(ev, show_output=show_history_output)
            for ev in history
            if ev["EventType"]
            not in (EventType.ORCHESTRATOR_STARTED, EventType.ORCHESTRATOR_COMPLETED)
        ]
    return body


def _history_entry(ev: dict[str, Any], *, show_output: bool) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "EventType": EventType(ev["EventType"]).name.title().replace("_", ""),
        "EventId": ev.get("EventId", -1),
        "Timestamp": ev["Timestamp"],
    }
    for key in (
        "Name",
        "TaskScheduledId",
        "TimerId",
        "FireAt",
        "InstanceId",
        "OrchestrationStatus",
        "Reason",
    ):
        if ev.get(key) is not None:
            entry["FunctionName" if key == "Name" else key] = ev[key]
    if show_output:
        for key in ("Input", "Result"):
            if ev.get(key) is not None:
                try:
                    entry[key] = json.loads(ev[key])
                except (TypeError, json.JSONDecodeError):
                    entry[key] = ev[key]
        if ev.get("Details") is not None:
            entry["Details"] = ev["Details"]
    return entry


# --- helpers ---------------------------------------------------------------------------------


def _flag(request: Request, name: str, default: bool = False) -> bool:
    value = request.query_params.get(name)
    return default if value is None else value.strip().lower() == "true"


def _error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"Message": message, "ExceptionMessage": message}, status_code=status)


def _outcome(outcome: Outcome, instance_id: str) -> Response:
    if outcome is Outcome.NOT_FOUND:
        return _error(404, f"No instance with ID '{instance_id}' was found.")
    if outcome is Outcome.GONE:
        return _error(410, f"The instance '{instance_id}' has already finished.")
    return Response(status_code=202)


def _query(request: Request) -> InstanceQuery:
    params = request.query_params
    statuses = params.get("runtimeStatus")
    return InstanceQuery(
        created_from=_time_param(params.get("createdTimeFrom")),
        created_to=_time_param(params.get("createdTimeTo")),
        statuses=frozenset(s.strip() for s in statuses.split(",") if s.strip())
        if statuses
        else None,
        prefix=params.get("instanceIdPrefix") or None,
    )


def _time_param(value: str | None) -> str | None:
    return format_time(parse_time(value)) if value else None


def _top(text: str | None) -> int | None:
    """The page size asked for (None: all), capped so that SQLite's LIMIT stays an integer."""
    try:
        top = int(text or "")
    except ValueError:
        return None
    return min(top, MAX_PAGE_SIZE) if top > 0 else None


def _bad_query(exc: ValueError) -> JSONResponse:
    return _error(400, f"Invalid instance query: {exc}")


def _encode_token(seq: int) -> str:
    return base64.urlsafe_b64encode(json.dumps({"seq": seq}).encode()).decode()


def _decode_token(token: str | None) -> int | None:
    if not token:
        return None
    try:
        return int(json.loads(base64.urlsafe_b64decode(token.encode()))["seq"])
    except (ValueError, KeyError, TypeError):
        return None


# --- routes ----------------------------------------------------------------------------------


def routes(
    runtime: LocalRuntime, *, hub: str, auth_config: auth.AuthConfig, rpc_token: str
) -> list[BaseRoute]:
    """The public webhook routes (key-checked) and the internal RPC routes (token-checked)."""
    endpoints = _endpoints(runtime, hub=hub)
    public = [
        Route(WEBHOOK_PATH + path, _key_checked(endpoint, auth_config), methods=methods)
        for path, endpoint, methods in endpoints
    ]
    internal = [
        Route(RPC_PATH + "/{rpcToken}" + path, _token_checked(endpoint, rpc_token), methods=methods)
        for path, endpoint, methods in endpoints
    ]
    return public + internal


def _key_checked(endpoint: Endpoint, config: auth.AuthConfig) -> Endpoint:
    async def checked(request: Request) -> Response:
        result = auth.authorize(
            auth_level=WEBHOOK_AUTH_LEVEL,
            headers=request.headers,
            query=request.query_params,
            config=config,
        )
        if result.denial is not None:
            return auth.unauthorized_response(result.denial)
        request.state.code = result.query_key
        return await endpoint(request)

    return checked


def _token_checked(endpoint: Endpoint, token: str) -> Endpoint:
    expected = token.encode()

    async def checked(request: Request) -> Response:
        given = str(request.path_params.get("rpcToken", "")).encode()
        if not hmac.compare_digest(given, expected):
            return Response(status_code=404)
        request.state.code = None
        return await endpoint(request)

    return checked


def _endpoints(runtime: LocalRuntime, *, hub: str) -> list[tuple[str, Endpoint, list[str]]]:
    """(path under the mount, endpoint, methods) of every Durable API operation."""

    def run(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        return asyncio.to_thread(fn, *args, **kwargs)

    def urls(request: Request, instance_id: str) -> dict[str, str]:
        origin = f"{request.url.scheme}://{request.url.netloc}"
        return management_urls(origin, hub, instance_id, code=getattr(request.state, "code", None))

    async def start(request: Request) -> Response:
        name = request.path_params["functionName"]
        instance_id = request.path_params.get("instanceId")
        input_json = decode_payload(await request.body())
        try:
            instance_id = await run(
                runtime.start_new, name, instance_id=instance_id, input_json=input_json
            )
        except (UnknownOrchestratorError, InstanceExistsError) as exc:
            return _error(400, str(exc))
        payload = urls(request, instance_id)
        return JSONResponse(
            payload,
            status_code=202,
            headers={"Location": payload["statusQueryGetUri"], "Retry-After": "1"},
        )

    async def get_status(request: Request) -> Response:
        instance_id = request.path_params["instanceId"]
        instance = await run(runtime.get, instance_id)
        if instance is None:
            return Response(status_code=404)
        history = None
        if _flag(request, "showHistory"):
            history = await run(runtime.store.get_history, instance_id)
        body = status_body(
            instance,
            show_input=_flag(request, "showInput", default=True),
            history=history,
            show_history_output=_flag(request, "showHistoryOutput"),
        )
        if instance.status in RUNNING_STATUSES:
            url = urls(request, instance_id)["statusQueryGetUri"]
            return JSONResponse(
                body, status_code=202, headers={"Location": url, "Retry-After": "1"}
            )
        failed_500 = instance.status == "Failed" and _flag(
            request, "returnInternalServerErrorOnFailure"
        )
        return JSONResponse(body, status_code=500 if failed_500 else 200)

    async def list_instances(request: Request) -> Response:
        top = _top(request.query_params.get("top"))
        after = _decode_token(request.headers.get(CONTINUATION_HEADER))
        try:
            query = _query(request)
        except ValueError as exc:
            return _bad_query(exc)
        rows = await run(
            runtime.store.list_instances, query, top=top + 1 if top else None, after_seq=after
        )
        headers = {}
        if top and len(rows) > top:
            rows = rows[:top]
            headers[CONTINUATION_HEADER] = _encode_token(rows[-1].seq)
        show_input = _flag(request, "showInput", default=True)
        return JSONResponse([status_body(r, show_input=show_input) for r in rows], headers=headers)

    async def purge(request: Request) -> Response:
        instance_id = request.path_params["instanceId"]
        instance = await run(runtime.get, instance_id)
        if instance is None:
            return Response(status_code=404)
        if not instance.is_terminal:
            return _error(
                400, f"The instance '{instance_id}' is {instance.status}; terminate it first."
            )
        deleted = await run(runtime.store.purge, [instance_id])
        return JSONResponse({"instancesDeleted": deleted})

    async def purge_many(request: Request) -> Response:
        try:
            query = _query(request)
        except ValueError as exc:
            return _bad_query(exc)
        if query.statuses:
            statuses = frozenset(query.statuses) & TERMINAL_STATUSES
        else:
            statuses = TERMINAL_STATUSES
        if not statuses:
            return Response(status_code=404)
        query = InstanceQuery(
            created_from=query.created_from,
            created_to=query.created_to,
            statuses=statuses,
            prefix=query.prefix,
        )
        rows = await run(runtime.store.list_instances, query)
        deleted = await run(runtime.store.purge, [r.instance_id for r in rows])
        if not deleted:
            return Response(status_code=404)
        return JSONResponse({"instancesDeleted": deleted})

    async def raise_event(request: Request) -> Response:
        instance_id = request.path_params["instanceId"]
        input_json = decode_payload(await request.body())
        outcome = await run(
            runtime.raise_event, instance_id, request.path_params["eventName"], input_json
        )
        return _outcome(outcome, instance_id)

    async def terminate(request: Request) -> Response:
        instance_id = request.path_params["instanceId"]
        reason = request.query_params.get("reason")
        return _outcome(await run(runtime.terminate, instance_id, reason), instance_id)

    async def suspend(request: Request) -> Response:
        instance_id = request.path_params["instanceId"]
        reason = request.query_params.get("reason")
        return _outcome(await run(runtime.suspend, instance_id, reason), instance_id)

    async def resume(request: Request) -> Response:
        instance_id = request.path_params["instanceId"]
        reason = request.query_params.get("reason")
        return _outcome(await run(runtime.resume, instance_id, reason), instance_id)

    async def restart(request: Request) -> Response:
        instance_id = request.path_params["instanceId"]
        instance = await run(runtime.get, instance_id)
        if instance is None:
            return _error(404, f"No instance with ID '{instance_id}' was found.")
        new_id = None if _flag(request, "restartWithNewInstanceId", default=True) else instance_id
        try:
            new_id = await run(
                runtime.start_new, instance.name, instance_id=new_id, input_json=instance.input
            )
        except (UnknownOrchestratorError, InstanceExistsError) as exc:
            return _error(400, str(exc))
        payload = urls(request, new_id)
        return JSONResponse(
            payload, status_code=202, headers={"Location": payload["statusQueryGetUri"]}
        )

    async def not_supported(request: Request) -> Response:
        return _error(501, "This operation is not supported by the local runtime.")

    inst = "/instances/{instanceId}"
    return [
        ("/orchestrators/{functionName}", start, ["POST"]),
        ("/orchestrators/{functionName}/{instanceId}", start, ["POST"]),
        ("/instances", list_instances, ["GET"]),
        ("/instances/", list_instances, ["GET"]),
        ("/instances", purge_many, ["DELETE"]),
        ("/instances/", purge_many, ["DELETE"]),
        (inst, get_status, ["GET"]),
        (inst, purge, ["DELETE"]),
        (inst + "/raiseEvent/{eventName}", raise_event, ["POST"]),
        (inst + "/terminate", terminate, ["POST"]),
        (inst + "/suspend", suspend, ["POST"]),
        (inst + "/resume", resume, ["POST"]),
        (inst + "/restart", restart, ["POST"]),
        (inst + "/rewind", not_supported, ["POST"]),
        ("/entities/{path:path}", not_supported, ["GET", "POST"]),
    ]
