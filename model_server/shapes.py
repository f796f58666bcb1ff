"""Turn a scripted reply into the exact JSON the openai Python SDK parses.

Pure functions: request body + reply in, response body (or SSE events) out. The
shapes follow ``openai.types`` (``Response``, ``ChatCompletion``,
``ModerationCreateResponse``, the ``ResponseStreamEvent`` union); the tests
validate every body against those models.
"""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

from .replies import ErrorReply, JsonReply, ModerationReply, Reply, TextReply, ToolCallsReply

MODERATION_MODEL = "omni-moderation-latest"
MODERATION_CATEGORIES = (
    "harassment",
    "harassment/threatening",
    "hate",
    "hate/threatening",
    "illicit",
    "illicit/violent",
    "self-harm",
    "self-harm/intent",
    "self-harm/instructions",
    "sexual",
    "sexual/minors",
    "violence",
    "violence/graphic",
)
_IMAGE_CATEGORIES = frozenset(
    {"self-harm", "self-harm/intent", "self-harm/instructions", "sexual", "violence"}
)
_DEFAULT_ERROR_TYPES = {
    400: "invalid_request_error",
    401: "invalid_request_error",
    403: "permission_error",
    404: "invalid_request_error",
    409: "conflict_error",
    422: "invalid_request_error",
    429: "requests",
}
_DEFAULT_ERROR_CODES = {401: "invalid_api_key", 429: "rate_limit_exceeded"}


def new_id(prefix: str) -> str:
    """An id in OpenAI's style, e.g. ``resp_0f3a...``."""
    return f"{prefix}{uuid.uuid4().hex}"


