"""``Idempotency-Key``: a repeated POST maps to the same orchestration instance.

The instance id is a pure function of the caller's owner and the key (prefixed with
the owner's tag like every instance id, see ``api.caller``), so a retry
(or a concurrent duplicate) of the same request finds the instance the first one
started instead of starting a second run. A hash of the canonical request is
stored in the orchestration input; the same key with a different body is refused.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re

from api.caller import owner_tag
from api.models import WorkflowRequest
from api.problems import ApiProblem

IDEMPOTENCY_HEADER = "Idempotency-Key"
REPLAYED_HEADER = "Idempotent-Replayed"
INSTANCE_PREFIX = "idem-"
#: Characters of base32 kept from the digest (5 bits each: 200 bits).
DIGEST_CHARS = 40
#: 1-200 characters of visible ASCII (no spaces or control characters).
KEY_PATTERN = re.compile(r"[\x21-\x7e]{1,200}")


def check_idempotency_key(value: str | None) -> str | None:
    """The key if the header is absent or well formed, else a 400 problem naming it."""
    if value is None:
        return None
    if not KEY_PATTERN.fullmatch(value):
        raise ApiProblem(
            400,
            "Invalid request",
            f"The {IDEMPOTENCY_HEADER} header must be 1 to 200 visible ASCII characters.",
            errors=[
                {
                    "path": f"headers.{IDEMPOTENCY_HEADER}",
                    "message": "must be 1 to 200 visible ASCII characters (0x21-0x7E)",
                }
            ],
        )
    return value


def idempotent_instance_id(owner: str, key: str) -> str:
    """``<tag>-idem-`` + 40 base32 chars of SHA-256(owner, key): owned, stable, unguessable."""
    digest = hashlib.sha256(f"{owner}\0{key}".encode()).digest()
    encoded = base64.b32encode(digest).decode("ascii").rstrip("=").lower()
    return f"{owner_tag(owner)}-{INSTANCE_PREFIX}{encoded[:DIGEST_CHARS]}"


def request_hash(request: WorkflowRequest) -> str:
    """SHA-256 (hex) of the validated request as canonical JSON (sorted keys, no nulls)."""
    canonical = json.dumps(
        request.model_dump(mode="json", by_alias=True, exclude_none=True),
        sort_keys=True,
        separators=(",", ":"),
    )
    return hashlib.sha256(canonical.encode("ascii")).hexdigest()
