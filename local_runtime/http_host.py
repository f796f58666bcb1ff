"""The ASGI app: every HTTP function at /<routePrefix>/<route>, plus the Durable API.

Each request is first checked against the function's auth level (`auth.authorize`; 401
without calling the function), then becomes `azure.functions.HttpRequest`; the user
function is called with keyword arguments only (the trigger parameter, the durable
client JSON, `context` if declared), and its `HttpResponse` (or str/bytes/dict) becomes
the ASGI response.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import json
import logging
import re
import uuid
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass
from typing import Any

import azure.functions as func
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from local_runtime import auth, durable_api
from local_runtime.loader import HttpFunction
from local_runtime.runtime import LocalRuntime

log = logging.getLogger("local_runtime.http")

_PARAM = re.compile(r"\{(\*?)([A-Za-z_][A-Za-z0-9_]*)(?::[^}?]*)?(\?)?\}")


@dataclass(frozen=True)
class InvocationContext:
    """The subset of `azure.functions.Context` a function may read."""

    invocation_id: str
    function_name: str
    function_directory: str = ""
    trace_context: Any = None
    retry_context: Any = None


def route_paths(route: str, *, prefix: str) -> list[str]:
    """Starlette paths for an Azure route template (`{id:int}`, `{id?}`, `{*rest}`)."""
    base = "/" + prefix.strip("/") if prefix.strip("/") else ""
    segments = [s for s in route.strip("/").split("/") if s]
    paths = [""]
    for segment in segments:
        match = _PARAM.fullmatch(segment)
        if match is None:
            converted = _PARAM.sub(lambda m: "{" + m.group(2) + "}", segment)
            paths = [p + "/" + converted for p in paths]
            continue
        star, name, optional = match.groups()
        converted = "{" + name + (":path" if star else "") + "}"
        if optional:
            paths = [p + "/" + converted for p in paths] + paths
        else:
            paths = [p + "/" + converted for p in paths]
    return [base + (p or "/") if base else (p or "/") for p in paths]


def build_asgi_app(runtime: LocalRuntime) -> Starlette:
    """The Starlette app serving the runtime's function app."""
    options = runtime.config.options
    rpc_token = durable_api.new_rpc_token()
    function_routes: list[tuple[int, BaseRoute]] = []
    for fn in runtime.index.http:
        for path in route_paths(fn.route, prefix=options.route_prefix):
            endpoint = _endpoint(runtime, fn, rpc_token=rpc_token)
            function_routes.append((path.count("{"), Route(path, endpoint, methods=fn.methods)))
    function_routes.sort(key=lambda item: item[0])

    @contextlib.asynccontextmanager
    async def lifespan(_app: Starlette) -> AsyncIterator[None]:
        _reset_durable_http_session()
        for warning in auth.startup_warnings(host=runtime.config.host, config=runtime.config.auth):
            log.warning(warning)
        await runtime.start()
        log.info(
            "serving %d HTTP function(s) at %s/%s",
            len(runtime.index.http),
            runtime.config.base_url,
            options.route_prefix,
        )
        try:
            yield
        finally:
            await runtime.stop()
            await _close_durable_http_session()

    return Starlette(
        routes=[
            *durable_api.routes(
                runtime,
                hub=options.hub_name,
                auth_config=runtime.config.auth,
                rpc_token=rpc_token,
            ),
            *(route for _, route in function_routes),
        ],
        lifespan=lifespan,
    )


def _endpoint(runtime: LocalRuntime, fn: HttpFunction, *, rpc_token: str):
    hub = fn.task_hub or runtime.config.options.hub_name
    is_async = inspect.iscoroutinefunction(fn.func)
    config = runtime.config

    # the client talks to this server's own address; create_check_status_response then
    # rewrites the management URLs to the caller's origin, as in Azure
    def binding(code: str | None) -> str:
        return durable_api.client_binding(config.base_url, hub, rpc_token=rpc_token, code=code)

    keyless_binding = binding(None)

    async def endpoint(request: Request) -> Response:
        decision = auth.authorize(
            auth_level=fn.auth_level,
            headers=request.headers,
            query=request.query_params,
            config=config.auth,
        )
        if decision.denial is not None:
            return auth.unauthorized_response(decision.denial)
        req = func.HttpRequest(
            method=request.method,
            url=str(request.url),
            headers=_joined(request.headers.items()),
            params=_joined(request.query_params.multi_items()),
            route_params={k: str(v) for k, v in request.path_params.items()},
            body=await request.body(),
        )
        kwargs: dict[str, Any] = {fn.request_param: req}
        if fn.durable_client_param:
            # a caller who authenticated with ?code= gets management URLs with that code
            code = decision.query_key
            kwargs[fn.durable_client_param] = binding(code) if code else keyless_binding
        if fn.accepts_context:
            kwargs["context"] = InvocationContext(uuid.uuid4().hex, fn.name)
        try:
            if is_async:
                result = await fn.func(**kwargs)
            else:
                result = await asyncio.to_thread(fn.func, **kwargs)
                if inspect.isawaitable(result):
                    result = await result
            return to_response(result)
        except Exception:
            log.exception("function %s failed", fn.name)
            return Response(status_code=500)

    return endpoint


def _joined(items: Iterable[tuple[str, str]]) -> dict[str, str]:
    """Repeated names joined with ',' as the Functions host passes them (StringValues)."""
    joined: dict[str, str] = {}
    for name, value in items:
        joined[name] = f"{joined[name]},{value}" if name in joined else value
    return joined


def to_response(result: Any) -> Response:
    """An HTTP function's return value as a Starlette response."""
    if isinstance(result, func.HttpResponse):
        headers = {k: v for k, v in result.headers.items()}
        if not any(k.lower() == "content-type" for k in headers):
            content_type = result.mimetype or "text/plain"
            if result.charset and (
                content_type.startswith("text/") or content_type == "application/json"
            ):
                content_type += f"; charset={result.charset}"
            headers["Content-Type"] = content_type
        return Response(result.get_body(), status_code=result.status_code, headers=headers)
    if result is None:
        return Response(status_code=204)
    if isinstance(result, bytes):
        return Response(result, media_type="application/octet-stream")
    if isinstance(result, str):
        return Response(result, media_type="text/plain")
    return Response(json.dumps(result), media_type="application/json")


def _reset_durable_http_session() -> None:
    """The library keeps one aiohttp session per process; bind it to this server's loop."""
    from azure.durable_functions.models.utils import http_utils

    http_utils._client_session = None
    http_utils._session_lock = asyncio.Lock()


async def _close_durable_http_session() -> None:
    from azure.durable_functions.models.utils import http_utils

    session = http_utils._client_session
    if session is None or getattr(session, "_loop", None) is not asyncio.get_running_loop():
        return  # created by another server's loop (several runtimes in one process)
    http_utils._client_session = None
    if not session.closed:
        await session.close()
