"""``WorkflowOrchestrator``: upload, start, poll on durable timers, collect, clean up.

A deterministic generator: time comes only from ``context.current_utc_datetime``,
ids from ``context.new_uuid()``; every side effect is an activity. Failures
fail the orchestration with :class:`~orchestrator.errors.WorkflowRunError`.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Generator
from datetime import datetime, timedelta
from typing import Any

import azure.durable_functions as df

from orchestrator import names
from orchestrator.errors import HINTS, WorkflowRunError
from orchestrator.models import (
    ActivityRequest,
    CleanupRequest,
    CleanupResult,
    DownloadRequest,
    DownloadResult,
    ErrorDoc,
    Logs,
    OrchestrationInput,
    PollRequest,
    PollResult,
    StartRequest,
    StartResult,
    StopRequest,
    Timings,
    UploadRequest,
    UploadResult,
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

logger = logging.getLogger("orchestrator")

Steps = Generator[Any, Any, Any]


def _ms(delta: timedelta) -> int:
    return max(0, int(delta.total_seconds() * 1000))


def _seconds(value: float) -> str:
    return f"{value:g} s"


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
        self.context.set_custom_status(status)
        if not self.context.is_replaying:
            logger.info(
                "instance %s execution %s phase %s",
                self.context.instance_id,
                self.execution_id or "-",
                phase,
            )

    def base(self) -> dict[str, Any]:
        """Fields every activity request carries."""
        return {"instance_id": self.context.instance_id, "session": self.spec.session}

    def call(self, name: str, request: ActivityRequest) -> Steps:
        """Call an activity with retries; a failure after the last attempt fails the run."""
        try:
            result = yield self.context.call_activity_with_retry(
                name, self.retry, request.to_wire()
            )
        except Exception as exc:  # the library throws the task failure into the generator
            raise WorkflowRunError(
                ErrorDoc(
                    type="ActivityFailed",
                    message=clip(
                        f"{name} failed after {self.config.retry_max_attempts} attempt(s): {exc}"
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
                **extra,
            )
        )

    # --- stages ------------------------------------------------------------------

    def upload(self) -> Steps:
        self.status("uploading")
        raw = yield from self.call(
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
        )
        result = UploadResult.from_wire(raw)
        if result.error is not None:
            raise activity_failure(result.error, stage="uploading")

    def start(self) -> Steps:
        """Start the execution; returns a description of the limit that applies to it."""
        self.status("starting")
        self.execution_id = str(self.context.new_uuid())
        remaining = (self.deadline - self.now).total_seconds()
        if remaining <= 0:
            raise self.fail(
                "DeadlineExceeded",
                f"timeoutSeconds ({self.config.timeout_seconds} s) passed before the "
                "execution could start.",
            )
        margin = self.config.execution_timeout_margin_seconds
        service_limit = float(self.config.max_execution_seconds)
        if service_limit - margin < remaining:
            # The session service's per-execution cap binds before the caller's deadline.
            launcher_limit = max(1.0, service_limit - margin)
            described = (
                f"the per-execution limit of {launcher_limit:g} s "
                f"(AzureSession__MaxExecutionSeconds={self.config.max_execution_seconds} "
                f"minus a {margin} s margin)"
            )
        else:
            launcher_limit = remaining
            described = f"timeoutSeconds ({self.config.timeout_seconds} s)"
        execution_limit = min(service_limit, launcher_limit + margin)
        raw = yield from self.call(
            names.START_EXECUTION,
            StartRequest(
                **self.base(),
                execution_id=self.execution_id,
                command=self.spec.command,
                environment_variables=self.spec.environment_variables,
                secret_environment_variables=self.spec.secret_environment_variables,
                timeout_seconds=round(launcher_limit, 3),
                execution_timeout_seconds=round(execution_limit, 3),
                tail_chars=self.config.output_tail_chars,
            ),
        )
        result = StartResult.from_wire(raw)
        if result.error is not None:
            raise activity_failure(result.error, stage="starting", execution_id=self.execution_id)
        return described

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
                yield self.context.create_timer(wake)
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
            "DeadlineExceeded",
            f"The workflow did not finish within timeoutSeconds "
            f"({_seconds(self.config.timeout_seconds)}); its session was stopped.",
            stage="running",
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
            ),
        )
        return DownloadResult.from_wire(raw)

    def cleanup(self) -> Steps:
        """Delete what this run wrote into an ephemeral session; errors are ignored."""
        if self.spec.session.strategy != "ephemeral" or self.session_stopped:
            return
        self.status("cleaning_up")
        files = [
            self.config.workflow_file_name,
            self.config.runner_file_name,
            self.config.input_file_name,
            self.config.output_file_name,
        ]
        try:
            raw = yield from self.call(
                names.CLEANUP_SESSION,
                CleanupRequest(**self.base(), file_names=files, execution_id=self.execution_id),
            )
            CleanupResult.from_wire(raw)
        except WorkflowRunError:
            pass

    # --- the flow ----------------------------------------------------------------

    def execute(self) -> Steps:
        try:
            yield from self.upload()
            uploaded = self.now
            limit_description = yield from self.start()
            run_started = self.now
            poll = yield from self.wait_until_finished()
            run_finished = self.now
            failure = execution_failure(poll, execution_id=self.execution_id or "")
            if failure is not None:
                raise failure
            download = yield from self.collect()
            collected = self.now
            result = workflow_result(
                poll,
                download,
                execution_id=self.execution_id or "",
                limit_description=limit_description,
            )
        except WorkflowRunError:
            yield from self.cleanup()
            self.status("failed")
            raise
        yield from self.cleanup()
        self.status("completed")
        logs: Logs = logs_of(poll)
        return public_dump(
            WorkflowResult(
                result=result,
                execution_id=self.execution_id or "",
                logs=logs,
                timings=Timings(
                    upload_ms=_ms(uploaded - self.started),
                    run_ms=_ms(run_finished - run_started),
                    collect_ms=_ms(collected - run_finished),
                    total_ms=_ms(self.now - self.started),
                ),
                polls=self.polls,
            ),
            exclude_none=False,
        )


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
    return (yield from _Run(context, spec).execute())
