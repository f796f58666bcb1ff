"""Read `local.settings.json` the way Core Tools does: `Values` become environment variables.

Variables already set in the environment win (Core Tools does not override them either),
so `AzureSession__X=... python -m local_runtime` still works.
"""

from __future__ import annotations

import json
import os
from collections.abc import MutableMapping
from pathlib import Path

from local_runtime.errors import ConfigError


def read_local_settings(path: str | Path) -> dict[str, str]:
    """The `Values` section as strings; an absent file gives {}."""
    path = Path(path)
    if not path.is_file():
        return {}
    try:
        document = json.loads(path.read_text(encoding="utf-8-sig"))
    except json.JSONDecodeError as exc:
        raise ConfigError(f"{path}: invalid JSON: {exc}") from exc
    values = document.get("Values") or {}
    if not isinstance(values, dict):
        raise ConfigError(f"{path}: 'Values' must be an object")
    return {str(k): "" if v is None else str(v) for k, v in values.items()}


def apply_local_settings(
    path: str | Path, *, environ: MutableMapping[str, str] | None = None
) -> dict[str, str]:
    """Copy `Values` into the environment without overriding; returns what was set."""
    environ = os.environ if environ is None else environ
    applied: dict[str, str] = {}
    for key, value in read_local_settings(path).items():
        if key not in environ:
            environ[key] = value
            applied[key] = value
    return applied
