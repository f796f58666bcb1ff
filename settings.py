"""The ``AzureSession`` settings section, read once from the environment.

Azure Functions flattens configuration sections into environment variables
with a double underscore (``AzureSession__BaseUrl``), in ``local.settings.json``
``Values`` locally and in app settings on Azure. This module is the only place
that reads them; everything else receives a :class:`SessionSettings` instance.

The orchestrator never reads settings (it must be deterministic): the starter
copies what the orchestration needs into its input (see ``api.starter``).
"""

from __future__ import annotations

import functools
from typing import Literal

from pydantic import AliasChoices, Field, SecretStr, ValidationError, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

ENV_PREFIX = "AzureSession__"

DEFAULT_API_VERSION = "2024-10-02-preview"
#: The real service's data-plane domain (the seed's ``dynamicsessions.azure.com`` is wrong).
DYNAMIC_SESSIONS_DOMAIN = "dynamicsessions.io"
TOKEN_SCOPE = "https://dynamicsessions.io/.default"
#: The service caps one execution at 220 seconds.
SERVICE_MAX_EXECUTION_SECONDS = 220
MIB = 1024 * 1024

AuthMode = Literal["managed-identity", "static-token", "none"]


def _env(name: str) -> AliasChoices:
    """A field read from ``AzureSession__<name>`` (or its plain name, for tests)."""
    return AliasChoices(f"{ENV_PREFIX}{name}", name)


class SettingsError(RuntimeError):
    """Missing or invalid settings; the message names each setting."""


