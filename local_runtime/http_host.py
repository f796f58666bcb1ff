"""The ASGI app: every HTTP function at /<routePrefix>/<route>, plus the Durable API.

Each request is first checked against the function's auth level (`auth.authorize`; 401
without calling the function), then passed to the function as the host passes it to the
worker (`HttpRequestData`: lower-case headers and query values joined with ',', empty query
values left out, the route values, the raw body), with the durable client's JSON for a
`durableClient` binding. The worker's answer (an `HttpResponse` or `str` converted by the
SDK) becomes the ASGI response; a failed invocation is a 500 with an empty body, as on Azure.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import re
import uuid
from collections.abc import AsyncIterator, Iterable
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from local_runtime import auth, durable_api
from local_runtime.bounds import RequestBounds, max_body_bytes
from local_runtime.invocation import (
    HttpFunction,
    HttpRequestData,
    HttpResponseData,
    InvocationError,
)
from local_runtime.runtime import LocalRuntime

log = logging.getLogger("local_runtime.http")

_PARAM = re.compile(r"\{(\*?)([A-Za-z_][A-Za-z0-9_]*)(?::[^}?]*)?(\?)?\}")


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


def build_asgi_app(runtime: LocalRuntime) -> Any:
    """The ASGI app serving the runtime's function app, behind the host's request bounds."""
    options = runtime.config.options
    rpc_token = runtime.rpc_token
    # Functions sharing a route (GET and POST /workflows) become one route, so that a
    # 405 lists every method the path accepts in its Allow header.
    by_path: dict[str, dict[str | None, Any]] = {}
    for fn in runtime.index.http:
        for path in route_paths(fn.route, prefix=options.route_prefix):
            endpoint = _endpoint(runtime, fn, rpc_token=rpc_token)
            handlers = by_path.setdefault(path, {})
            for method in fn.methods or [None]:
                handlers.setdefault(method.upper() if method else None, endpoint)
    function_routes: list[tuple[int, BaseRoute]] = [
        (path.count("{"), _shared_route(path, handlers)) for path, handlers in by_path.items()
    ]
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

    app = Starlette(
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
    return RequestBounds(app, max_body_bytes=max_body_bytes(os.environ))


def _shared_route(path: str, handlers: dict[str | None, Any]) -> Route:
    """One route for every function on ``path``, dispatching on the method."""
    if None in handlers:  # a function that takes any method
        return Route(path, handlers[None], methods=None)

    async def dispatch(request: Request) -> Response:
        method = "GET" if request.method == "HEAD" else request.method
        return await handlers[method](request)

    return Route(path, dispatch, methods=[m for m in handlers if m is not None])


def _endpoint(runtime: LocalRuntime, fn: HttpFunction, *, rpc_token: str):
    config = runtime.config
    # the client talks to this server's own address; create_check_status_response then
    # rewrites the management URLs to the caller's origin, as in Azure. As on Azure, the
    # binding's management URLs carry the system key (the starter of an app must not hand
    # them to callers as they are: ours strips it)
    client_binding = runtime.client_binding(fn.task_hub)

    async def endpoint(request: Request) -> Response:
        decision = auth.authorize(
            auth_level=fn.auth_level,
            headers=request.headers,
            query=request.query_params,
            config=config.auth,
        )
        if decision.denial is not None:
            return auth.unauthorized_response(decision.denial)
        data = HttpRequestData(
            method=request.method,
            url=str(request.url),
            headers=_joined(request.headers.items()),
            # the host leaves out query parameters whose (joined) value is empty
            query={k: v for k, v in _joined(request.query_params.multi_items()).items() if v},
            params={k: str(v) for k, v in request.path_params.items()},
            body=await request.body(),
        )
        values: dict[str, str] = {}
        if fn.durable_client_param:
            # a caller who authenticated with ?code= gets management URLs with that code
            values[fn.durable_client_param] = client_binding
        try:
            answer = await fn.call(data, values, str(uuid.uuid4()))
        except InvocationError as exc:
            log.error("function %s failed: %s\n%s", fn.name, exc.message, exc.stack_trace)
            return Response(status_code=500)
        return to_response(answer)

    return endpoint


def _joined(items: Iterable[tuple[str, str]]) -> dict[str, str]:
    """Repeated names joined with ',' as the Functions host passes them (StringValues)."""
    joined: dict[str, str] = {}
    for name, value in items:
        joined[name] = f"{joined[name]},{value}" if name in joined else value
    return joined


def to_response(answer: HttpResponseData) -> Response:
    """The function's answer as an ASGI response (headers as the worker gave them)."""
    response = Response(answer.body, status_code=answer.status)
    response.raw_headers = [
        (k.lower().encode("latin-1"), str(v).encode("latin-1")) for k, v in answer.headers
    ] + [(b"content-length", str(len(answer.body)).encode())]
    return response


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
