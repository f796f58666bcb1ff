"""A loopback OpenAI-compatible model server that answers from a test's script.

It serves ``POST /v1/responses`` (plain and streamed), ``POST /v1/chat/completions``,
``POST /v1/moderations`` and ``GET /v1/models`` on 127.0.0.1, shaped exactly as the
openai Python SDK parses them, and records every request for assertions. Point
``OPENAI_BASE_URL`` at :attr:`ModelServer.base_url` and real Agent Builder exports
run offline.
"""

from .app import DEFAULT_MODELS, ServerState, create_app
from .recorder import Recorder
from .replies import (
    ErrorReply,
    JsonReply,
    ModerationReply,
    Reply,
    TextReply,
    ToolCall,
    ToolCallsReply,
    error,
    json_output,
    moderation,
    text,
    tool_call,
    tool_calls,
)
from .requests import ModelRequest
from .scripts import ReplyQueue, Script, ScriptFunction, echo, first_match
from .server import ModelServer, ModelServerError, run_model_server

__all__ = [
    "DEFAULT_MODELS",
    "ErrorReply",
    "JsonReply",
    "ModelRequest",
    "ModelServer",
    "ModelServerError",
    "ModerationReply",
    "Recorder",
    "Reply",
    "ReplyQueue",
    "Script",
    "ScriptFunction",
    "ServerState",
    "TextReply",
    "ToolCall",
    "ToolCallsReply",
    "create_app",
    "echo",
    "error",
    "first_match",
    "json_output",
    "moderation",
    "run_model_server",
    "text",
    "tool_call",
    "tool_calls",
]
