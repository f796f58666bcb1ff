"""``WorkflowOrchestrator``: upload, start, wait for the execution, collect, clean up.

Two ways to wait (``RunConfig.poll_mode``):

- ``watch`` (the default for new runs): ``RunExecution`` uploads, starts and watches the
  execution for ``fast_watch_seconds``, collecting the output and cleaning up itself when
  the run ends in time, so a short run is one activity and no timer; a longer one gets
  ``WatchExecution`` windows. See docs/latency.md for the measurements behind it.
- ``timers`` (the seed's shape): one activity per step and durable timers between polls.

A deterministic generator: time comes only from ``context.current_utc_datetime``,
ids from ``context.new_uuid()``; every side effect is an activity. Failures
fail the orchestration with :class:`~orchestrator.errors.WorkflowRunError`.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Generator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import azure.durable_functions as df

from orchestrator import names
from orchestrator.errors import (
    DEADLINE_EXCEEDED,
    HINTS,
    LIMIT_MAX_EXECUTION,
    LIMIT_RUN_DEADLINE,
    POOL_EXHAUSTED,
    SESSION_LOST,
    WorkflowRunError,
)
from orchestrator.models import (
    ActivityError,
    ActivityRequest,
    AttemptDoc,
    BoundaryModel,
    CleanupRequest,
    CleanupResult,
    DownloadRequest,
    DownloadResult,
    ErrorDoc,
    LimitDoc,
    OrchestrationInput,
    PollRequest,
    PollResult,
    RunRequest,
    RunResult,
    ScheduleCallbackRequest,
    StartRequest,
    StartResult,
    StopRequest,
    Timings,
    UploadRequest,
    UploadResult,
    WatchOptions,
    WatchRequest,
    WatchResult,
    WorkflowResult,
    public_dump,
)
from orchestrator.outcome import (
    activity_failure,
    clip,
    execution_failure,
    logs_of,
    workflow_result,
)
from orchestrator.polling import next_delay
from telemetry import get_logger

logger = get_logger("orchestrator")

Steps = Generator[Any, Any, Any]


def _ms(delta: timedelta) -> int:
    return max(0, int(delta.total_seconds() * 1000))


def _span(start: datetime | None, end: datetime | None) -> int | None:
    return _ms(end - start) if start is not None and end is not None else None


def _seconds(value: float) -> str:
    return f"{value:g} s"


@dataclass(frozen=True)
class ExecutionLimits:
    """The limits one execution runs under, and which of them the launcher enforces."""

    launcher: LimitDoc
    description: str
    #: The launcher's timeout for the command.
    launcher_seconds: float
    #: The session execution's own timeout (launcher + margin, capped by the service).
    execution_seconds: float


class _SessionLost(Exception):
    """The session lost the run's execution; the run may start over (internal)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class _Run:
    """State of one orchestration replay; methods are sub-generators of :meth:`execute`."""

    def __init__(self, context: df.DurableOrchestrationContext, spec: OrchestrationInput) -> None:
        self.context = context
        self.spec = spec
        self.config = spec.config
        self.retry = df.RetryOptions(
            first_retry_interval_in_milliseconds=self.config.retry_first_interval_ms,
            max_number_of_attempts=self.config.retry_max_attempts,
        )
        self.started = context.current_utc_datetime
        self.deadline = self.started + timedelta(seconds=self.config.timeout_seconds)
        self.execution_id: str | None = None
        self.polls = 0
        self.phase = "pending"
        self.last_poll: PollResult | None = None
        self.session_stopped = False
        # stage marks on orchestration time, for timings
        self.uploaded_at: datetime | None = None
        self.run_started_at: datetime | None = None
        self.run_finished_at: datetime | None = None
        self.collected_at: datetime | None = None
        # watch mode: spans measured inside the activities (they span several activities)
        self.measured: dict[str, int] = {}
        self.cleaned = False
        # durable hops, for timings
        self.activity_calls = 0
        self.timer_count = 0
        # executions the session lost (each a start the run made before the current one)
        self.attempts: list[AttemptDoc] = []
        # the run's own account of itself: progress while it runs, its trace once it ended
        self.progress: dict[str, Any] | None = None
        self.trace: dict[str, Any] | None = None

    # --- helpers -----------------------------------------------------------------

    @property
    def now(self) -> datetime:
        return self.context.current_utc_datetime

    def status(self, phase: str) -> None:
        """Publish the phase as custom status (small: phase, executionId, polls, startedAt)."""
        self.phase = phase
        status: dict[str, Any] = {"phase": phase, "startedAt": self.started.isoformat()}
        if self.execution_id:
            status["executionId"] = self.execution_id
        if self.polls:
            status["polls"] = self.polls
        if self.attempts:
            status["attempts"] = len(self.attempts)
        if self.progress is not None and phase == "running":
            status["progress"] = self.progress
        status["request"] = self.request_summary()
        self.context.set_custom_status(status)
        if not self.context.is_replaying:
            logger.for_run(
                instance_id=self.context.instance_id, execution_id=self.execution_id
            ).info("phase %s", phase)

    def request_summary(self) -> dict[str, Any]:
        """What the run was asked to do, without values: for viewers (names, never secrets)."""
        spec = self.spec
        return {
            "sessionStrategy": spec.session.strategy,
            "timeoutSeconds": self.config.timeout_seconds,
            "environmentVariables": sorted(spec.environment_variables),
            "secretEnvironmentVariables": sorted(spec.secret_environment_variables),
            "command": spec.command,
            "callback": spec.callback_url is not None,
        }

    def timings(self) -> Timings:
        """Stage timings so far (``None`` for stages not reached) and the hops used."""
        if self.config.poll_mode == "watch":
            stages = {
                "upload_ms": self.measured.get("upload_ms"),
                "run_ms": self.measured.get("run_ms"),
                "collect_ms": self.measured.get("collect_ms"),
            }
        else:
            stages = {
                "upload_ms": _span(self.started, self.uploaded_at),
                "run_ms": _span(self.run_started_at, self.run_finished_at),
                "collect_ms": _span(self.run_finished_at, self.collected_at),
            }
        return Timings(
            **stages,
            total_ms=_ms(self.now - self.started),
            activities=self.activity_calls,
            timers=self.timer_count,
        )

    def timer(self, wake: datetime) -> Any:
        """A durable timer (counted)."""
        self.timer_count += 1
        return self.context.create_timer(wake)

    def base(self) -> dict[str, Any]:
        """Fields every activity request carries."""
        return {"instance_id": self.context.instance_id, "session": self.spec.session}

    def call(self, name: str, request: BoundaryModel) -> Steps:
        """Call an activity with retries; a failure after the last attempt fails the run."""
        self.activity_calls += 1
        try:
            result = yield self.context.call_activity_with_retry(
                name, self.retry, request.to_wire()
            )
        except Exception as exc:  # the library throws the task failure into the generator
            # str(exc) is "<Reason> \n <Details>": the details are the activity's traceback
            # (server paths, internals): logged by the host, never shown to the caller
            reason = str(exc).split(" \n ", 1)[0].strip()
            raise WorkflowRunError(
                ErrorDoc(
                    type="ActivityFailed",
                    message=clip(
                        f"{name} failed after {self.config.retry_max_attempts} attempt(s): {reason}"
                    ),
                    stage=self.phase,
                    logs=logs_of(self.last_poll),
                    execution_id=self.execution_id,
                )
            ) from None
        return result

    def fail(
        self, type_: str, message: str, *, stage: str | None = None, **extra: Any
    ) -> WorkflowRunError:
        """A run failure of ``type_`` at the current (or given) stage."""
        return WorkflowRunError(
            ErrorDoc(
                type=type_,
                message=message,
                stage=stage or self.phase,
                hint=HINTS.get(type_),
                logs=logs_of(self.last_poll),
                execution_id=self.execution_id,
                attempts=self.attempts or None,
                **extra,
            )
        )

    def call_with_session(
        self,
        name: str,
        request: ActivityRequest,
        result_type: type[BoundaryModel],
        *,
        stage: str,
    ) -> Steps:
        """:meth:`call`, retried on durable timers while the pool is full.

        Returns the result (its ``error`` may be set); a full pool that outlives the retries
        (or the deadline) fails the run with ``SessionPoolExhausted``.
        """
        attempt = 0
        while True:
            raw = yield from self.call(name, request)
            result = result_type.from_wire(raw)
            error: ActivityError | None = getattr(result, "error", None)
            if error is None or error.type != POOL_EXHAUSTED:
                return result
            wait = self.config.pool_retry_seconds * (2**attempt)
            wake = self.now + timedelta(seconds=wait)
            if attempt >= self.config.pool_retry_attempts or wake >= self.deadline:
                raise self.fail(
                    POOL_EXHAUSTED,
                    clip(f"{error.message} (gave up after {attempt + 1} attempt(s))"),
                    stage=stage,
                )
            attempt += 1
            self.status("waiting_for_session")
            yield self.timer(wake)
            self.status(stage)

    # --- stages ------------------------------------------------------------------

    def upload(self) -> Steps:
        self.status("uploading")
        result = yield from self.call_with_session(
            names.UPLOAD_WORKFLOW_FILES,
            UploadRequest(
                **self.base(),
                workflow_code=self.spec.workflow_code,
                input=self.spec.input,
                runner_preamble=self.spec.runner_preamble,
                workflow_file_name=self.config.workflow_file_name,
                runner_file_name=self.config.runner_file_name,
                input_file_name=self.config.input_file_name,
                output_file_name=self.config.output_file_name,
            ),
            UploadResult,
            stage="uploading",
        )
        if result.error is not None:
            raise activity_failure(result.error, stage="uploading")

    def run_deadline(self) -> LimitDoc:
        """The request's whole-run deadline as a limit."""
        return LimitDoc(name=LIMIT_RUN_DEADLINE, seconds=self.config.timeout_seconds)

    def execution_limits(self) -> ExecutionLimits:
        """Which limit the launcher enforces: the time left, or the per-execution cap."""
        # Whole milliseconds, rounded down: the launcher never outlives the deadline.
        remaining = math.floor((self.deadline - self.now).total_seconds() * 1000) / 1000
        margin = self.config.execution_timeout_margin_seconds
        service_limit = float(self.config.max_execution_seconds)
        cap = max(1.0, service_limit - margin)
        if cap < remaining:
            # The session service's per-execution cap binds before the caller's deadline.
            launcher_limit = cap
            launcher = LimitDoc(name=LIMIT_MAX_EXECUTION, seconds=launcher_limit)
            described = (
                f"the per-execution limit of {launcher_limit:g} s "
                f"(AzureSession__MaxExecutionSeconds={self.config.max_execution_seconds} "
                f"minus a {margin} s margin)"
            )
        else:
            launcher_limit = remaining
            launcher = self.run_deadline()
            described = f"timeoutSeconds ({self.config.timeout_seconds} s)"
        return ExecutionLimits(
            launcher=launcher,
            description=described,
            launcher_seconds=launcher_limit,
            execution_seconds=min(service_limit, round(launcher_limit + margin, 3)),
        )

    def begin_execution(self) -> ExecutionLimits:
        """Say "starting", check time is left, and name the execution (deterministically)."""
        self.status("starting")
        limits = self.execution_limits()
        if limits.launcher_seconds <= 0:
            raise self.fail(
                DEADLINE_EXCEEDED,
                f"timeoutSeconds ({self.config.timeout_seconds} s) passed before the "
                "execution could start.",
                limit=self.run_deadline(),
            )
        self.execution_id = str(self.context.new_uuid())
        return limits

    def start(self) -> Steps:
        """Start the execution under :meth:`execution_limits`; returns those limits."""
        limits = self.begin_execution()
        result = yield from self.call_with_session(
            names.START_EXECUTION,
            StartRequest(
                **self.base(),
                execution_id=self.execution_id,
                command=self.spec.command,
                environment_variables=self.spec.environment_variables,
                secret_environment_variables=self.spec.secret_environment_variables,
                timeout_seconds=limits.launcher_seconds,
                execution_timeout_seconds=limits.execution_seconds,
                tail_chars=self.config.output_tail_chars,
            ),
            StartResult,
            stage="starting",
        )
        if result.error is not None:
            raise activity_failure(result.error, stage="starting", execution_id=self.execution_id)
        return limits

    def wait_until_finished(self) -> Steps:
        """Poll on durable timers until the execution is terminal or the deadline passes."""
        self.status("running")
        delay: float | None = None
        while True:
            delay = next_delay(delay, self.config)
            wake = self.now + timedelta(seconds=delay)
            last_chance = wake >= self.deadline
            if last_chance:
                wake = self.deadline
            if wake > self.now:
                yield self.timer(wake)
            self.polls += 1
            self.status("running")
            raw = yield from self.call(
                names.GET_EXECUTION,
                PollRequest(
                    **self.base(),
                    execution_id=self.execution_id,
                    tail_chars=self.config.output_tail_chars,
                    secret_environment_variables=self.spec.secret_environment_variables,
                ),
            )
            poll = PollResult.from_wire(raw)
            if poll.lost is not None:
                raise _SessionLost(poll.lost)
            if poll.error is not None:
                raise activity_failure(
                    poll.error,
                    stage="running",
                    logs=logs_of(self.last_poll),
                    execution_id=self.execution_id,
                )
            self.last_poll = poll
            if poll.terminal:
                return poll
            if last_chance or self.now >= self.deadline:
                break
        yield from self.stop_session()
        raise self.fail(
            DEADLINE_EXCEEDED,
            f"The workflow did not finish within timeoutSeconds "
            f"({_seconds(self.config.timeout_seconds)}); its session was stopped.",
            stage="running",
            limit=self.run_deadline(),
        )

    def stop_session(self) -> Steps:
        """Best effort: delete the session so its work stops; errors are ignored."""
        self.status("timing_out")
        with contextlib.suppress(WorkflowRunError):
            yield from self.call(
                names.STOP_SESSION, StopRequest(**self.base(), execution_id=self.execution_id)
            )
        self.session_stopped = True

    def collect(self) -> Steps:
        self.status("collecting")
        raw = yield from self.call(
            names.DOWNLOAD_OUTPUT,
            DownloadRequest(
                **self.base(),
                output_file_name=self.config.output_file_name,
                execution_id=self.execution_id,
                max_output_bytes=self.config.max_output_bytes,
                secret_environment_variables=self.spec.secret_environment_variables,
                trace_file_name=self.config.trace_file_name,
                max_trace_bytes=self.config.max_trace_bytes,
            ),
        )
        download = DownloadResult.from_wire(raw)
        if download.trace is not None:
            self.trace = download.trace
        return download

    def cleanup(self) -> Steps:
        """Delete what this run wrote into an ephemeral session; errors are ignored."""
        if self.spec.session.strategy != "ephemeral" or self.session_stopped:
            return
        self.status("cleaning_up")
        try:
            raw = yield from self.call(
                names.CLEANUP_SESSION,
                CleanupRequest(
                    **self.base(), file_names=self.run_files(), execution_id=self.execution_id
                ),
            )
            CleanupResult.from_wire(raw)
        except WorkflowRunError:
            pass

    # --- watch mode: few durable hops -----------------------------------------------

    def watch_options(self, seconds: float) -> WatchOptions:
        """How an activity watches: for ``seconds``, then collects and cleans up if done."""
        ephemeral = self.spec.session.strategy == "ephemeral"
        return WatchOptions(
            seconds=max(0.0, seconds),
            first_poll_seconds=self.config.watch_first_poll_seconds,
            max_poll_seconds=self.config.watch_max_poll_seconds,
            output_file_name=self.config.output_file_name,
            max_output_bytes=self.config.max_output_bytes,
            cleanup_files=self.run_files() if ephemeral else [],
            release_session=ephemeral,
            trace_file_name=self.config.trace_file_name,
            progress_file_name=self.config.progress_file_name,
            max_trace_bytes=self.config.max_trace_bytes,
            progress_seconds=self.config.progress_seconds,
            known_steps=self.progress["steps"] if self.progress else -1,
        )

    def run_files(self) -> list[str]:
        """The files a run writes into its session."""
        return [
            self.config.workflow_file_name,
            self.config.runner_file_name,
            self.config.input_file_name,
            self.config.output_file_name,
            self.config.trace_file_name,
            self.config.progress_file_name,
        ]

    def seconds_left(self) -> float:
        return max(0.0, (self.deadline - self.now).total_seconds())

    def record(self, report: WatchResult) -> None:
        """Add an activity's measured spans; remember a cleanup it already did."""
        self.measured["run_ms"] = self.measured.get("run_ms", 0) + report.run_ms
        if report.collect_ms is not None:
            self.measured["collect_ms"] = report.collect_ms
        self.cleaned = self.cleaned or report.cleaned
        if report.poll is not None:
            self.last_poll = report.poll
        if report.progress is not None:
            self.progress = report.progress
        if report.trace is not None:
            self.trace = report.trace

    def run_and_watch(self) -> Steps:
        """Upload, start and watch in one activity; more windows only if the run is long.

        A run that ends within ``fast_watch_seconds`` costs one activity and no timer; a
        longer one one ``WatchExecution`` per ``watch_window_seconds``, each seeing the end
        at most ``watch_max_poll_seconds`` late. Returns the final report and the limits.
        """
        limits = self.begin_execution()
        started: RunResult = yield from self.call_with_session(
            names.RUN_EXECUTION,
            RunRequest(
                **self.base(),
                execution_id=self.execution_id,
                command=self.spec.command,
                environment_variables=self.spec.environment_variables,
                secret_environment_variables=self.spec.secret_environment_variables,
                timeout_seconds=limits.launcher_seconds,
                execution_timeout_seconds=limits.execution_seconds,
                tail_chars=self.config.output_tail_chars,
                workflow_code=self.spec.workflow_code,
                input=self.spec.input,
                runner_preamble=self.spec.runner_preamble,
                workflow_file_name=self.config.workflow_file_name,
                runner_file_name=self.config.runner_file_name,
                input_file_name=self.config.input_file_name,
                output_file_name=self.config.output_file_name,
                trace_file_name=self.config.trace_file_name,
                progress_file_name=self.config.progress_file_name,
                max_trace_bytes=self.config.max_trace_bytes,
                watch=self.watch_options(min(self.config.fast_watch_seconds, self.seconds_left())),
                run_timeout_seconds=self.config.timeout_seconds,
            ),
            RunResult,
            stage="starting",
        )
        if started.error is not None:
            raise activity_failure(started.error, stage="starting", execution_id=self.execution_id)
        if started.upload_ms is not None:
            self.measured["upload_ms"] = started.upload_ms
        self.record(started)
        report: WatchResult = started
        while report.poll is None or not report.poll.terminal or report.poll.lost:
            if report.poll is not None and report.poll.lost is not None:
                raise _SessionLost(report.poll.lost)
            if self.now >= self.deadline:
                yield from self.stop_session()
                raise self.fail(
                    DEADLINE_EXCEEDED,
                    f"The workflow did not finish within timeoutSeconds "
                    f"({_seconds(self.config.timeout_seconds)}); its session was stopped.",
                    stage="running",
                    limit=self.run_deadline(),
                )
            self.polls += 1
            self.status("running")
            raw = yield from self.call(
                names.WATCH_EXECUTION,
                WatchRequest(
                    **self.base(),
                    execution_id=self.execution_id,
                    tail_chars=self.config.output_tail_chars,
                    secret_environment_variables=self.spec.secret_environment_variables,
                    watch=self.watch_options(
                        min(self.config.watch_window_seconds, self.seconds_left())
                    ),
                ),
            )
            report = WatchResult.from_wire(raw)
            if report.error is not None:
                raise activity_failure(
                    report.error,
                    stage="running",
                    logs=logs_of(self.last_poll),
                    execution_id=self.execution_id,
                )
            self.record(report)
        return report, limits

    def execute_watching(self) -> Steps:
        """The ``watch`` flow: RunExecution, WatchExecution while needed, cleanup if deferred."""
        try:
            report, limits = yield from self.run_and_watch()
            poll = report.poll
            failure = execution_failure(
                poll,
                execution_id=self.execution_id or "",
                execution_limit=limits.execution_seconds,
            )
            if failure is not None:
                raise failure
            self.status("collecting")
            result = workflow_result(
                poll,
                report.download or DownloadResult(found=False),
                execution_id=self.execution_id or "",
                limit_description=limits.description,
                limit=limits.launcher,
            )
        except WorkflowRunError as exc:
            if not self.cleaned:
                yield from self.cleanup()
            self.status("failed")
            update: dict[str, Any] = {"timings": self.timings()}
            if self.trace is not None:
                update["trace"] = self.trace
            raise WorkflowRunError(exc.error.model_copy(update=update)) from None
        if not self.cleaned:
            yield from self.cleanup()
        self.status("completed")
        return self.succeeded(result, poll)

    def succeeded(self, result: Any, poll: PollResult) -> dict[str, Any]:
        """The orchestration output of a successful run."""
        return public_dump(
            WorkflowResult(
                result=result,
                execution_id=self.execution_id or "",
                logs=logs_of(poll),
                timings=self.timings(),
                polls=self.polls,
                attempts=self.attempts or None,
                trace=self.trace,
            ),
            exclude_none=False,
        )

    def schedule_callback(self) -> Steps:
        """Start the webhook's delivery (its own orchestration); never fails the run."""
        assert self.spec.callback_url is not None
        try:
            yield from self.call(
                names.SCHEDULE_CALLBACK,
                ScheduleCallbackRequest(
                    run_instance_id=self.context.instance_id, callback_url=self.spec.callback_url
                ),
            )
        except WorkflowRunError:
            return False
        return True

    # --- the flow ----------------------------------------------------------------

    def execute(self) -> Steps:
        """Run the workflow; start over (bounded) when the session loses the execution."""
        while True:
            try:
                if self.config.poll_mode == "watch":
                    return (yield from self.execute_watching())
                return (yield from self.execute_with_timers())
            except _SessionLost as lost:
                yield from self.after_session_loss(lost.reason)

    def after_session_loss(self, reason: str) -> Steps:
        """Record the lost execution; fail with ``SessionLost`` unless the run may start over.

        Ephemeral runs start over (a new execution in a fresh session) up to
        ``session_loss_retries`` times; a ``reuse`` session's run only with the request's
        ``rerunOnSessionLoss``, since the files earlier runs left there may be gone.
        """
        self.attempts.append(AttemptDoc(execution_id=self.execution_id, reason=clip(reason)))
        if not self.context.is_replaying:
            logger.for_run(
                instance_id=self.context.instance_id, execution_id=self.execution_id
            ).warning("the session lost the run: %s", reason)
        may_rerun = self.spec.session.strategy == "ephemeral" or self.spec.rerun_on_session_loss
        retries = self.config.session_loss_retries
        if may_rerun and len(self.attempts) <= retries and self.now < self.deadline:
            self.cleaned = False
            self.status("restarting")
            return
        if not may_rerun:
            why = "a reuse session's run is not re-run unless the request sets rerunOnSessionLoss"
        elif self.now >= self.deadline:
            why = "the deadline passed"
        else:
            why = f"it was started {len(self.attempts)} time(s) (SessionLossRetries={retries})"
        yield from self.cleanup()
        self.status("failed")
        raise WorkflowRunError(
            self.fail(
                SESSION_LOST, clip(f"The session lost the run ({reason}); {why}."), stage="running"
            ).error.model_copy(update={"timings": self.timings()})
        )

    def execute_with_timers(self) -> Steps:
        """The ``timers`` flow: one activity per step, durable timers between polls."""
        try:
            yield from self.upload()
            self.uploaded_at = self.now
            limits = yield from self.start()
            self.run_started_at = self.now
            poll = yield from self.wait_until_finished()
            self.run_finished_at = self.now
            failure = execution_failure(
                poll,
                execution_id=self.execution_id or "",
                execution_limit=limits.execution_seconds,
            )
            if failure is not None:
                raise failure
            download = yield from self.collect()
            self.collected_at = self.now
            result = workflow_result(
                poll,
                download,
                execution_id=self.execution_id or "",
                limit_description=limits.description,
                limit=limits.launcher,
            )
        except WorkflowRunError as exc:
            yield from self.cleanup()
            self.status("failed")
            update: dict[str, Any] = {"timings": self.timings()}
            if self.trace is not None:
                update["trace"] = self.trace
            raise WorkflowRunError(exc.error.model_copy(update=update)) from None
        yield from self.cleanup()
        self.status("completed")
        return self.succeeded(result, poll)


def read_input(context: df.DurableOrchestrationContext) -> OrchestrationInput:
    """The orchestration input: its JSON text (as the starter sends it) or a dict."""
    return OrchestrationInput.from_wire(context.get_input(expected_type=str))


def workflow_orchestrator(context: df.DurableOrchestrationContext) -> Steps:
    """Run one workflow in a session and return its result envelope."""
    try:
        spec = read_input(context)
    except ValueError as exc:
        raise WorkflowRunError(
            ErrorDoc(type="InvalidOrchestrationInput", message=clip(str(exc)), stage="pending")
        ) from None
    run = _Run(context, spec)
    if spec.callback_url is None:
        return (yield from run.execute())
    try:
        result = yield from run.execute()
    except WorkflowRunError as exc:
        scheduled = yield from run.schedule_callback()
        raise WorkflowRunError(exc.error.model_copy(update={"callback": scheduled})) from None
    result["callback"] = yield from run.schedule_callback()
    return result