def estimate_tokens(value: Any) -> int:
    """A rough token count (4 characters a token) so usage is plausible and non-zero."""
    size = len(value if isinstance(value, str) else json.dumps(value, ensure_ascii=False))
    return max(1, size // 4)


# --- errors ------------------------------------------------------------------
def error_body(reply: ErrorReply) -> dict[str, Any]:
    """OpenAI's error JSON: ``{"error": {"message", "type", "param", "code"}}``."""
    return {
        "error": {
            "message": reply.message,
            "type": reply.type or _DEFAULT_ERROR_TYPES.get(reply.status, "server_error"),
            "param": reply.param,
            "code": reply.code or _DEFAULT_ERROR_CODES.get(reply.status),
        }
    }


def error_headers(reply: ErrorReply) -> dict[str, str]:
    """Headers steering the SDK's retry loop (it obeys ``x-should-retry``)."""
    headers = {"x-should-retry": "true" if reply.retry else "false"}
    if reply.retry_after_ms is not None:
        headers["retry-after-ms"] = str(reply.retry_after_ms)
    return headers


# --- Responses API -------------------------------------------------------------
def response_output_items(reply: Reply) -> list[dict[str, Any]]:
    """The ``output`` items of a completed response for a text, JSON or tool-call reply."""
    if isinstance(reply, TextReply | JsonReply):
        return [
            {
                "id": new_id("msg_"),
                "type": "message",
                "role": "assistant",
                "status": "completed",
                "content": [
                    {"type": "output_text", "text": reply.text, "annotations": [], "logprobs": []}
                ],
            }
        ]
    if isinstance(reply, ToolCallsReply):
        return [
            {
                "id": new_id("fc_"),
                "type": "function_call",
                "call_id": call.call_id or new_id("call_"),
                "name": call.name,
                "arguments": call.arguments,
                "status": "completed",
            }
            for call in reply.calls
        ]
    raise TypeError(f"a {reply.kind} reply cannot answer a model call")


def response_body(
    request: dict[str, Any],
    output: list[dict[str, Any]],
    *,
    response_id: str | None = None,
    status: str = "completed",
    created_at: int | None = None,
) -> dict[str, Any]:
    """A ``Response`` object echoing the request's settings, with ``output`` and usage."""
    created = created_at if created_at is not None else int(time.time())
    completed = status == "completed"
    input_tokens = estimate_tokens(request.get("input", ""))
    output_tokens = estimate_tokens(output) if output else 0
    text_config = request.get("text") or {"format": {"type": "text"}}
    if "format" not in text_config:
        text_config = {**text_config, "format": {"type": "text"}}
    return {
        "id": response_id or new_id("resp_"),
        "object": "response",
        "created_at": created,
        "completed_at": created if completed else None,
        "status": status,
        "background": False,
        "error": None,
        "incomplete_details": None,
        "instructions": request.get("instructions"),
        "max_output_tokens": request.get("max_output_tokens"),
        "metadata": request.get("metadata") or {},
        "model": request.get("model") or "gpt-4.1",
        "output": output,
        "parallel_tool_calls": bool(request.get("parallel_tool_calls", True)),
        "previous_response_id": request.get("previous_response_id"),
        "reasoning": request.get("reasoning"),
        "service_tier": "default",
        "store": bool(request.get("store", True)),
        "temperature": request.get("temperature", 1.0),
        "text": text_config,
        "tool_choice": request.get("tool_choice") or "auto",
        "tools": [t for t in request.get("tools") or [] if t.get("type") == "function"],
        "top_p": request.get("top_p", 1.0),
        "truncation": request.get("truncation") or "disabled",
        "usage": (
            {
                "input_tokens": input_tokens,
                "input_tokens_details": {"cached_tokens": 0, "cache_write_tokens": 0},
                "output_tokens": output_tokens,
                "output_tokens_details": {"reasoning_tokens": 0},
                "total_tokens": input_tokens + output_tokens,
            }
            if completed
            else None
        ),
    }


def response_stream_events(request: dict[str, Any], reply: Reply) -> list[dict[str, Any]]:
    """The server-sent events of a streamed response, ending with ``response.completed``."""
    output = response_output_items(reply)
    response_id = new_id("resp_")
    created = int(time.time())
    pending = response_body(
        request, [], response_id=response_id, status="in_progress", created_at=created
    )
    events: list[dict[str, Any]] = [
        {"type": "response.created", "response": pending},
        {"type": "response.in_progress", "response": pending},
    ]
    for index, item in enumerate(output):
        events.extend(_item_events(index, item))
    done = response_body(request, output, response_id=response_id, created_at=created)
    events.append({"type": "response.completed", "response": done})
    for number, event in enumerate(events):
        event["sequence_number"] = number
    return events


def _item_events(index: int, item: dict[str, Any]) -> list[dict[str, Any]]:
    base = {"output_index": index, "item_id": item["id"]}
    if item["type"] == "function_call":
        added = {**item, "arguments": "", "status": "in_progress"}
        return [
            {"type": "response.output_item.added", "output_index": index, "item": added},
            {"type": "response.function_call_arguments.delta", **base, "delta": item["arguments"]},
            {
                "type": "response.function_call_arguments.done",
                **base,
                "name": item["name"],
                "arguments": item["arguments"],
            },
            {"type": "response.output_item.done", "output_index": index, "item": item},
        ]
    text = item["content"][0]["text"]
    empty_part = {"type": "output_text", "text": "", "annotations": [], "logprobs": []}
    return [
        {
            "type": "response.output_item.added",
            "output_index": index,
            "item": {**item, "status": "in_progress", "content": []},
        },
        {"type": "response.content_part.added", **base, "content_index": 0, "part": empty_part},
        {
            "type": "response.output_text.delta",
            **base,
            "content_index": 0,
            "delta": text,
            "logprobs": [],
        },
        {
            "type": "response.output_text.done",
            **base,
            "content_index": 0,
            "text": text,
            "logprobs": [],
        },
        {
            "type": "response.content_part.done",
            **base,
            "content_index": 0,
            "part": item["content"][0],
        },
        {"type": "response.output_item.done", "output_index": index, "item": item},
    ]


# --- Chat Completions ----------------------------------------------------------
def chat_message(reply: Reply) -> tuple[dict[str, Any], str]:
    """The assistant message and finish reason for a chat completion."""
    if isinstance(reply, TextReply | JsonReply):
        message = {"role": "assistant", "content": reply.text, "refusal": None, "annotations": []}
        return message, "stop"
    if isinstance(reply, ToolCallsReply):
        calls = [
            {
                "id": call.call_id or new_id("call_"),
                "type": "function",
                "function": {"name": call.name, "arguments": call.arguments},
            }
            for call in reply.calls
        ]
        message = {"role": "assistant", "content": None, "refusal": None, "tool_calls": calls}
        return message, "tool_calls"
    raise TypeError(f"a {reply.kind} reply cannot answer a model call")


def chat_completion_body(request: dict[str, Any], reply: Reply) -> dict[str, Any]:
    """A ``ChatCompletion`` object with one choice."""
    message, finish_reason = chat_message(reply)
    return {
        "id": new_id("chatcmpl-"),
        "object": "chat.completion",
        "created": int(time.time()),
        "model": request.get("model") or "gpt-4.1",
        "choices": [
            {"index": 0, "message": message, "finish_reason": finish_reason, "logprobs": None}
        ],
        "service_tier": "default",
        "system_fingerprint": None,
        "usage": _chat_usage(request, message),
    }


def chat_stream_chunks(request: dict[str, Any], reply: Reply) -> list[dict[str, Any]]:
    """The chunks of a streamed chat completion (the caller appends ``[DONE]``)."""
    message, finish_reason = chat_message(reply)
    base = {
        "id": new_id("chatcmpl-"),
        "object": "chat.completion.chunk",
        "created": int(time.time()),
        "model": request.get("model") or "gpt-4.1",
    }

    def chunk(delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
        choice = {"index": 0, "delta": delta, "finish_reason": finish, "logprobs": None}
        return {**base, "choices": [choice]}

    chunks = [chunk({"role": "assistant", "content": ""})]
    if message.get("content"):
        chunks.append(chunk({"content": message["content"]}))
    for index, call in enumerate(message.get("tool_calls") or []):
        chunks.append(chunk({"tool_calls": [{"index": index, **call}]}))
    chunks.append(chunk({}, finish_reason))
    if (request.get("stream_options") or {}).get("include_usage"):
        chunks.append({**base, "choices": [], "usage": _chat_usage(request, message)})
    return chunks


def _chat_usage(request: dict[str, Any], message: dict[str, Any]) -> dict[str, Any]:
    prompt = estimate_tokens(request.get("messages", ""))
    completion = estimate_tokens(message)
    return {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
        "prompt_tokens_details": {"cached_tokens": 0},
        "completion_tokens_details": {"reasoning_tokens": 0},
    }


# --- Moderations ---------------------------------------------------------------
def moderation_body(request: dict[str, Any], reply: ModerationReply) -> dict[str, Any]:
    """A ``ModerationCreateResponse``: one result per input string."""
    unknown = set(reply.flagged_categories) - set(MODERATION_CATEGORIES)
    if unknown:
        raise ValueError(f"unknown moderation categories: {sorted(unknown)}")
    inputs = request.get("input")
    count = len(inputs) if isinstance(inputs, list) else 1
    flagged = set(reply.flagged_categories)
    result = {
        "flagged": bool(flagged),
        "categories": {c: c in flagged for c in MODERATION_CATEGORIES},
        "category_scores": {c: 0.99 if c in flagged else 0.0001 for c in MODERATION_CATEGORIES},
        "category_applied_input_types": {
            c: ["text", "image"] if c in _IMAGE_CATEGORIES else ["text"]
            for c in MODERATION_CATEGORIES
        },
    }
    return {
        "id": new_id("modr-"),
        "model": request.get("model") or MODERATION_MODEL,
        "results": [result] * count,
    }


def models_list(model_ids: list[str]) -> dict[str, Any]:
    """``GET /v1/models``: a page of ``Model`` objects."""
    return {"object": "list", "data": [model_object(m) for m in model_ids]}


def model_object(model_id: str) -> dict[str, Any]:
    """One ``Model`` object."""
    return {"id": model_id, "object": "model", "created": 0, "owned_by": "model-server"}
