"""Structured logs: every line names the orchestration instance and the session execution.

HTTP handlers and activities bind the ids for the duration of one call with
:func:`bind`; loggers from :func:`get_logger` then put
``[instance=<id> execution=<id>]`` in front of every message and set the
``instance_id`` and ``execution_id`` attributes on every record (``-`` when
unknown), so a log query finds all lines of one run. Only these two ids are
added: never the pool identifier, a secret or a function key.

The ids live in :mod:`contextvars`, so concurrent activities on one event loop
(each in its own task) do not see each other's ids.
"""

from __future__ import annotations

import contextlib
import contextvars
import logging
from collections.abc import Iterator, MutableMapping
from typing import Any

#: Shown when an id is not known (yet).
UNKNOWN = "-"

# httpx logs every request at INFO with its full URL, whose query holds the session pool
# identifier (and on Azure these lines go to Application Insights): only its warnings pass.
# session_client logs each call itself, naming the operation path only.
for _name in ("httpx", "httpcore"):
    logging.getLogger(_name).setLevel(logging.WARNING)

_instance_id: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "aro_instance_id", default=None
)
_execution_id: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "aro_execution_id", default=None
)


def current_ids() -> tuple[str, str]:
    """The bound ``(instance_id, execution_id)``, ``-`` where unknown."""
    return _instance_id.get() or UNKNOWN, _execution_id.get() or UNKNOWN


def prefix(instance_id: str | None, execution_id: str | None) -> str:
    """The message prefix for these ids."""
    return f"[instance={instance_id or UNKNOWN} execution={execution_id or UNKNOWN}]"


@contextlib.contextmanager
def bind(*, instance_id: str | None = None, execution_id: str | None = None) -> Iterator[None]:
    """Attach the ids to every log line written inside the block (``None`` keeps the outer)."""
    tokens = []
    if instance_id is not None:
        tokens.append((_instance_id, _instance_id.set(instance_id)))
    if execution_id is not None:
        tokens.append((_execution_id, _execution_id.set(execution_id)))
    try:
        yield
    finally:
        for var, token in reversed(tokens):
            var.reset(token)


class RunLogger(logging.LoggerAdapter):
    """A logger adapter that prefixes messages and sets the ids as record attributes.

    Explicit ids (``RunLogger(logger, instance_id=..., execution_id=...)``) win over the
    bound ones; the orchestrator uses them because it runs outside any bound context.
    """

    def __init__(
        self,
        logger: logging.Logger,
        *,
        instance_id: str | None = None,
        execution_id: str | None = None,
    ) -> None:
        super().__init__(logger, {})
        self.instance_id = instance_id
        self.execution_id = execution_id

    def process(self, msg: Any, kwargs: MutableMapping[str, Any]) -> tuple[Any, Any]:
        """Prefix ``msg`` and add ``instance_id``/``execution_id`` to the record's extras."""
        bound_instance, bound_execution = current_ids()
        instance_id = self.instance_id or bound_instance
        execution_id = self.execution_id or bound_execution
        extra = dict(kwargs.get("extra") or {})
        extra.setdefault("instance_id", instance_id)
        extra.setdefault("execution_id", execution_id)
        kwargs["extra"] = extra
        return f"{prefix(instance_id, execution_id)} {msg}", kwargs

    def for_run(self, *, instance_id: str | None, execution_id: str | None) -> RunLogger:
        """The same logger with explicit ids."""
        return RunLogger(self.logger, instance_id=instance_id, execution_id=execution_id)


def get_logger(name: str) -> RunLogger:
    """A :class:`RunLogger` over ``logging.getLogger(name)``."""
    return RunLogger(logging.getLogger(name))
