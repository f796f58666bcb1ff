"""One request as the server saw it: recorded for assertions and handed to scripts.

The helpers read the *content* of a request (instructions, tools, tool results,
structured-output schema), so a script can decide its answer from the request alone.
That is what lets the same script serve a workflow running in another process.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from pydantic import BaseModel, ConfigDict

REDACTED = "<redacted>"
#: Headers that carry a credential; their values are never recorded.
CREDENTIAL_HEADERS = ("authorization", "api-key", "x-api-key", "openai-api-key")
#: Tool types the client runs itself; every other type is hosted by the provider.
LOCAL_TOOL_TYPES = frozenset({"function", "custom"})


class ModelRequest(BaseModel):
    """A recorded HTTP request: method, path, headers (secrets redacted) and JSON body."""

    model_config = ConfigDict(frozen=True)

    index: int
    method: str
    path: str
    headers: dict[str, str]
    body: Any = None
    #: SHA-256 (hex) of the credential sent (the bearer token or api key), never the value.
    credential_sha256: str | None = None

    def credential_is(self, expected: str) -> bool:
        """Whether the request carried exactly ``expected`` as its key (compared by digest)."""
        return self.credential_sha256 == credential_digest(expected)

    # --- what kind of call -------------------------------------------------
    @property
    def endpoint(self) -> str:
        """The API path after ``/v1/``: ``responses``, ``chat/completions``, ``moderations``..."""
        return self.path.removeprefix("/v1/").strip("/")

    @property
    def is_model_call(self) -> bool:
        """True for ``responses`` and ``chat/completions`` (the calls a model answers)."""
        return self.endpoint in ("responses", "chat/completions")

    @property
    def model(self) -> str | None:
        """The ``model`` the client asked for."""
        return self._get("model")

    @property
    def stream(self) -> bool:
        """Whether the client asked for server-sent events."""
        return bool(self._get("stream"))

    # --- agent content -----------------------------------------------------
    @property
    def instructions(self) -> str | None:
        """The agent's instructions: ``instructions`` (Responses) or the system message (Chat)."""
        if self.endpoint == "responses":
            return self._get("instructions")
        for message in self._get("messages") or []:
            if message.get("role") in ("system", "developer"):
                return _text_of(message.get("content"))
        return None

    @property
    def tools(self) -> list[dict[str, Any]]:
        """The request's tool definitions as sent."""
        return [tool for tool in self._get("tools") or [] if isinstance(tool, dict)]

    @property
    def tool_names(self) -> list[str]:
        """Names of the function tools offered to the model."""
        names = []
        for tool in self.tools:
            name = tool.get("name") or (tool.get("function") or {}).get("name")
            if tool.get("type") in LOCAL_TOOL_TYPES and name:
                names.append(name)
        return names

    @property
    def hosted_tool_types(self) -> list[str]:
        """Types of provider-hosted tools (web search, file search, MCP...) in the request."""
        return [str(t.get("type")) for t in self.tools if t.get("type") not in LOCAL_TOOL_TYPES]

    @property
    def tool_outputs(self) -> list[dict[str, Any]]:
        """Results of earlier tool calls sent back: ``{"call_id", "output"}`` each."""
        found = []
        for item in self._input_items():
            if item.get("type") == "function_call_output":
                found.append({"call_id": item.get("call_id"), "output": item.get("output")})
            elif item.get("role") == "tool":
                found.append(
                    {"call_id": item.get("tool_call_id"), "output": _text_of(item.get("content"))}
                )
        return found

    @property
    def user_texts(self) -> list[str]:
        """The text of every user message, oldest first."""
        if isinstance(self._get("input"), str):
            return [self._get("input")]
        return [_text_of(i.get("content")) for i in self._input_items() if i.get("role") == "user"]

    @property
    def last_user_text(self) -> str | None:
        """The newest user message's text."""
        texts = self.user_texts
        return texts[-1] if texts else None

    @property
    def assistant_texts(self) -> list[str]:
        """The text of every assistant message in the input (earlier turns)."""
        return [
            _text_of(i.get("content")) for i in self._input_items() if i.get("role") == "assistant"
        ]

    @property
    def output_schema(self) -> dict[str, Any] | None:
        """The structured-output format asked for: ``{"name", "schema", "strict"}`` or None."""
        if self.endpoint == "responses":
            fmt = (self._get("text") or {}).get("format") or {}
            return fmt if fmt.get("type") == "json_schema" else None
        fmt = self._get("response_format") or {}
        if fmt.get("type") == "json_schema":
            return fmt.get("json_schema") or {}
        return None

    @property
    def moderation_input(self) -> Any:
        """The ``input`` of a moderation request."""
        return self._get("input")

    # --- helpers -----------------------------------------------------------
    def _get(self, key: str) -> Any:
        return self.body.get(key) if isinstance(self.body, dict) else None

    def _input_items(self) -> list[dict[str, Any]]:
        items = self._get("input") if self.endpoint == "responses" else self._get("messages")
        if not isinstance(items, list):
            return []
        return [item for item in items if isinstance(item, dict)]


def redact_headers(headers: dict[str, str]) -> dict[str, str]:
    """Lower-cased headers with credential values replaced (the scheme is kept)."""
    redacted = {}
    for name, value in headers.items():
        key = name.lower()
        if key in CREDENTIAL_HEADERS:
            scheme, _, rest = value.partition(" ")
            value = f"{scheme} {REDACTED}" if rest else REDACTED
        redacted[key] = value
    return redacted


def credential_digest(value: str) -> str:
    """The SHA-256 hex digest recorded in place of a credential."""
    return hashlib.sha256(value.encode("utf-8")).hexdigest()


def credential_sha256(headers: dict[str, str]) -> str | None:
    """Digest of the first credential header's value (the part after a ``Bearer`` scheme)."""
    lowered = {name.lower(): value for name, value in headers.items()}
    for key in CREDENTIAL_HEADERS:
        value = lowered.get(key)
        if value is None:
            continue
        scheme, _, rest = value.partition(" ")
        token = rest if rest and scheme.lower() == "bearer" else value
        return credential_digest(token.strip())
    return None


def _text_of(content: Any) -> str:
    """Plain text of a message ``content``: a string or a list of text parts."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        parts = []
        for part in content:
            if isinstance(part, dict) and isinstance(part.get("text"), str):
                parts.append(part["text"])
            elif isinstance(part, str):
                parts.append(part)
        return "".join(parts)
    return "" if content is None else json.dumps(content)
