"""The one place HTTP authorization is decided: function keys, like the Azure Functions host.

Levels: `anonymous` is always allowed; `function` needs one of the configured keys in the
`x-functions-key` header or the `code` query parameter (the header wins when both are
sent); `admin` needs the master key when one is configured, else a function key; `system`
(the Durable webhooks, as on Azure where they take the `durabletask_extension` system key)
needs the system key or the master key, never a function key: a caller's key must not
open other callers' instances. `allow_anonymous` opens every level. With no key
configured and `allow_anonymous` off, everything but `anonymous` answers 401 with a body
naming the settings.
"""

from __future__ import annotations

import enum
import hmac
import ipaddress
from collections.abc import Mapping
from dataclasses import dataclass

from pydantic import BaseModel, ConfigDict
from starlette.responses import JSONResponse

FUNCTION_KEYS_SETTING = "LocalRuntime__FunctionKeys"
MASTER_KEY_SETTING = "LocalRuntime__MasterKey"
#: The Durable extension's system key (``durabletask_extension`` on Azure).
SYSTEM_KEY_SETTING = "LocalRuntime__DurableTaskExtensionKey"
ALLOW_ANONYMOUS_SETTING = "LocalRuntime__AllowAnonymous"
KEY_HEADER = "x-functions-key"
KEY_QUERY = "code"

NOT_CONFIGURED_MESSAGE = (
    "This function requires a key, but the local runtime has no key configured. "
    f"Set {FUNCTION_KEYS_SETTING} (comma-separated keys; callers send one in the "
    f"{KEY_HEADER} header or the ?{KEY_QUERY}= query parameter) in local.settings.json "
    f"Values or the environment, or set {ALLOW_ANONYMOUS_SETTING}=true to accept "
    "requests without a key. `make run` generates a key on first run."
)
MISSING_KEY_MESSAGE = (
    f"A function key is required: send it in the {KEY_HEADER} header "
    f"or the {KEY_QUERY} query parameter."
)
INVALID_KEY_MESSAGE = "The function key is not valid."
SYSTEM_KEY_MESSAGE = (
    "The Durable management API needs the system key (durabletask_extension on Azure; "
    f"{SYSTEM_KEY_SETTING} here) or the master key; a function key does not open it."
)


class AuthConfig(BaseModel):
    """The keys the host accepts and whether requests without a key are let through."""

    model_config = ConfigDict(frozen=True)

    function_keys: tuple[str, ...] = ()
    master_key: str | None = None
    system_key: str | None = None
    allow_anonymous: bool = False

    @property
    def has_keys(self) -> bool:
        """Whether any key (function or master) is configured."""
        return bool(self.function_keys or self.master_key)

    def __repr__(self) -> str:  # never print keys
        return (
            f"AuthConfig(function_keys=<{len(self.function_keys)}>, "
            f"master_key={'<set>' if self.master_key else None}, "
            f"system_key={'<set>' if self.system_key else None}, "
            f"allow_anonymous={self.allow_anonymous})"
        )

    __str__ = __repr__


class Denial(enum.Enum):
    """Why a request was refused (each maps to one 401 message)."""

    NOT_CONFIGURED = NOT_CONFIGURED_MESSAGE
    MISSING_KEY = MISSING_KEY_MESSAGE
    INVALID_KEY = INVALID_KEY_MESSAGE
    SYSTEM_KEY_REQUIRED = SYSTEM_KEY_MESSAGE


@dataclass(frozen=True)
class AuthResult:
    """The decision; `query_key` is the accepted key when the caller sent it as `?code=`."""

    denial: Denial | None = None
    query_key: str | None = None


ALLOWED = AuthResult()


def presented_key(headers: Mapping[str, str], query: Mapping[str, str]) -> tuple[str | None, bool]:
    """The key the caller sent and whether it came from the query string."""
    header = headers.get(KEY_HEADER)
    if header:
        return header, False
    code = query.get(KEY_QUERY)
    return (code, True) if code else (None, False)


def authorize(
    *,
    auth_level: str,
    headers: Mapping[str, str],
    query: Mapping[str, str],
    config: AuthConfig,
) -> AuthResult:
    """Whether a request may call a function with this auth level, and why not."""
    level = auth_level.lower()
    if level == "anonymous" or config.allow_anonymous:
        return ALLOWED
    accepted = _accepted_keys(level, config)
    if not accepted:
        system = level == "system" and config.has_keys
        return AuthResult(Denial.SYSTEM_KEY_REQUIRED if system else Denial.NOT_CONFIGURED)
    key, from_query = presented_key(headers, query)
    if key is None:
        return AuthResult(Denial.SYSTEM_KEY_REQUIRED if level == "system" else Denial.MISSING_KEY)
    if not _matches(key, accepted):
        return AuthResult(Denial.SYSTEM_KEY_REQUIRED if level == "system" else Denial.INVALID_KEY)
    return AuthResult(query_key=key if from_query else None)


def _accepted_keys(level: str, config: AuthConfig) -> tuple[str, ...]:
    master = (config.master_key,) if config.master_key else ()
    if level == "system":
        return ((config.system_key,) if config.system_key else ()) + master
    if level == "admin" and master:
        return master
    return config.function_keys + master


def _matches(key: str, accepted: tuple[str, ...]) -> bool:
    """Constant-time comparison against every accepted key (no early exit)."""
    given = key.encode()
    found = False
    for candidate in accepted:
        found |= hmac.compare_digest(given, candidate.encode())
    return found


def unauthorized_response(denial: Denial) -> JSONResponse:
    """The 401 answer (Azure sends an empty body; a one-field JSON body says why)."""
    return JSONResponse({"error": denial.value}, status_code=401)


def is_loopback(host: str) -> bool:
    """Whether `host` only accepts connections from this machine."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def startup_warnings(*, host: str, config: AuthConfig) -> list[str]:
    """What to tell the operator loudly before serving (exposed or unusable set-ups)."""
    warnings: list[str] = []
    exposed = not is_loopback(host)
    if exposed and config.allow_anonymous:
        warnings.append(
            f"!!! Listening on {host} (not loopback) with {ALLOW_ANONYMOUS_SETTING}=true: "
            "anyone who can reach this port can start, read and terminate workflows. "
            "Bind 127.0.0.1 or configure keys."
        )
    elif exposed and not config.has_keys:
        warnings.append(
            f"!!! Listening on {host} (not loopback) without {FUNCTION_KEYS_SETTING}: "
            "anonymous-level functions are reachable by anyone who can reach this port."
        )
    if exposed and config.has_keys:
        warnings.append(
            f"Listening on {host} (not loopback) over plain HTTP: function keys travel unencrypted."
        )
    if not config.has_keys and not config.allow_anonymous:
        warnings.append(
            f"No {FUNCTION_KEYS_SETTING} configured and {ALLOW_ANONYMOUS_SETTING} is not "
            "true: every function- and admin-level function and the Durable webhooks will "
            "answer 401."
        )
    return warnings
