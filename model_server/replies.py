"""What a test scripts the model to answer: plain data, turned into OpenAI bodies elsewhere."""

from __future__ import annotations

import json
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field


class _Reply(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class TextReply(_Reply):
    """An assistant message with one ``output_text`` part."""

    kind: Literal["text"] = "text"
    text: str


class ToolCall(BaseModel):
    """One function call the model asks the client to run."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str
    arguments: str = "{}"
    call_id: str | None = None


class ToolCallsReply(_Reply):
    """One or more function calls (``function_call`` output items / ``tool_calls``)."""

    kind: Literal["tool_calls"] = "tool_calls"
    calls: tuple[ToolCall, ...] = Field(min_length=1)


class JsonReply(_Reply):
    """A structured output: the JSON text of ``data`` as the message text."""

    kind: Literal["json"] = "json"
    data: Any

    @property
    def text(self) -> str:
        """The message text the SDK parses against the agent's ``output_type``."""
        return json.dumps(self.data, ensure_ascii=False)


class ErrorReply(_Reply):
    """An HTTP error with OpenAI's error body; ``retry=False`` sends ``x-should-retry: false``."""

    kind: Literal["error"] = "error"
    status: int = Field(ge=400, le=599)
    message: str
    type: str | None = None
    code: str | None = None
    param: str | None = None
    retry: bool = False
    retry_after_ms: int | None = None


class ModerationReply(_Reply):
    """A moderation result: the named categories are flagged, every other one is not."""

    kind: Literal["moderation"] = "moderation"
    flagged_categories: tuple[str, ...] = ()


Reply = TextReply | ToolCallsReply | JsonReply | ErrorReply | ModerationReply


def text(value: str) -> TextReply:
    """A plain assistant message."""
    return TextReply(text=value)


def tool_call(name: str, arguments: Any = None, *, call_id: str | None = None) -> ToolCallsReply:
    """One function call; ``arguments`` is a dict (dumped to JSON) or a JSON string."""
    return ToolCallsReply(calls=(_call(name, arguments, call_id),))


def tool_calls(*calls: tuple[str, Any]) -> ToolCallsReply:
    """Several function calls in one model turn, given as ``(name, arguments)`` pairs."""
    return ToolCallsReply(calls=tuple(_call(name, args, None) for name, args in calls))


def json_output(data: Any) -> JsonReply:
    """A structured output (the agent's ``output_type``), sent as the message's JSON text."""
    return JsonReply(data=data)


def error(
    status: int,
    message: str,
    *,
    type: str | None = None,
    code: str | None = None,
    param: str | None = None,
    retry: bool = False,
    retry_after_ms: int | None = None,
) -> ErrorReply:
    """An HTTP error answer, e.g. ``error(429, "Rate limit reached")``."""
    return ErrorReply(
        status=status,
        message=message,
        type=type,
        code=code,
        param=param,
        retry=retry,
        retry_after_ms=retry_after_ms,
    )


def moderation(*flagged_categories: str) -> ModerationReply:
    """A moderation result flagging the given categories (none: not flagged)."""
    return ModerationReply(flagged_categories=flagged_categories)


def _call(name: str, arguments: Any, call_id: str | None) -> ToolCall:
    if arguments is None:
        arguments = {}
    if not isinstance(arguments, str):
        arguments = json.dumps(arguments, ensure_ascii=False)
    return ToolCall(name=name, arguments=arguments, call_id=call_id)
