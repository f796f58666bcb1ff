"""One execution: spawn the sandboxed bootstrap, feed it code, bound its output, enforce time."""

from __future__ import annotations

import asyncio
import contextlib
import enum
import json
import logging
import os
import signal
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .config import EmulatorConfig
from .sandbox import InterpreterInfo, Isolation, NoIsolation, sandbox_env

log = logging.getLogger("session_emulator.executions")

READ_CHUNK = 64 * 1024
#: How long to wait for pipes to close after the process is gone.
DRAIN_GRACE_SECONDS = 2.0


class ExecutionStatus(enum.StrEnum):
    """The service's PascalCase status enum."""

    NOT_STARTED = "NotStarted"
    RUNNING = "Running"
    SUCCEEDED = "Succeeded"
    FAILED = "Failed"
    CANCELED = "Canceled"


TERMINAL = frozenset({ExecutionStatus.SUCCEEDED, ExecutionStatus.FAILED, ExecutionStatus.CANCELED})
#: ``error.code`` of an execution whose process stopped with the emulator (restart, shutdown).
INTERRUPTED = "ExecutionInterrupted"
INTERRUPTED_MESSAGE = (
    "The execution was interrupted: the session's host stopped while it ran "
    "(the session emulator restarted)."
)


@dataclass
class Execution:
    """An execution's state, as the API reports it."""

    id: str
    identifier: str
    execution_type: str
    timeout_seconds: float
    output_max_length: int
    status: ExecutionStatus = ExecutionStatus.NOT_STARTED
    stdout: str = ""
    stderr: str = ""
    execution_result: Any = None
    execution_time_ms: int = 0
    error: dict[str, str] | None = None
    task: asyncio.Task[None] | None = field(default=None, repr=False)
    process: asyncio.subprocess.Process | None = field(default=None, repr=False)
    done: asyncio.Event = field(default_factory=asyncio.Event, repr=False)

    @staticmethod
    def new_id() -> str:
        """A fresh execution id (a GUID, like the service's)."""
        return str(uuid.uuid4())

    def to_json(self) -> dict[str, Any]:
        """The ``SessionCodeExecutionResource`` body."""
        body: dict[str, Any] = {
            "id": self.id,
            "identifier": self.identifier,
            "executionType": self.execution_type,
            "status": self.status.value,
            "result": {
                "stdout": self.stdout,
                "stderr": self.stderr,
                "executionResult": self.execution_result,
                "executionTimeInMilliseconds": self.execution_time_ms,
            },
        }
        if self.error is not None:
            body["error"] = self.error
        return body

    def to_record(self) -> dict[str, Any]:
        """What is kept on disk so the execution survives an emulator restart."""
        return {
            "id": self.id,
            "identifier": self.identifier,
            "executionType": self.execution_type,
            "timeoutSeconds": self.timeout_seconds,
            "outputMaxLength": self.output_max_length,
            "status": self.status.value,
            "stdout": self.stdout,
            "stderr": self.stderr,
            "executionResult": self.execution_result,
            "executionTimeInMilliseconds": self.execution_time_ms,
            "error": self.error,
        }

    @classmethod
    def from_record(cls, record: dict[str, Any]) -> Execution:
        """An execution read back from disk; one that was still running was interrupted."""
        execution = cls(
            id=str(record["id"]),
            identifier=str(record["identifier"]),
            execution_type=str(record["executionType"]),
            timeout_seconds=float(record["timeoutSeconds"]),
            output_max_length=int(record["outputMaxLength"]),
            status=ExecutionStatus(record["status"]),
            stdout=str(record.get("stdout") or ""),
            stderr=str(record.get("stderr") or ""),
            execution_result=record.get("executionResult"),
            execution_time_ms=int(record.get("executionTimeInMilliseconds") or 0),
            error=record.get("error"),
        )
        if execution.status not in TERMINAL:
            # its process died with the emulator: report it as a session that crashed
            execution.status = ExecutionStatus.FAILED
            execution.error = {"code": INTERRUPTED, "message": INTERRUPTED_MESSAGE}
        execution.done.set()
        return execution

    def kill(self, *, status: ExecutionStatus = ExecutionStatus.CANCELED, reason: str) -> None:
        """Stop a running execution now (session deleted or reaped)."""
        if self.status in TERMINAL:
            return
        self.status = status
        self.error = {"code": "Canceled", "message": reason}
        _killpg(self.process)


def _killpg(process: asyncio.subprocess.Process | None) -> None:
    """SIGKILL the process group the execution runs in (bwrap takes its pid namespace along)."""
    if process is None or process.returncode is not None:
        return
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signal.SIGKILL)


def _truncate(data: bytes, max_chars: int) -> str:
    """Decode a kept head and cut it to ``max_chars`` characters."""
    return data.decode("utf-8", errors="replace")[:max_chars]


async def _drain(stream: asyncio.StreamReader | None, keep: int) -> bytes:
    """Read a stream to EOF, keeping only its first ``keep`` bytes."""
    if stream is None:
        return b""
    kept = bytearray()
    while chunk := await stream.read(READ_CHUNK):
        room = keep - len(kept)
        if room > 0:
            kept += chunk[:room]
    return bytes(kept)


async def _open_pipe_reader(fd: int) -> asyncio.StreamReader:
    """An asyncio reader over the read end of the result pipe."""
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader(limit=2**31)
    protocol = asyncio.StreamReaderProtocol(reader)
    await loop.connect_read_pipe(lambda: protocol, os.fdopen(fd, "rb", buffering=0))
    return reader


