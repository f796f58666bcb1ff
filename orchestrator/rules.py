"""Rules on request values that hold whatever the settings: shared by the API and the
orchestration input, so input that reaches the orchestrator some other way (the Durable
management API, a hand-written start) is refused by the same rules as a submission.
"""

from __future__ import annotations

import re

ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
SESSION_ID = re.compile(r"[A-Za-z0-9_-]{4,128}")
#: Longest value of one environment variable, in characters.
MAX_ENV_VALUE_CHARS = 32 * 1024
#: Variables a request may not set: they would break the launcher, run.py or the interpreter.
DENIED_ENV_NAMES = frozenset(
    {
        "PATH",
        "HOME",
        "PYTHONPATH",
        "PYTHONHOME",
        "PYTHONSTARTUP",
        "PYTHONSAFEPATH",
        "PYTHONNOUSERSITE",
        "PYTHONUSERBASE",
        "PYTHONEXECUTABLE",
        "PYTHONPLATLIBDIR",
        "PYTHONINSPECT",
        "LD_PRELOAD",
        "LD_LIBRARY_PATH",
        "LD_AUDIT",
    }
)
#: Prefix reserved for the service's own variables.
RESERVED_ENV_PREFIX = "ARO_"


def variable_name_problem(name: str) -> str | None:
    """Why ``name`` may not be an environment variable of a run, or None."""
    if not ENV_NAME.fullmatch(name):
        return "is not a valid variable name ([A-Za-z_][A-Za-z0-9_]*)"
    if name.upper() in DENIED_ENV_NAMES:
        return f"may not be set: {name} would break the runner"
    if name.upper().startswith(RESERVED_ENV_PREFIX):
        return f"is reserved: names starting with {RESERVED_ENV_PREFIX} belong to the service"
    return None


def variable_value_problem(value: str) -> str | None:
    """Why ``value`` may not be an environment variable's value, or None."""
    if "\x00" in value:
        return "must not contain NUL characters"
    if len(value) > MAX_ENV_VALUE_CHARS:
        return f"is {len(value)} characters; the limit is {MAX_ENV_VALUE_CHARS}"
    return None
