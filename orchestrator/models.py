"""Pydantic models that cross the durable boundary as JSON text.

Internal payloads (orchestration input, activity requests and results) are
snake_case and travel as ``model_dump_json()`` strings, not dicts: the durable
library's loose JSON decoding turns any object with ``__class__``/``__module__``/
``__data__`` keys into a Python object, and user data (input, output.json,
variable names) must never be interpreted that way. ``from_wire`` accepts the
text or an already decoded dict. The documents a caller finally sees (the result envelope and the
error document) are camelCase; dump them with :func:`public_dump`.

Nothing here holds a session identifier or a secret value: activities derive
the identifier from :class:`SessionRef` and resolve secrets from setting names.
"""

from __future__ import annotations

from typing import Any, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, model_validator
from pydantic.alias_generators import to_camel

from orchestrator.rules import SESSION_ID, variable_name_problem, variable_value_problem

SessionStrategy = Literal["ephemeral", "reuse"]
#: How the orchestrator waits for an execution: ``watch`` activities that poll the session
#: and collect the output themselves (few durable hops, lateness <= the watch poll cap), or
#: ``timers``: durable timers between single ``GetExecution`` polls (frees activity slots
#: between polls; lateness grows with the back-off).
PollMode = Literal["watch", "timers"]

#: Deepest nesting of user JSON (``input``, output.json) that may cross the boundary:
#: pydantic's JSON parser refuses 200 levels, and the payloads wrap the value in more.
MAX_JSON_DEPTH = 100


def exceeds_depth(value: Any, limit: int = MAX_JSON_DEPTH) -> bool:
    """True if ``value`` nests objects/arrays deeper than ``limit`` (no recursion, stops early)."""
    stack: list[tuple[Any, int]] = [(value, 0)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict | list):
            if depth >= limit:
                return True
            children = item.values() if isinstance(item, dict) else item
            stack.extend((child, depth + 1) for child in children)
    return False


