"""The ``POST /api/workflows`` request: the seed's camelCase fields plus two additions."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field


class WorkflowRequest(BaseModel):
    """A workflow submission. Strict JSON types; unknown fields are rejected.

    Limits that depend on settings are checked by ``api.validation``.
    """

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)

    #: Documented as non-blank; that it compiles and defines an entrypoint is checked too.
    workflow_code: str = Field(
        alias="workflowCode", json_schema_extra={"minLength": 1, "pattern": "\\S"}
    )
    input: dict[str, Any] | None = Field(None, alias="input")
    session_id: str | None = Field(None, alias="sessionId")
    #: ``ephemeral`` (default) or ``reuse`` (needs ``sessionId``); a ``sessionId`` alone
    #: means ``reuse``, as in the seed contract.
    session_strategy: Literal["ephemeral", "reuse"] | None = Field(None, alias="sessionStrategy")
    environment_variables: dict[str, str] | None = Field(None, alias="environmentVariables")
    runner_preamble: str | None = Field(None, alias="runnerPreamble")
    command_override: str | None = Field(None, alias="commandOverride")
    timeout_seconds: int | None = Field(None, alias="timeoutSeconds")
    #: Variable name -> app-setting NAME (resolved only inside the StartExecution activity).
    secret_environment_variables: dict[str, str] | None = Field(
        None, alias="secretEnvironmentVariables"
    )
    #: Re-run the workflow in a ``reuse`` session if the session loses the run (its host
    #: restarted, it expired): its earlier files may be gone. Ephemeral runs always re-run.
    rerun_on_session_loss: bool | None = Field(None, alias="rerunOnSessionLoss")
    #: Where the run's final status is POSTed when it ends (docs/api.md, *Webhooks*).
    callback_url: str | None = Field(
        None, alias="callbackUrl", json_schema_extra={"maxLength": 2048, "format": "uri"}
    )


class CancelRequest(BaseModel):
    """The optional body of ``POST /api/workflows/{instanceId}/cancel``."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)

    reason: str | None = Field(None, max_length=1000, alias="reason")
