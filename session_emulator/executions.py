"""Executions: run each in its session's kernel, bound its output, enforce time and quota."""

from __future__ import annotations

import asyncio
import contextlib
import enum
import json
import logging
import os
import signal
import socket
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .bootstrap import PYTHON, SHELL
from .cgroups import SessionCgroups, join_argv
from .config import EmulatorConfig
from .kernel import Kernel, keep_tail, spawn_kernel
from .quota import QUOTA_CHECK_SECONDS, QUOTA_EXCEEDED, DiskBudget
from .sandbox import InterpreterInfo, Isolation, NoIsolation, sandbox_env, seccomp_fd

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
    #: The value's text/plain form (``Out[n]``); None when the cell has no value.
    result_text: str | None = None
    #: ``returnJupyterFormatExecutionResult``: answer the text/plain form.
    jupyter_format: bool = False
    execution_time_ms: int = 0
    error: dict[str, str] | None = None
    #: "python" (code for the kernel) or "shell" (a Shell pool's ``shellCommand``).
    kind: str = "python"
    #: A shell command's exit code (the service reports it as the ``status`` string).
    exit_code: int | None = None
    task: asyncio.Task[None] | None = field(default=None, repr=False)
    process: asyncio.subprocess.Process | None = field(default=None, repr=False)
    done: asyncio.Event = field(default_factory=asyncio.Event, repr=False)

    @staticmethod
    def new_id() -> str:
        """A fresh execution id (a GUID, like the service's)."""
        return str(uuid.uuid4())

    @property
    def reported_result(self) -> Any:
        """``executionResult``: the JSON value, or its text/plain form when asked for."""
        if self.jupyter_format and self.result_text is not None:
            return self.result_text
        return self.execution_result

    @property
    def reported_status(self) -> str:
        """``status`` as the service reports it: a finished shell command's is its exit code."""
        if self.kind == "shell" and self.status is ExecutionStatus.SUCCEEDED:
            return str(self.exit_code)
        return self.status.value

    def to_json(self) -> dict[str, Any]:
        """The ``SessionCodeExecutionResource`` body."""
        body: dict[str, Any] = {
            "id": self.id,
            "identifier": self.identifier,
            "executionType": self.execution_type,
            "status": self.reported_status,
            "result": {
                "stdout": self.stdout,
                "stderr": self.stderr,
                "executionResult": self.reported_result,
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
            "resultText": self.result_text,
            "jupyterFormat": self.jupyter_format,
            "executionTimeInMilliseconds": self.execution_time_ms,
            "error": self.error,
            "kind": self.kind,
            "exitCode": self.exit_code,
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
            result_text=record.get("resultText"),
            jupyter_format=bool(record.get("jupyterFormat")),
            execution_time_ms=int(record.get("executionTimeInMilliseconds") or 0),
            error=record.get("error"),
            kind=str(record.get("kind") or "python"),
            exit_code=record.get("exitCode"),
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
        self,
        *,
        config: EmulatorConfig,
        isolation: Isolation,
        interpreter: InterpreterInfo,
        cgroups: SessionCgroups | None = None,
    ) -> None:
        self.config = config
        self.isolation = isolation
        self.cgroups = cgroups
        #: session slot -> its kernel, and the lock that runs its cells one at a time
        self._kernels: dict[int, Kernel] = {}
        self._locks: dict[int, asyncio.Lock] = {}
        self._env = sandbox_env(interpreter)
        limits = config.limits
        self.budget = DiskBudget(limits.disk_bytes, limits.disk_entries)
        # Without a session cgroup, the address-space limit is the only memory bound.
        memory = limits.address_space_bytes
        if cgroups is None:
            memory = min(memory, limits.session_memory_bytes)
        self._limits = [
            ["RLIMIT_AS", memory],
            ["RLIMIT_NPROC", limits.processes],
            ["RLIMIT_FSIZE", min(limits.file_size_bytes, limits.disk_bytes)],
            ["RLIMIT_NOFILE", limits.open_files],
        ]

    def describe_limits(self) -> str:
        """One line for the start-up log: how a session's memory is bounded."""
        if self.cgroups is not None:
            return self.cgroups.describe()
        limits = self.config.limits
        return (
            "no session cgroup (needs root and a writable cgroup file system): memory is "
            f"bounded per process ({self._limits[0][1]} bytes, {limits.processes} processes)"
        )

    async def over_quota(self, session_dir: Path) -> bool:
        """Whether the session's /mnt/data is over its disk or inode budget."""
        usage = await asyncio.to_thread(self.budget.measure, session_dir)
        return self.budget.over(usage)

    async def run(
        self,
        execution: Execution,
        *,
        code: str,
        session_dir: Path,
        uid: int | None,
        slot: int = 0,
    ):
        """Run ``code`` (a shell command line for a shell execution) in the session's kernel.

        Never raises for user-code problems. Cells of one session run one at a time; a
        cell that times out, or a session deleted meanwhile, kills the kernel.
        """
        if execution.status is ExecutionStatus.CANCELED:  # session deleted before it started
            return
        if await self.over_quota(session_dir):
            execution.status = ExecutionStatus.FAILED
            execution.error = {"code": QUOTA_EXCEEDED, "message": self.budget.message()}
            return
        if isinstance(self.isolation, NoIsolation):
            log.warning("execution %s runs WITHOUT a sandbox (--insecure-no-sandbox)", execution.id)
        lock = self._locks.setdefault(slot, asyncio.Lock())
        async with lock:
            if execution.status is ExecutionStatus.CANCELED:
                return
            try:
                kernel = await self._kernel(slot, session_dir, uid)
            except OSError as exc:
                execution.status = ExecutionStatus.FAILED
                execution.error = {"code": "InternalServerError", "message": f"spawn failed: {exc}"}
                return
            await self._run_cell(kernel, execution, code, session_dir, slot, uid)

    async def _kernel(self, slot: int, session_dir: Path, uid: int | None) -> Kernel:
        """The session's kernel, started when it has none (or its last one died)."""
        kernel = self._kernels.get(slot)
        if kernel is not None and kernel.alive and kernel.session_dir == str(session_dir):
            return kernel
        if kernel is not None:
            await kernel.close()
        env = dict(self._env)
        env["EMU_RESULT_MAX"] = str(self.config.max_execution_result_bytes)
        env["EMU_LIMITS"] = json.dumps(self._limits)
        if uid is not None and self.isolation.drops_uid:
            env["EMU_UID"] = str(uid)
        join: list[Path] = []
        if self.cgroups is not None:
            join = await asyncio.to_thread(self.cgroups.prepare, slot)
        parent, child = socket.socketpair()
        try:
            with seccomp_fd(self.isolation) as program:
                argv = self.isolation.argv(session_dir=session_dir, seccomp_fd=program)
                fds = (child.fileno(),) + (() if program is None else (program,))
                process = await spawn_kernel(
                    join_argv(join, argv),
                    env=env,
                    cwd=str(session_dir),
                    pass_fds=fds,
                    child_fd=child.fileno(),
                )
        except BaseException:
            parent.close()
            raise
        finally:
            child.close()
        kernel = Kernel(process=process, sock=parent, session_dir=str(session_dir))
        kernel.stderr_task = asyncio.create_task(keep_tail(process.stderr))
        self._kernels[slot] = kernel
        return kernel

    async def _stop_kernel(self, slot: int) -> None:
        """Stop a session's kernel; its lock stays, so its next cells still queue on it."""
        kernel = self._kernels.pop(slot, None)
        if kernel is not None:
            await kernel.close()

    async def release(self, slot: int) -> None:
        """Stop a session's kernel and forget its lock (the session was deleted or reaped)."""
        await self._stop_kernel(slot)
        self._locks.pop(slot, None)

    async def close(self) -> None:
        """Stop every kernel (the emulator is shutting down)."""
        for slot in list(self._kernels):
            await self.release(slot)

    async def _run_cell(
        self,
        kernel: Kernel,
        execution: Execution,
        code: str,
        session_dir: Path,
        slot: int,
        uid: int | None,
    ) -> None:
        keep = execution.output_max_length * 4  # UTF-8: at most 4 bytes per character
        oom_before = self.cgroups.oom_kills(slot) if self.cgroups is not None else 0
        execution.process = kernel.process
        started = time.perf_counter()
        kind = SHELL if execution.kind == "shell" else PYTHON
        try:
            pipes = await kernel.send(code, kind)
        except OSError:  # the kernel died between cells: one more start, then give up
            await self._stop_kernel(slot)
            kernel = await self._kernel(slot, session_dir, uid)
            execution.process = kernel.process
            pipes = await kernel.send(code, kind)
        if execution.status is ExecutionStatus.CANCELED:  # killed while it was being sent
            kernel.kill()
        elif execution.status is ExecutionStatus.NOT_STARTED:
            execution.status = ExecutionStatus.RUNNING
        readers = [await _open_pipe_reader(fd) for fd in (pipes.stdout, pipes.stderr, pipes.result)]
        drains = [
            asyncio.create_task(_drain(readers[0], keep)),
            asyncio.create_task(_drain(readers[1], keep)),
            asyncio.create_task(_drain(readers[2], self.config.max_execution_result_bytes * 2)),
        ]
        outcome = "exited"
        try:
            outcome = await self._watch(kernel, drains[2], execution.timeout_seconds, session_dir)
        finally:
            if outcome != "exited" or not kernel.alive:
                await self._stop_kernel(slot)  # timeout, quota, cancel or death: state is gone
            done, pending = await asyncio.wait(drains, timeout=DRAIN_GRACE_SECONDS)
            for task in pending:
                task.cancel()
            execution.execution_time_ms = int((time.perf_counter() - started) * 1000)
        if outcome == "exited" and await self.over_quota(session_dir):
            outcome = "quota"
            await self._stop_kernel(slot)
        stdout, stderr, raw_result = (t.result() if t in done else b"" for t in drains)
        execution.stdout = _truncate(stdout, execution.output_max_length)
        execution.stderr = _truncate(stderr, execution.output_max_length)
        returncode = kernel.process.returncode
        self._finish(execution, returncode, raw_result, outcome=outcome)
        if self.cgroups is not None and self.cgroups.oom_kills(slot) > oom_before:
            self._out_of_memory(execution)

    async def _watch(
        self, kernel: Kernel, result: asyncio.Task[bytes], timeout: float, folder: Path
    ) -> str:
        """Wait for the cell: "exited" (its result pipe closed), "timeout" or "quota"."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        died = asyncio.ensure_future(kernel.process.wait())
        try:
            while True:
                remaining = deadline - loop.time()
                if remaining <= 0:
                    return "timeout"
                done, _ = await asyncio.wait(
                    {result, died},
                    timeout=min(remaining, QUOTA_CHECK_SECONDS),
                    return_when=asyncio.FIRST_COMPLETED,
                )
                if done:
                    return "exited"
                if await self.over_quota(folder):
                    return "quota"
        finally:
            died.cancel()

    def _out_of_memory(self, execution: Execution) -> None:
        """An execution whose process the OOM killer took: say so, not just "signal 9"."""
        if execution.status is not ExecutionStatus.FAILED or execution.error is None:
            return
        if execution.error.get("code") != "ExecutionError":
            return
        limit = self.config.limits.session_memory_bytes
        execution.error["message"] = (
            f"The session ran out of memory (its limit is {limit} bytes): "
            + execution.error["message"]
        )

    def _finish(
        self, execution: Execution, returncode: int | None, raw_result: bytes, *, outcome: str
    ) -> None:
        """Map what happened to the service's status and error body."""
        if execution.status in TERMINAL:  # a kill already decided (deleted session, shutdown)
            return
        if outcome == "quota":
            execution.status = ExecutionStatus.FAILED
            execution.error = {"code": QUOTA_EXCEEDED, "message": self.budget.message()}
            execution.execution_result = None
            return
        if outcome == "timeout":
            execution.status = ExecutionStatus.FAILED
            execution.error = {
                "code": "Timeout",
                "message": f"Execution timed out after {execution.timeout_seconds:g} seconds.",
            }
            execution.execution_result = None
            return
        try:
            reply = json.loads(raw_result)
            if execution.kind == "shell":
                execution.exit_code = int(reply["exitCode"])
                reply["executionResult"] = ""
            execution.execution_result = reply["executionResult"]
            execution.result_text = reply.get("text")
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
