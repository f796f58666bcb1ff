"""Who is calling: the owner that scopes runs, named sessions and idempotency keys.

Pure functions. With ``AzureSession__OwnerHeader`` set, a trusted gateway names
the caller in that header (required then). Otherwise the caller is identified by
its function key: ``key-`` + the first 16 hex digits of SHA-256 of the
``x-functions-key`` header (or the ``code`` query parameter), so the key itself is
never stored; no key at all (local runs, anonymous routes) is ``anonymous``.

Every instance id starts with the owner's tag (:func:`owner_tag`), so status,
cancel and listing decide whether a run is the caller's from the id alone
(:func:`belongs_to`), without reading the durable backend.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Mapping

from api.problems import TYPE_MISCONFIGURED, TYPE_UNAUTHORIZED, ApiProblem
from settings import ENV_PREFIX, SessionSettings, SettingsError, get_settings
from telemetry import get_logger

logger = get_logger("api")

ANONYMOUS_OWNER = "anonymous"
FUNCTION_KEY_HEADER = "x-functions-key"
FUNCTION_KEY_QUERY = "code"
KEY_OWNER_PREFIX = "key-"
KEY_HASH_HEX_CHARS = 16
#: What an owner named by the gateway may look like (visible ASCII, bounded).
OWNER_VALUE = re.compile(r"[\x21-\x7e]{1,200}")
#: Owner tags: ``o`` + 12 hex digits of SHA-256 over this domain prefix and the owner.
OWNER_TAG_PREFIX = "o"
OWNER_TAG_DOMAIN = "aro-owner\0"
OWNER_TAG_HEX_CHARS = 12


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


def load_settings_or_problem(settings: SessionSettings | None) -> SessionSettings:
    """``settings`` or the process settings; a 500 problem naming bad settings."""
    if settings is not None:
        return settings
    try:
        return get_settings()
    except SettingsError as exc:
        logger.error("settings: %s", exc)
        raise ApiProblem(500, "Service misconfigured", str(exc), type_=TYPE_MISCONFIGURED) from None


def resolve_caller(
    headers: Mapping[str, str], params: Mapping[str, str], settings: SessionSettings | None
) -> tuple[SessionSettings, str]:
    """What every handler needs first: the settings, and the owner the caller acts as."""
    settings = load_settings_or_problem(settings)
    return settings, caller_owner(headers, params, owner_header=settings.owner_header)


def owner_tag(owner: str) -> str:
    """The prefix of every instance id of ``owner``: short, fixed length, id-safe, not the owner."""
    digest = hashlib.sha256((OWNER_TAG_DOMAIN + owner).encode("utf-8")).hexdigest()
    return OWNER_TAG_PREFIX + digest[:OWNER_TAG_HEX_CHARS]


def belongs_to(instance_id: str, owner: str) -> bool:
    """Whether ``instance_id`` carries ``owner``'s tag: the ownership check, no backend read."""
    prefix = (owner_tag(owner) + "-").encode("utf-8")
    return hmac.compare_digest(instance_id.encode("utf-8")[: len(prefix)], prefix)
