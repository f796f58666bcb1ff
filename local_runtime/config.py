"""Runtime configuration: CLI options plus the parts of host.json the runtime honours."""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from local_runtime.auth import (
    ALLOW_ANONYMOUS_SETTING,
    FUNCTION_KEYS_SETTING,
    MASTER_KEY_SETTING,
    SYSTEM_KEY_SETTING,
    AuthConfig,
)
from local_runtime.errors import ConfigError

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 7071
DEFAULT_DB_PATH = ".local/durable.sqlite3"
DEFAULT_ROUTE_PREFIX = "api"
DEFAULT_HUB_NAME = "TestHubName"
DEFAULT_MAX_CONCURRENT_ACTIVITIES = 10
DEFAULT_MAX_CONCURRENT_ORCHESTRATIONS = 10


class HostOptions(BaseModel):
    """What the runtime reads from host.json."""

    model_config = ConfigDict(frozen=True)

    route_prefix: str = DEFAULT_ROUTE_PREFIX
    hub_name: str = DEFAULT_HUB_NAME
    max_concurrent_activities: int = Field(DEFAULT_MAX_CONCURRENT_ACTIVITIES, ge=1)
    max_concurrent_orchestrations: int = Field(DEFAULT_MAX_CONCURRENT_ORCHESTRATIONS, ge=1)


class RuntimeConfig(BaseModel):
    """Everything needed to build a LocalRuntime."""

    model_config = ConfigDict(frozen=True)

    host: str = DEFAULT_HOST
    port: int = DEFAULT_PORT
    db_path: str = DEFAULT_DB_PATH
    options: HostOptions = HostOptions()
    auth: AuthConfig = AuthConfig()

    @property
    def base_url(self) -> str:
        """The origin every generated URL points at."""
        return f"http://{self.host}:{self.port}"


def read_host_json(path: str | Path | None) -> HostOptions:
    """Parse host.json (absent file → defaults); `%Name%` values resolve from the env."""
    if path is None or not Path(path).is_file():
        return HostOptions()
    try:
        document = json.loads(Path(path).read_text(encoding="utf-8-sig"))
    except json.JSONDecodeError as exc:
        raise ConfigError(f"{path}: invalid JSON: {exc}") from exc
    extensions = document.get("extensions") or {}
    http = extensions.get("http") or {}
    durable = extensions.get("durableTask") or {}
    values: dict[str, object] = {}
    if "routePrefix" in http:
        values["route_prefix"] = str(http["routePrefix"] or "")
    if durable.get("hubName"):
        values["hub_name"] = _resolve(str(durable["hubName"]))
    if durable.get("maxConcurrentActivityFunctions") is not None:
        values["max_concurrent_activities"] = durable["maxConcurrentActivityFunctions"]
    if durable.get("maxConcurrentOrchestratorFunctions") is not None:
        values["max_concurrent_orchestrations"] = durable["maxConcurrentOrchestratorFunctions"]
    try:
        return HostOptions(**values)
    except ValueError as exc:
        raise ConfigError(f"{path}: {exc}") from exc


def _resolve(value: str) -> str:
    """`%Setting%` → the app setting's value, as the Functions host does for hubName."""
    match = re.fullmatch(r"%(.+)%", value)
    if match:
        return os.environ.get(match.group(1), DEFAULT_HUB_NAME)
    return value


def parse_function_keys(value: str | None) -> tuple[str, ...]:
    """Comma-separated keys, trimmed; empty entries and `<placeholders>` are dropped."""
    keys = (k.strip() for k in (value or "").split(","))
    return tuple(k for k in keys if k and not _is_placeholder(k))


def read_auth_config(environ: Mapping[str, str] | None = None) -> AuthConfig:
    """The key settings from the environment (where local.settings.json Values land)."""
    environ = os.environ if environ is None else environ
    master = (environ.get(MASTER_KEY_SETTING) or "").strip()
    system = (environ.get(SYSTEM_KEY_SETTING) or "").strip()
    return AuthConfig(
        function_keys=parse_function_keys(environ.get(FUNCTION_KEYS_SETTING)),
        master_key=master if master and not _is_placeholder(master) else None,
        system_key=system if system and not _is_placeholder(system) else None,
        allow_anonymous=_parse_bool(ALLOW_ANONYMOUS_SETTING, environ.get(ALLOW_ANONYMOUS_SETTING)),
    )


def _is_placeholder(value: str) -> bool:
    """`<...>` values come from the committed example file: never accept them as keys."""
    return value.startswith("<") and value.endswith(">")


def _parse_bool(name: str, value: str | None) -> bool:
    text = (value or "").strip().lower()
    if text in ("", "false", "0", "no"):
        return False
    if text in ("true", "1", "yes"):
        return True
    raise ConfigError(f"{name} must be 'true' or 'false', not {value!r}")