class SessionSettings(BaseSettings):
    """Everything configurable about talking to a session pool and running workflows."""

    model_config = SettingsConfigDict(
        case_sensitive=False,
        populate_by_name=True,
        extra="ignore",
        frozen=True,
    )

    # --- where the pool is -------------------------------------------------
    base_url: str | None = Field(None, validation_alias=_env("BaseUrl"))
    session_pool_resource_id: str | None = Field(
        None, validation_alias=_env("SessionPoolResourceId")
    )
    pool_management_endpoint: str | None = Field(
        None, validation_alias=_env("PoolManagementEndpoint")
    )
    api_version: str = Field(DEFAULT_API_VERSION, validation_alias=_env("ApiVersion"))

    # --- how to authenticate ------------------------------------------------
    auth_mode: AuthMode = Field("managed-identity", validation_alias=_env("AuthMode"))
    managed_identity_client_id: str | None = Field(
        None, validation_alias=_env("ManagedIdentityClientId")
    )
    static_token: SecretStr | None = Field(None, validation_alias=_env("StaticToken"))

    # --- HTTP behaviour -----------------------------------------------------
    http_timeout_seconds: float = Field(30.0, gt=0, validation_alias=_env("HttpTimeoutSeconds"))
    max_retries: int = Field(4, ge=0, le=10, validation_alias=_env("MaxRetries"))

    # --- the seed's file names and command ---------------------------------
    workflow_file_name: str = Field("workflow.py", validation_alias=_env("WorkflowFileName"))
    runner_file_name: str = Field("run.py", validation_alias=_env("RunnerFileName"))
    input_file_name: str = Field("input.json", validation_alias=_env("InputFileName"))
    output_file_name: str = Field("output.json", validation_alias=_env("OutputFileName"))
    python_command: str = Field("python /mnt/data/run.py", validation_alias=_env("PythonCommand"))

    # --- polling and deadlines ---------------------------------------------
    execution_poll_interval_seconds: float = Field(
        10.0, gt=0, validation_alias=_env("ExecutionPollIntervalSeconds")
    )
    initial_poll_interval_seconds: float = Field(
        0.5, gt=0, validation_alias=_env("InitialPollIntervalSeconds")
    )
    poll_backoff_factor: float = Field(1.5, ge=1, validation_alias=_env("PollBackoffFactor"))
    default_timeout_seconds: int = Field(300, gt=0, validation_alias=_env("DefaultTimeoutSeconds"))
    max_timeout_seconds: int = Field(900, gt=0, validation_alias=_env("MaxTimeoutSeconds"))
    max_execution_seconds: int = Field(
        SERVICE_MAX_EXECUTION_SECONDS,
        gt=0,
        le=SERVICE_MAX_EXECUTION_SECONDS,
        validation_alias=_env("MaxExecutionSeconds"),
    )
    #: ``watch``: activities watch the execution (few durable hops, results late by at most
    #: ``WatchPollMaxSeconds``); ``timers``: durable timers between polls (the three settings
    #: above), which hold no activity slot while waiting.
    poll_mode: Literal["watch", "timers"] = Field("watch", validation_alias=_env("PollMode"))
    fast_watch_seconds: float = Field(1.5, ge=0, le=10, validation_alias=_env("FastWatchSeconds"))
    watch_window_seconds: float = Field(
        30.0, ge=1, le=120, validation_alias=_env("WatchWindowSeconds")
    )
    #: Extra starts when the session loses a run (its host restarted, it expired): always
    #: for ephemeral sessions, for ``reuse`` only with the request's ``rerunOnSessionLoss``.
    session_loss_retries: int = Field(2, ge=0, le=5, validation_alias=_env("SessionLossRetries"))
    watch_poll_max_seconds: float = Field(
        0.25, ge=0.05, le=5, validation_alias=_env("WatchPollMaxSeconds")
    )
    #: How often a watching activity reads the run's progress.json; a change ends its
    #: window early so the orchestration can show it in status (0: never read it).
    progress_interval_seconds: float = Field(
        2.0, ge=0, le=60, validation_alias=_env("ProgressIntervalSeconds")
    )

    # --- request limits -----------------------------------------------------
    max_code_bytes: int = Field(1 * MIB, gt=0, validation_alias=_env("MaxCodeBytes"))
    max_input_bytes: int = Field(10 * MIB, gt=0, validation_alias=_env("MaxInputBytes"))
    #: Largest output.json accepted from a run (it is stored in the durable history).
    max_output_bytes: int = Field(10 * MIB, gt=0, validation_alias=_env("MaxOutputBytes"))
    #: Largest agent trace kept from a run (it travels with the run's result in durable
    #: storage); run.py stops writing spans at this size and marks the trace truncated.
    max_trace_bytes: int = Field(256 * 1024, gt=0, validation_alias=_env("MaxTraceBytes"))
    max_preamble_bytes: int = Field(64 * 1024, gt=0, validation_alias=_env("MaxPreambleBytes"))
    max_command_length: int = Field(4096, gt=0, validation_alias=_env("MaxCommandLength"))
    max_environment_variables: int = Field(
        100, gt=0, validation_alias=_env("MaxEnvironmentVariables")
    )
    output_tail_chars: int = Field(2000, ge=0, validation_alias=_env("OutputTailChars"))

    # --- sessions and secrets ----------------------------------------------
    session_identifier_key: SecretStr | None = Field(
        None, validation_alias=_env("SessionIdentifierKey")
    )
    secret_settings_allow_list: str = Field("", validation_alias=_env("SecretSettingsAllowList"))
    # --- webhooks (activities/callback.py) ---------------------------------
    #: Signs every delivery (``X-ARO-Signature``); requests with ``callbackUrl`` are
    #: refused while it is unset.
    callback_signing_secret: SecretStr | None = Field(
        None, validation_alias=_env("CallbackSigningSecret")
    )
    #: Host names, addresses or networks (CIDR) a callback may reach although they are not
    #: public (loopback, private ranges); comma-separated. Empty: public addresses only.
    callback_allowed_hosts: str = Field("", validation_alias=_env("CallbackAllowedHosts"))
    #: Accept ``http://`` callback URLs (local receivers); https only otherwise.
    callback_allow_http: bool = Field(False, validation_alias=_env("CallbackAllowHttp"))
    callback_timeout_seconds: float = Field(
        10.0, gt=0, le=60, validation_alias=_env("CallbackTimeoutSeconds")
    )
    #: How long deliveries are retried (network errors, 408, 429, 5xx) after the run ends.
    callback_retry_seconds: float = Field(
        300.0, ge=0, le=86400, validation_alias=_env("CallbackRetrySeconds")
    )

    #: Trusted header naming the caller (set by a gateway, e.g. ``X-ARO-Owner``); when unset
    #: the owner is derived from the caller's function key.
    owner_header: str | None = Field(None, validation_alias=_env("OwnerHeader"))
    #: Extra tries (on durable timers) when the pool is full before a run fails with
    #: ``SessionPoolExhausted``; the wait doubles from ``PoolExhaustedRetrySeconds``.
    pool_exhausted_retries: int = Field(
        3, ge=0, le=20, validation_alias=_env("PoolExhaustedRetries")
    )
    pool_exhausted_retry_seconds: float = Field(
        5.0, gt=0, validation_alias=_env("PoolExhaustedRetrySeconds")
    )

    # --- health -------------------------------------------------------------
    #: Budget of the ``GET /api/health?deep=true`` pool probe (token + one GET).
    health_probe_timeout_seconds: float = Field(
        5.0, gt=0, le=60, validation_alias=_env("HealthProbeTimeoutSeconds")
    )

    @model_validator(mode="after")
    def _check_consistency(self) -> SessionSettings:
        if self.max_timeout_seconds < self.default_timeout_seconds:
            raise ValueError(
                f"{ENV_PREFIX}MaxTimeoutSeconds ({self.max_timeout_seconds}) must be >= "
                f"{ENV_PREFIX}DefaultTimeoutSeconds ({self.default_timeout_seconds})"
            )
        key = self.session_identifier_key
        if key is not None and key.get_secret_value().startswith("@Microsoft.KeyVault("):
            raise ValueError(
                f"{ENV_PREFIX}SessionIdentifierKey is an unresolved Key Vault reference: "
                "check the app identity's Key Vault Secrets User role and restart the app"
            )
        if self.auth_mode == "static-token" and self.static_token is None:
            raise ValueError(f"{ENV_PREFIX}AuthMode=static-token needs {ENV_PREFIX}StaticToken")
        return self

    @property
    def pool_endpoint(self) -> str:
        """The pool management endpoint: explicit, or ``BaseUrl`` + ``SessionPoolResourceId``."""
        if self.pool_management_endpoint:
            return self.pool_management_endpoint.rstrip("/")
        if self.base_url and self.session_pool_resource_id:
            return self.base_url.rstrip("/") + "/" + self.session_pool_resource_id.strip("/")
        raise SettingsError(
            f"Set {ENV_PREFIX}PoolManagementEndpoint (e.g. https://<region>."
            f"{DYNAMIC_SESSIONS_DOMAIN}/subscriptions/<sub>/resourceGroups/<rg>/sessionPools/"
            f"<pool>) or both {ENV_PREFIX}BaseUrl and {ENV_PREFIX}SessionPoolResourceId."
        )

    @property
    def secret_settings(self) -> frozenset[str]:
        """App-setting names that requests may reference as secrets."""
        return frozenset(
            name.strip() for name in self.secret_settings_allow_list.split(",") if name.strip()
        )

    @property
    def callback_hosts(self) -> list[str]:
        """``CallbackAllowedHosts`` as a list."""
        return [h.strip() for h in self.callback_allowed_hosts.split(",") if h.strip()]


def load_settings() -> SessionSettings:
    """Read settings from the environment, failing with every bad setting named."""
    try:
        return SessionSettings()
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            loc = ".".join(str(part) for part in err["loc"]) or "settings"
            problems.append(f"{loc}: {err['msg']}")
        raise SettingsError("Invalid AzureSession settings: " + "; ".join(problems)) from exc


@functools.cache
def get_settings() -> SessionSettings:
    """The process-wide settings, built on first use (the Functions host sets env first)."""
    return load_settings()
