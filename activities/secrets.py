"""Secret environment variables: resolved from app settings, kept out of everything else.

Besides ``settings.py`` this is the ONE place that reads the process environment:
a request names app settings (which must be on
``AzureSession__SecretSettingsAllowList``), and only ``StartExecution`` turns
the names into values, so values never enter orchestration history, results or
logs.
"""

from __future__ import annotations

import base64
import json
import os
import urllib.parse
from collections.abc import Iterable, Mapping
from typing import Any

from settings import ENV_PREFIX

REDACTED = "***"


class SecretResolutionError(Exception):
    """A secret names an app setting that is not allowed or not set."""

    def __init__(self, message: str, *, type_: str) -> None:
        super().__init__(message)
        self.type = type_


def resolve_secrets(
    secrets: Mapping[str, str],
    *,
    allowed: Iterable[str],
    environ: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """``{variable: value}`` for ``{variable: setting name}``, refusing names not allowed."""
    allowed = frozenset(allowed)
    source = os.environ if environ is None else environ
    values: dict[str, str] = {}
    for variable, setting in secrets.items():
        if setting not in allowed:
            raise SecretResolutionError(
                f"Secret {variable!r} names app setting {setting!r}, which is not on "
                f"{ENV_PREFIX}SecretSettingsAllowList.",
                type_="SecretNotAllowed",
            )
        value = source.get(setting)
        if value is None:
            raise SecretResolutionError(
                f"Secret {variable!r} names app setting {setting!r}, which is not set.",
                type_="SecretMissing",
            )
        values[variable] = value
    return values


#: Shortest encoded form worth replacing (shorter strings would blank out ordinary text).
MIN_FORM_LENGTH = 4


def secret_forms(value: str) -> set[str]:
    """The secret as code commonly prints it: as is, URL-quoted, JSON- and repr-escaped, base64.

    Best effort: a deliberate transformation (reversed, split, XORed) is not recognised.
    """
    raw = value.encode("utf-8")
    forms = {
        value,
        urllib.parse.quote(value, safe=""),
        urllib.parse.quote(value),
        urllib.parse.quote_plus(value),
        json.dumps(value)[1:-1],
        json.dumps(value, ensure_ascii=False)[1:-1],
        repr(value)[1:-1],
        ascii(value)[1:-1],
    }
    for encode in (base64.b64encode, base64.urlsafe_b64encode):
        encoded = encode(raw).decode("ascii")
        forms |= {encoded, encoded.rstrip("=")}
    return {form for form in forms if len(form) >= MIN_FORM_LENGTH} | {value}


def redact(text: str, values: Iterable[str]) -> str:
    """``text`` with every form of every secret value (longest first) replaced by ``***``."""
    forms = set().union(*(secret_forms(v) for v in values if v))
    for form in sorted(forms, key=len, reverse=True):
        text = text.replace(form, REDACTED)
    return text


def redact_json(value: Any, values: Iterable[str]) -> Any:
    """A JSON value with every secret blanked out of its strings (keys included)."""
    secrets = [v for v in values if v]
    if not secrets:
        return value
    if isinstance(value, str):
        return redact(value, secrets)
    if isinstance(value, list):
        return [redact_json(item, secrets) for item in value]
    if isinstance(value, dict):
        return {redact(k, secrets): redact_json(v, secrets) for k, v in value.items()}
    return value
