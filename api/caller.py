"""Who is calling: the owner that scopes named sessions, idempotency keys and cancellations.

One pure function. With ``AzureSession__OwnerHeader`` set, a trusted gateway names
the caller in that header (required then). Otherwise the caller is identified by
its function key: ``key-`` + the first 16 hex digits of SHA-256 of the
``x-functions-key`` header (or the ``code`` query parameter), so the key itself is
never stored; no key at all (local runs, anonymous routes) is ``anonymous``.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping

from api.problems import TYPE_UNAUTHORIZED, ApiProblem
from settings import ENV_PREFIX

ANONYMOUS_OWNER = "anonymous"
FUNCTION_KEY_HEADER = "x-functions-key"
FUNCTION_KEY_QUERY = "code"
KEY_OWNER_PREFIX = "key-"
KEY_HASH_HEX_CHARS = 16
#: What an owner named by the gateway may look like (visible ASCII, bounded).
OWNER_VALUE = re.compile(r"[\x21-\x7e]{1,200}")


def _lookup(mapping: Mapping[str, str], name: str) -> str | None:
    """``mapping[name]`` ignoring case (plain dicts in tests, case-insensitive on the host)."""
    value = mapping.get(name)
    if value is not None:
        return value
    lowered = name.lower()
    for key, candidate in mapping.items():
        if key.lower() == lowered:
            return candidate
    return None


def key_owner(function_key: str) -> str:
    """The owner for a function key: a short hash, never the key."""
    digest = hashlib.sha256(function_key.encode("utf-8")).hexdigest()
    return KEY_OWNER_PREFIX + digest[:KEY_HASH_HEX_CHARS]


def caller_owner(
    headers: Mapping[str, str],
    params: Mapping[str, str],
    *,
    owner_header: str | None,
) -> str:
    """The caller's owner id, or a 401 problem if the trusted owner header is missing."""
    if owner_header:
        value = (_lookup(headers, owner_header) or "").strip()
        if not OWNER_VALUE.fullmatch(value):
            raise ApiProblem(
                401,
                "Unauthorized",
                f"The {owner_header} header must name the caller (1-200 visible ASCII "
                f"characters); it is required because {ENV_PREFIX}OwnerHeader is set.",
                type_=TYPE_UNAUTHORIZED,
            )
        return value
    key = _lookup(headers, FUNCTION_KEY_HEADER) or _lookup(params, FUNCTION_KEY_QUERY)
    if key:
        return key_owner(key)
    return ANONYMOUS_OWNER