class BoundaryModel(BaseModel):
    """Immutable snake_case model; unknown fields are ignored so replays survive upgrades."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    def to_wire(self) -> str:
        """The JSON text that crosses the durable boundary."""
        return self.model_dump_json()

    @classmethod
    def from_wire(cls, raw: Any) -> Self:
        """Parse what crossed the boundary: JSON text or a dict."""
        if isinstance(raw, str | bytes):
            return cls.model_validate_json(raw)
        return cls.model_validate(raw)


class PublicModel(BaseModel):
    """camelCase document shown to callers (through the status endpoint)."""

    model_config = ConfigDict(
        extra="ignore", frozen=True, alias_generator=to_camel, populate_by_name=True
    )


def public_dump(model: PublicModel, *, exclude_none: bool = True) -> dict[str, Any]:
    """camelCase JSON dict of a public document, by default without empty optional fields."""
    return model.model_dump(mode="json", by_alias=True, exclude_none=exclude_none)


# --- orchestration input -------------------------------------------------------


class SessionRef(BoundaryModel):
    """Which session to use; the pool identifier is derived from it inside activities."""

    strategy: SessionStrategy
    name: str | None = None
    owner: str = "anonymous"


class RunConfig(BoundaryModel):
    """Every setting the orchestrator needs, copied in by the starter (it never reads settings)."""

    timeout_seconds: int = Field(gt=0)
    max_execution_seconds: int = Field(gt=0)
    initial_poll_seconds: float = Field(gt=0)
    max_poll_seconds: float = Field(gt=0)
    poll_backoff_factor: float = Field(ge=1)
    output_tail_chars: int = Field(ge=0)
    max_output_bytes: int = Field(10 * 1024 * 1024, gt=0)
    workflow_file_name: str = "workflow.py"
    runner_file_name: str = "run.py"
    input_file_name: str = "input.json"
    output_file_name: str = "output.json"
    trace_file_name: str = "trace.jsonl"
    progress_file_name: str = "progress.json"
    max_trace_bytes: int = Field(256 * 1024, gt=0)
    #: Seconds between progress reads while watching (0: none).
    progress_seconds: float = Field(0.0, ge=0)
    retry_first_interval_ms: int = Field(1000, gt=0)
    retry_max_attempts: int = Field(4, ge=1)
    #: Seconds between the launcher's timeout and the session execution's, so the launcher
    #: can still report when it kills the command.
    execution_timeout_margin_seconds: int = Field(10, ge=0)
    #: Extra tries, on durable timers, while the pool is full (``SessionPoolExhausted``).
    pool_retry_attempts: int = Field(3, ge=0)
    #: First wait before such a try; it doubles each time and never passes the deadline.
    pool_retry_seconds: float = Field(5.0, gt=0)
    #: ``timers`` is the default here so that inputs written before ``watch`` existed replay
    #: the flow they started with; the starter writes the configured mode.
    poll_mode: PollMode = "timers"
    #: ``watch``: how long the starting activity watches the new execution before handing
    #: back to the orchestrator (short runs finish inside it: one activity, no timer).
    fast_watch_seconds: float = Field(1.5, ge=0)
    #: ``watch``: how long one ``WatchExecution`` activity polls before returning.
    watch_window_seconds: float = Field(30.0, gt=0)
    #: ``watch``: the first and the longest wait between polls inside an activity.
    watch_first_poll_seconds: float = Field(0.01, gt=0)
    #: Extra starts after the session lost the run (ephemeral, or reuse with the opt-in).
    session_loss_retries: int = Field(2, ge=0)
    watch_max_poll_seconds: float = Field(0.25, gt=0)


class OrchestrationInput(BoundaryModel):
    """What ``StartWorkflow`` hands to ``WorkflowOrchestrator``."""

    workflow_code: str
    input: dict[str, Any] = Field(default_factory=dict)
    session: SessionRef
    environment_variables: dict[str, str] = Field(default_factory=dict)
    #: Variable name -> app-setting NAME; values are resolved in ``StartExecution``.
    secret_environment_variables: dict[str, str] = Field(default_factory=dict)
    runner_preamble: str | None = None
    command: str
    config: RunConfig
    #: Re-run in a ``reuse`` session after the session lost the run (ephemeral always does).
    rerun_on_session_loss: bool = False
    #: SHA-256 of the canonical request when it came with an ``Idempotency-Key``, so a
    #: repeated POST can be told apart from a different one under the same key.
    request_hash: str | None = None
    #: Where the final status is POSTed (checked at submission and at every delivery).
    callback_url: str | None = None

    @model_validator(mode="after")
    def _the_apis_rules(self) -> OrchestrationInput:
        """The submission rules that need no settings, again: input may come another way."""
        problems = []
        for field, variables in (
            ("environment_variables", self.environment_variables),
            ("secret_environment_variables", self.secret_environment_variables),
        ):
            for name, value in variables.items():
                problem = variable_name_problem(name)
                if problem is None and field == "environment_variables":
                    problem = variable_value_problem(value)
                if problem is not None:
                    problems.append(f"{field}.{name} {problem}")
        overlap = set(self.environment_variables) & set(self.secret_environment_variables)
        if overlap:
            problems.append(f"variables set twice: {sorted(overlap)}")
        if self.session.strategy == "reuse" and not SESSION_ID.fullmatch(self.session.name or ""):
            problems.append("session.name must be 4 to 128 characters of A-Z a-z 0-9 _ -")
        if "\x00" in self.command or not self.command.strip():
            problems.append("command must name a command, without NUL characters")
        if problems:
            raise ValueError("; ".join(problems))
        return self


# --- activity payloads -----------------------------------------------------------


class ActivityError(BoundaryModel):
    """A non-transient failure an activity reports instead of raising."""

    type: str
    message: str
    status_code: int | None = None
    code: str | None = None


class ActivityRequest(BoundaryModel):
    """Fields every activity payload carries."""

    instance_id: str
    session: SessionRef


class UploadSpec(BoundaryModel):
    """The files a run starts from: workflow.py, run.py (rendered) and input.json."""

    workflow_code: str
    input: dict[str, Any] = Field(default_factory=dict)
    runner_preamble: str | None = None
    workflow_file_name: str = "workflow.py"
    runner_file_name: str = "run.py"
    input_file_name: str = "input.json"
    output_file_name: str = "output.json"
    trace_file_name: str = "trace.jsonl"
    progress_file_name: str = "progress.json"
    max_trace_bytes: int = Field(256 * 1024, gt=0)


class UploadRequest(ActivityRequest, UploadSpec):
    """``UploadWorkflowFiles``: upload the files of :class:`UploadSpec`."""


class UploadResult(BoundaryModel):
    """Names of the uploaded files and their total size."""

    files: list[str] = Field(default_factory=list)
    total_bytes: int = 0
    error: ActivityError | None = None


class StartRequest(ActivityRequest):
    """``StartExecution``: launch the command asynchronously in the session."""

    execution_id: str
    command: str
    environment_variables: dict[str, str] = Field(default_factory=dict)
    secret_environment_variables: dict[str, str] = Field(default_factory=dict)
    #: The launcher's own timeout for the command.
    timeout_seconds: float = Field(gt=0)
    #: The session execution's timeout: ``timeout_seconds`` plus a margin for the launcher.
    execution_timeout_seconds: float = Field(gt=0)
    tail_chars: int = Field(2000, ge=0)


class StartResult(BoundaryModel):
    """The execution as the pool accepted it."""

    execution_id: str | None = None
    status: str | None = None
    error: ActivityError | None = None


class WatchOptions(BoundaryModel):
    """How long an activity watches an execution, and how it finishes a terminal one."""

    #: Seconds of polling after the first look (0: one look only).
    seconds: float = Field(ge=0)
    first_poll_seconds: float = Field(0.01, gt=0)
    max_poll_seconds: float = Field(0.25, gt=0)
    output_file_name: str = "output.json"
    max_output_bytes: int = Field(10 * 1024 * 1024, gt=0)
    #: Files to delete once the execution is terminal (this run's files, ephemeral only).
    cleanup_files: list[str] = Field(default_factory=list)
    #: Delete the (ephemeral) session itself once terminal, freeing its pool slot.
    release_session: bool = False
    trace_file_name: str = "trace.jsonl"
    progress_file_name: str = "progress.json"
    max_trace_bytes: int = Field(256 * 1024, gt=0)
    #: Read progress.json this often (0: never); a change ends the watch early.
    progress_seconds: float = Field(0.0, ge=0)
    #: ``steps`` of the progress the orchestration already shows (-1: none yet).
    known_steps: int = -1


class RunRequest(StartRequest, UploadSpec):
    """``RunExecution``: upload, start, watch, and collect the output of a quick run.

    Safe to run again (a retry, or a restart of the host): an execution that already exists
    under ``execution_id`` is watched, not started twice.
    """

    watch: WatchOptions
    #: The run's ``timeoutSeconds``, checked again against ``MaxTimeoutSeconds``.
    run_timeout_seconds: int | None = None


class LauncherSummaryDoc(BoundaryModel):
    """``runner.LauncherSummary`` as plain data."""

    exit_code: int | None = None
    timed_out: bool = False
    duration_ms: int = 0
    stdout_tail: str = ""
    stderr_tail: str = ""
    error: str | None = None


class RedactingRequest(ActivityRequest):
    """An activity that returns workflow output: secret values are blanked out of it."""

    #: Setting names whose values are redacted from returned output.
    secret_environment_variables: dict[str, str] = Field(default_factory=dict)


class PollRequest(RedactingRequest):
    """``GetExecution``: read the execution's status."""

    execution_id: str
    tail_chars: int = Field(2000, ge=0)


