"""The pool identifier of a session, derived so it never travels through history.

``HMAC-SHA256(key, "ephemeral\\0" + instance_id)`` for a per-run session,
``HMAC-SHA256(key, "reuse\\0" + owner + "\\0" + name)`` for a named one: callers
cannot guess or choose another owner's session, and the identifier (a bearer
capability for the session) is not in orchestration input, results or logs.
"""

from __future__ import annotations

import base64
import hashlib
import hmac

from orchestrator.models import SessionRef
from settings import ENV_PREFIX, SessionSettings, SettingsError

IDENTIFIER_PREFIX = {"ephemeral": "aro-e-", "reuse": "aro-r-"}
#: Characters of base32 kept (5 bits each: 40 chars = 200 bits).
DIGEST_CHARS = 40


def derive_identifier(session: SessionRef, instance_id: str, key: bytes) -> str:
    """The pool identifier (4-128 chars of ``[a-z0-9-]``) for ``session`` in this run."""
    if not key:
        raise SettingsError(f"Set {ENV_PREFIX}SessionIdentifierKey (a long random secret).")
    if session.strategy == "reuse":
        if not session.name:
            raise ValueError("a reused session needs a name")
        message = f"reuse\0{session.owner}\0{session.name}"
    else:
        message = f"ephemeral\0{instance_id}"
    digest = hmac.new(key, message.encode("utf-8"), hashlib.sha256).digest()
    encoded = base64.b32encode(digest).decode("ascii").rstrip("=").lower()
    return IDENTIFIER_PREFIX[session.strategy] + encoded[:DIGEST_CHARS]


def identifier_key(settings: SessionSettings) -> bytes:
    """The HMAC key from ``AzureSession__SessionIdentifierKey``, or ``SettingsError``."""
    secret = settings.session_identifier_key
    value = secret.get_secret_value() if secret is not None else ""
    if not value:
        raise SettingsError(
            f"Set {ENV_PREFIX}SessionIdentifierKey (a long random secret): it keys the "
            "session identifiers."
        )
    return value.encode("utf-8")
