"""Create ``local.settings.json`` on first run, with fresh secrets, like ``func init`` would.

The example file in the repository holds placeholders (values in angle
brackets); real secrets (including the function key callers send as
``x-functions-key``) are generated here, on the user's machine, and never
committed (``local.settings.json`` is git-ignored).
"""

from __future__ import annotations

import json
import os
import secrets
from pathlib import Path

#: The Functions host's accepted keys (read by ``local_runtime``, comma-separated).
FUNCTION_KEYS = "LocalRuntime__FunctionKeys"
#: The Durable management API's system key (``durabletask_extension`` on Azure).
SYSTEM_KEY = "LocalRuntime__DurableTaskExtensionKey"

#: Settings the local stack needs; generated when missing or still a placeholder.
GENERATED = (
    "AzureSession__SessionIdentifierKey",
    "AzureSession__StaticToken",
    FUNCTION_KEYS,
    SYSTEM_KEY,
    "AzureSession__CallbackSigningSecret",
)

DEFAULT_VALUES: dict[str, str] = {
    "FUNCTIONS_WORKER_RUNTIME": "python",
    "AzureWebJobsStorage": "UseDevelopmentStorage=true",
    "AzureWebJobsFeatureFlags": "EnableWorkerIndexing",
    "AzureSession__AuthMode": "static-token",
    # a webhook receiver on this machine works out of the box (docs/api.md, *Webhooks*)
    "AzureSession__CallbackAllowedHosts": "127.0.0.1,::1,localhost",
    "AzureSession__CallbackAllowHttp": "true",
}


#: Placeholder values of older example files (public, so never kept as a secret).
LEGACY_PLACEHOLDERS = ("change-me",)


def _is_placeholder(value: object) -> bool:
    return (
        not isinstance(value, str)
        or not value
        or value.startswith("<")
        or value.startswith(LEGACY_PLACEHOLDERS)
    )


def ensure_local_settings(
    path: Path, *, pool_endpoint: str, example: Path | None = None
) -> dict[str, str]:
    """Return the ``Values`` of ``path``, creating or completing the file first.

    Existing values are kept; only missing or placeholder secrets are filled in,
    and the pool endpoint is set when absent.
    """
    if path.exists():
        document = json.loads(path.read_text())
    elif example is not None and example.exists():
        document = json.loads(example.read_text())
    else:
        document = {"IsEncrypted": False, "Values": {}}
    values: dict[str, str] = document.setdefault("Values", {})
    changed = not path.exists()
    for name, value in DEFAULT_VALUES.items():
        if name not in values:
            values[name] = value
            changed = True
    if _is_placeholder(values.get("AzureSession__PoolManagementEndpoint")) and not values.get(
        "AzureSession__BaseUrl"
    ):
        values["AzureSession__PoolManagementEndpoint"] = pool_endpoint
        changed = True
    for name in GENERATED:
        if _is_placeholder(values.get(name)):
            values[name] = secrets.token_urlsafe(32)
            changed = True
    if changed:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        os.fchmod(fd, 0o600)  # the mode above only applies if the file did not exist yet
        with os.fdopen(fd, "w") as handle:
            json.dump(document, handle, indent=2)
            handle.write("\n")
        os.replace(tmp, path)
    return dict(values)