class PollResult(BoundaryModel):
    """Execution status, the launcher summary once it printed one, bounded raw tails."""

    #: Set when the session lost the run: the pool no longer knows the execution, or it was
    #: interrupted by its host (the orchestrator may start it over).
    lost: str | None = None

    status: str | None = None
    terminal: bool = False
    summary: LauncherSummaryDoc | None = None
    stdout_tail: str = ""
    stderr_tail: str = ""
    #: The service's ``error.message`` for a Failed execution.
    execution_error: str | None = None
    error: ActivityError | None = None


class WatchRequest(RedactingRequest):
    """``WatchExecution``: poll for up to ``watch.seconds``; collect the output if it ends."""

    execution_id: str
    tail_chars: int = Field(2000, ge=0)
    watch: WatchOptions


class DownloadRequest(RedactingRequest):
    """``DownloadOutput``: fetch and parse output.json (bounded, secrets redacted)."""

    output_file_name: str = "output.json"
    execution_id: str | None = None
    max_output_bytes: int = Field(10 * 1024 * 1024, gt=0)
    trace_file_name: str = "trace.jsonl"
    max_trace_bytes: int = Field(256 * 1024, gt=0)


class DownloadResult(BoundaryModel):
    """``found`` False when the file is absent; ``problem`` when it is not JSON."""

    found: bool = False
    document: Any = None
    problem: str | None = None
    #: The agent trace, when the run left one (``DownloadOutput`` reads it too).
    trace: dict[str, Any] | None = None
    error: ActivityError | None = None


class WatchResult(BoundaryModel):
    """What a watching activity saw: the last poll, and the output if the execution ended.

    ``*_ms`` are wall-clock spans measured in the activity (for status timings):
    ``run_ms`` is this activity's share of the execution's run time.
    """

    poll: PollResult | None = None
    download: DownloadResult | None = None
    #: The activity deleted this run's files (and released an ephemeral session) itself.
    cleaned: bool = False
    run_ms: int = 0
    collect_ms: int | None = None
    #: The run's latest progress view (activities/trace.py), when it changed.
    progress: dict[str, Any] | None = None
    #: The agent trace of a finished run: ``{"spans": [...], "truncated": bool}``.
    trace: dict[str, Any] | None = None
    error: ActivityError | None = None