class Runner:
    """Runs executions with one isolation backend; the lifespan owns one of these."""

    def __init__(
        self, *, config: EmulatorConfig, isolation: Isolation, interpreter: InterpreterInfo
    ) -> None:
        self.config = config
        self.isolation = isolation
        self._env = sandbox_env(interpreter)
        limits = config.limits
        self._limits = [
            ["RLIMIT_AS", limits.address_space_bytes],
            ["RLIMIT_NPROC", limits.processes],
            ["RLIMIT_FSIZE", limits.file_size_bytes],
            ["RLIMIT_NOFILE", limits.open_files],
        ]

    async def run(self, execution: Execution, *, code: str, session_dir: Path, uid: int | None):
        """Run ``code`` and fill in ``execution``; never raises for user-code problems."""
        if execution.status is ExecutionStatus.CANCELED:  # session deleted before it started
            return
        if isinstance(self.isolation, NoIsolation):
            log.warning("execution %s runs WITHOUT a sandbox (--insecure-no-sandbox)", execution.id)
        keep = execution.output_max_length * 4  # UTF-8: at most 4 bytes per character
        cpu = int(execution.timeout_seconds) + self.config.limits.cpu_seconds_margin
        read_fd, write_fd = os.pipe()
        env = dict(self._env)
        env["EMU_RESULT_FD"] = str(write_fd)
        env["EMU_RESULT_MAX"] = str(self.config.max_execution_result_bytes)
        env["EMU_LIMITS"] = json.dumps([*self._limits, ["RLIMIT_CPU", cpu]])
        if uid is not None and self.isolation.drops_uid:
            env["EMU_UID"] = str(uid)
        started = time.perf_counter()
        try:
            try:
                process = await asyncio.create_subprocess_exec(
                    *self.isolation.argv(session_dir=session_dir),
                    stdin=asyncio.subprocess.PIPE,
                    stdout=asyncio.subprocess.PIPE,
                    stderr=asyncio.subprocess.PIPE,
                    env=env,
                    cwd=session_dir,
                    pass_fds=(write_fd,),
                    start_new_session=True,
                )
            finally:
                os.close(write_fd)
        except OSError as exc:
            os.close(read_fd)
            execution.status = ExecutionStatus.FAILED
            execution.error = {"code": "InternalServerError", "message": f"spawn failed: {exc}"}
            return
        execution.process = process
        if execution.status is ExecutionStatus.CANCELED:  # killed while it was being spawned
            _killpg(process)
        elif execution.status is ExecutionStatus.NOT_STARTED:
            execution.status = ExecutionStatus.RUNNING
        result_reader = await _open_pipe_reader(read_fd)
        drains = [
            asyncio.create_task(_drain(process.stdout, keep)),
            asyncio.create_task(_drain(process.stderr, keep)),
            asyncio.create_task(_drain(result_reader, self.config.max_execution_result_bytes * 2)),
        ]
        timed_out = False
        try:
            assert process.stdin is not None
            with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                process.stdin.write(code.encode("utf-8", errors="surrogatepass"))
                await process.stdin.drain()
                process.stdin.close()
            try:
                await asyncio.wait_for(process.wait(), timeout=execution.timeout_seconds)
            except TimeoutError:
                timed_out = True
        finally:
            _killpg(process)  # on timeout or cancel: the whole group / pid namespace
            await process.wait()
            if isinstance(self.isolation, NoIsolation):
                # Unsandboxed stragglers share the process group; the group id stays
                # reserved while any member lives, so this cannot hit a stranger.
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(process.pid, signal.SIGKILL)
            done, pending = await asyncio.wait(drains, timeout=DRAIN_GRACE_SECONDS)
            for task in pending:
                task.cancel()
            execution.execution_time_ms = int((time.perf_counter() - started) * 1000)
        stdout, stderr, raw_result = (t.result() if t in done else b"" for t in drains)
        execution.stdout = _truncate(stdout, execution.output_max_length)
        execution.stderr = _truncate(stderr, execution.output_max_length)
        self._finish(execution, process.returncode, raw_result, timed_out=timed_out)

    @staticmethod
    def _finish(
        execution: Execution, returncode: int | None, raw_result: bytes, *, timed_out: bool
    ) -> None:
        """Map what happened to the service's status and error body."""
        if execution.status in TERMINAL:  # a kill already decided (deleted session, shutdown)
            return
        if timed_out:
            execution.status = ExecutionStatus.FAILED
            execution.error = {
                "code": "Timeout",
                "message": f"Execution timed out after {execution.timeout_seconds:g} seconds.",
            }
            execution.execution_result = None
            return
        try:
            execution.execution_result = json.loads(raw_result)["executionResult"]
        except (ValueError, KeyError, TypeError):
            execution.execution_result = None
            if returncode != 0:
                # The "kernel" died before the cell finished (signal, os._exit, OOM kill).
                how = f"signal {-returncode}" if returncode and returncode < 0 else returncode
                execution.status = ExecutionStatus.FAILED
                execution.error = {
                    "code": "ExecutionError",
                    "message": f"The Python process exited abnormally ({how}).",
                }
                return
            execution.execution_result = ""
        execution.status = ExecutionStatus.SUCCEEDED
