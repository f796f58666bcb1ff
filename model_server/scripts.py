"""How a test decides the answers: a queue of replies or a function of the request.

``Script`` is anything :func:`as_script` accepts:

- a sequence of replies, answered in order to model calls (``responses`` and
  ``chat/completions``); moderation requests do not consume it;
- a callable ``(ModelRequest) -> Reply | None`` (sync or async), asked for every
  POST; ``None`` means "no opinion" and gets the endpoint's default;
- ``None``: every model call echoes the last user message.

Defaults when a script has no answer: moderations are not flagged; a model call
gets a 500 error naming the request, with ``x-should-retry: false`` so the client
fails at once instead of retrying.
"""

from __future__ import annotations

import inspect
import threading
from collections.abc import Awaitable, Callable, Iterable, Sequence
from typing import Any

from .replies import ModerationReply, Reply, TextReply, error
from .requests import ModelRequest

ScriptFunction = Callable[[ModelRequest], "Reply | Awaitable[Reply | None] | None"]
Script = Sequence[Reply] | ScriptFunction | None


class ReplyQueue:
    """Answers model calls with the given replies in order; thread-safe."""

    def __init__(self, replies: Iterable[Reply]) -> None:
        self._replies = list(replies)
        self._lock = threading.Lock()

    def __call__(self, request: ModelRequest) -> Reply | None:
        """Pop the next reply for a model call; other calls get the default."""
        if not request.is_model_call:
            return None
        with self._lock:
            return self._replies.pop(0) if self._replies else None

    @property
    def remaining(self) -> int:
        """How many replies are still queued (a test can assert all were used)."""
        with self._lock:
            return len(self._replies)


def echo(request: ModelRequest) -> Reply | None:
    """The default script: answer a model call with the last user text."""
    if not request.is_model_call:
        return None
    return TextReply(text=f"echo: {request.last_user_text or ''}")


def first_match(*rules: ScriptFunction) -> ScriptFunction:
    """Combine scripts: the first one that returns a reply wins."""

    async def combined(request: ModelRequest) -> Reply | None:
        for rule in rules:
            reply = await resolve_reply(rule, request)
            if reply is not None:
                return reply
        return None

    return combined


def as_script(script: Script) -> ScriptFunction:
    """Normalise a sequence, callable or None into one script function."""
    if script is None:
        return echo
    if callable(script):
        return script
    return ReplyQueue(script)


async def resolve_reply(script: ScriptFunction, request: ModelRequest) -> Reply | None:
    """Ask the script (sync or async) for its reply to one request."""
    reply: Any = script(request)
    if inspect.isawaitable(reply):
        reply = await reply
    return reply


def default_reply(request: ModelRequest) -> Reply:
    """The answer when the script has none: clean moderation, or a clear 500."""
    if request.endpoint == "moderations":
        return ModerationReply()
    return error(
        500,
        f"model_server: no scripted reply for {request.method} {request.path} "
        f"(request #{request.index}, model {request.model!r})",
        type="model_server_error",
        code="no_scripted_reply",
    )