class RunResult(WatchResult):
    """:class:`WatchResult` of ``RunExecution``, with how it started."""

    execution_id: str | None = None
    upload_ms: int | None = None
    #: The execution already existed (this activity ran before): it was not started again.
    resumed: bool = False


class CleanupRequest(ActivityRequest):
    """``CleanupSession``: delete the files this run wrote."""

    file_names: list[str] = Field(default_factory=list)
    execution_id: str | None = None


class CleanupResult(BoundaryModel):
    """Files deleted (absent files count as deleted); whether the session itself went too."""

    deleted: list[str] = Field(default_factory=list)
    session_released: bool = False
    error: ActivityError | None = None


class StopRequest(ActivityRequest):
    """``StopSession``: delete the whole session so its work stops."""

    execution_id: str | None = None


class StopResult(BoundaryModel):
    """Whether the session was deleted."""

    stopped: bool = False
    error: ActivityError | None = None


# --- what callers see ----------------------------------------------------------------


class Logs(PublicModel):
    """Bounded tails of the command's output."""

    stdout_tail: str = ""
    stderr_tail: str = ""


class Timings(PublicModel):
    """Milliseconds per stage, measured on orchestration time (``None``: stage not reached)."""

    upload_ms: int | None = None
    run_ms: int | None = None
    collect_ms: int | None = None
    total_ms: int | None = None
    #: Durable hops the run used: activity calls (a retried call counts once) and timers.
    activities: int | None = None
    timers: int | None = None


class AttemptDoc(PublicModel):
    """An execution the session lost, and why (the run started over after it)."""

    execution_id: str | None = None
    reason: str


class LimitDoc(PublicModel):
    """The limit that ended a run: its setting or request field, and its value."""

    name: str
    seconds: float


class WorkflowResult(PublicModel):
    """The orchestration output of a successful run."""

    status: Literal["succeeded"] = "succeeded"
    result: Any = None
    execution_id: str
    logs: Logs
    timings: Timings
    polls: int
    #: Executions lost with their session before the one that produced the result.
    attempts: list[AttemptDoc] | None = None
    #: The agent trace (``GET /api/workflows/{id}/trace``; status shows only its size).
    trace: dict[str, Any] | None = None
    #: A webhook delivery was scheduled (status reads its outcome).
    callback: bool | None = None


class ErrorDoc(PublicModel):
    """Why a run failed; carried in the orchestration's failure message."""

    type: str
    message: str
    stage: str
    traceback: str | None = None
    hint: str | None = None
    logs: Logs = Field(default_factory=Logs)
    execution_id: str | None = None
    #: For ``DeadlineExceeded`` / ``ExecutionTimeout``: which limit ended the run.
    limit: LimitDoc | None = None
    #: Stage timings up to the failure.
    timings: Timings | None = None
    #: Executions lost with their session (for ``SessionLost``, every start).
    attempts: list[AttemptDoc] | None = None
    #: The agent trace up to the failure, when the run left one.
    trace: dict[str, Any] | None = None
    #: A webhook delivery was scheduled (status reads its outcome).
    callback: bool | None = None


# --- webhooks (activities/webhook_activities.py, orchestrator/callback_orchestrator.py) ----


def callback_instance_id(run_instance_id: str) -> str:
    """The delivery orchestration of a run's webhook: one per run, found from the run's id."""
    return f"{run_instance_id}-callback"


class ScheduleCallbackRequest(BoundaryModel):
    """``ScheduleCallback``: start the delivery orchestration of a run that is ending."""

    run_instance_id: str
    callback_url: str


class CallbackInput(BoundaryModel):
    """``CallbackOrchestrator``'s input: what to deliver where, and for how long to try."""

    run_instance_id: str
    callback_url: str
    retry_seconds: float = Field(300.0, ge=0)
    timeout_seconds: float = Field(10.0, gt=0)


class DeliverRequest(BoundaryModel):
    """``DeliverCallback``: POST the run's status once."""

    run_instance_id: str
    callback_url: str
    attempt: int = Field(ge=1)
    timeout_seconds: float = Field(10.0, gt=0)


class DeliverResult(BoundaryModel):
    """One delivery attempt; ``pending`` when the run had not ended yet (nothing sent)."""

    pending: bool = False
    delivered: bool = False
    retry: bool = False
    status: int | None = None
    error: str | None = None


class CallbackOutcome(PublicModel):
    """The delivery as status shows it (``callback``)."""

    state: Literal["pending", "retrying", "delivered", "failed"]
    attempts: int = 0
    last_status: int | None = None
    last_error: str | None = None
    url: str | None = None
