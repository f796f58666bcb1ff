"""The Starlette app: OpenAI-compatible routes answering from a script, recording each call."""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator, Sequence
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from . import shapes
from .recorder import Recorder
from .replies import ErrorReply, ModerationReply, Reply, error
from .requests import ModelRequest
from .scripts import Script, as_script, default_reply, resolve_reply

logger = logging.getLogger(__name__)

#: The answer to a POST whose body is not a JSON object.
MALFORMED_BODY = error(400, "We could not parse the JSON body of your request.", param="body")
DEFAULT_MODELS = ("gpt-5", "gpt-5-mini", "gpt-5.1", "gpt-4.1", "gpt-4o", "omni-moderation-latest")


class ServerState:
    """What the routes share: the current script, the recorder and the model list."""

    def __init__(
        self,
        *,
        script: Script = None,
        recorder: Recorder | None = None,
        models: Sequence[str] = DEFAULT_MODELS,
    ) -> None:
        self.script = as_script(script)
        self.recorder = recorder or Recorder()
        self.models = list(models)

    def set_script(self, script: Script) -> None:
        """Replace the script (takes effect for the next request)."""
        self.script = as_script(script)


def create_app(state: ServerState) -> Starlette:
    """Build the ASGI app around ``state``."""

    async def model_call(request: Request) -> Response:
        recorded = await _record(request, state)
        if not isinstance(recorded.body, dict):
            return _error_response(MALFORMED_BODY)
        hosted = recorded.hosted_tool_types
        if hosted:
            return _error_response(
                error(
                    400,
                    f"hosted tool {hosted[0]} is not available in the local model server: "
                    "hosted tools (web search, file search, code interpreter, MCP...) run at "
                    "the model provider; use a real endpoint or replace them with function tools",
                    param="tools",
                    code="hosted_tool_unavailable",
                )
            )
        reply, failure = await _reply_for(recorded, state)
        if failure is not None:
            return failure
        try:
            return _model_response(recorded, reply)
        except TypeError as exc:
            return _error_response(_script_error(recorded, str(exc)))

    async def moderations(request: Request) -> Response:
        recorded = await _record(request, state)
        if not isinstance(recorded.body, dict):
            return _error_response(MALFORMED_BODY)
        reply, failure = await _reply_for(recorded, state)
        if failure is not None:
            return failure
        if not isinstance(reply, ModerationReply):
            return _error_response(
                _script_error(recorded, f"a {reply.kind} reply cannot answer a moderation")
            )
        try:
            return JSONResponse(shapes.moderation_body(recorded.body, reply))
        except ValueError as exc:
            return _error_response(_script_error(recorded, str(exc)))

    async def list_models(request: Request) -> Response:
        await _record(request, state)
        return JSONResponse(shapes.models_list(state.models))

    async def get_model(request: Request) -> Response:
        await _record(request, state)
        model_id = request.path_params["model_id"]
        if model_id not in state.models:
            return _error_response(
                error(404, f"The model '{model_id}' does not exist", code="model_not_found")
            )
        return JSONResponse(shapes.model_object(model_id))

    async def not_found(request: Request) -> Response:
        await _record(request, state)
        return _error_response(
            error(
                404,
                f"model_server does not serve {request.method} {request.url.path}",
                code="unknown_url",
            )
        )

    routes = [
        Route("/v1/responses", model_call, methods=["POST"]),
        Route("/v1/chat/completions", model_call, methods=["POST"]),
        Route("/v1/moderations", moderations, methods=["POST"]),
        Route("/v1/models", list_models, methods=["GET"]),
        Route("/v1/models/{model_id:path}", get_model, methods=["GET"]),
        Route("/{path:path}", not_found, methods=["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD"]),
    ]
    return Starlette(routes=routes)


async def _record(request: Request, state: ServerState) -> ModelRequest:
    """Log the request before any answer, so a test sees even the ones that fail."""
    return state.recorder.record(
        method=request.method,
        path=request.url.path,
        headers=dict(request.headers),
        body=_json_or_text(await request.body()),
    )


async def _reply_for(recorded: ModelRequest, state: ServerState) -> tuple[Reply, Response | None]:
    try:
        reply = await resolve_reply(state.script, recorded)
    except Exception as exc:  # a broken script must answer, never hang the client
        logger.exception("model_server script failed on request #%s", recorded.index)
        failure = _script_error(recorded, f"the script raised {type(exc).__name__}: {exc}")
        return failure, _error_response(failure)
    if reply is None:
        reply = default_reply(recorded)
    if isinstance(reply, ErrorReply):
        return reply, _error_response(reply)
    return reply, None


def _model_response(recorded: ModelRequest, reply: Reply) -> Response:
    body = recorded.body
    if recorded.endpoint == "responses":
        if recorded.stream:
            return _sse(shapes.response_stream_events(body, reply), done_marker=False)
        output = shapes.response_output_items(reply)
        return JSONResponse(shapes.response_body(body, output))
    if recorded.stream:
        return _sse(shapes.chat_stream_chunks(body, reply), done_marker=True)
    return JSONResponse(shapes.chat_completion_body(body, reply))


def _sse(events: list[dict[str, Any]], *, done_marker: bool) -> StreamingResponse:
    async def stream() -> AsyncIterator[bytes]:
        for event in events:
            name = event.get("type")
            prefix = f"event: {name}\n" if name and not done_marker else ""
            yield f"{prefix}data: {json.dumps(event, ensure_ascii=False)}\n\n".encode()
        if done_marker:
            yield b"data: [DONE]\n\n"

    return StreamingResponse(stream(), media_type="text/event-stream")


def _script_error(recorded: ModelRequest, detail: str) -> ErrorReply:
    return error(
        500,
        f"model_server: {detail} (request #{recorded.index} {recorded.method} {recorded.path})",
        type="model_server_error",
        code="script_error",
    )


def _error_response(reply: ErrorReply) -> JSONResponse:
    return JSONResponse(
        shapes.error_body(reply), status_code=reply.status, headers=shapes.error_headers(reply)
    )


def _json_or_text(raw: bytes) -> Any:
    if not raw:
        return None
    try:
        return json.loads(raw)
    except ValueError:
        return raw.decode("utf-8", errors="replace")
