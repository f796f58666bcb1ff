"""A session's kernel: one long-lived sandboxed Python process that runs its code cells.

The emulator starts it on a session's first execution and keeps it while the session
lives, so state persists between executions as in the real service's Jupyter kernel.
The runner sends a session's cells one at a time. A cell that outlives its timeout, or a
session that is deleted, kills the kernel with its whole process group; the next
execution starts a fresh one (like a kernel restart: variables are gone, files in
/mnt/data stay).

The wire protocol is in :mod:`session_emulator.bootstrap`; :func:`send_cell` is its
client half, shared with the start-up probe.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import socket
import struct
from dataclasses import dataclass

from .bootstrap import HEADER_FORMAT, PYTHON

log = logging.getLogger("session_emulator.kernel")

#: Bytes of a dead kernel's own stderr kept for the log (its start-up errors).
KERNEL_STDERR_KEEP = 4000


@dataclass
class CellPipes:
    """The emulator's ends of one cell's stdout, stderr and result pipes."""

    stdout: int
    stderr: int
    result: int


def send_cell(sock: socket.socket, code: str, kind: bytes = PYTHON) -> CellPipes:
    """Send one cell with fresh pipes; the kernel gets the write ends (closed here)."""
    payload = kind + code.encode("utf-8", errors="surrogatepass")
    pairs = [os.pipe() for _ in range(3)]
    try:
        message = struct.pack(HEADER_FORMAT, len(payload)) + payload
        socket.send_fds(sock, [message[:65536]], [w for _, w in pairs])
        if len(message) > 65536:
            sock.sendall(message[65536:])
    except BaseException:
        for r, _ in pairs:
            os.close(r)
        raise
    finally:
        for _, w in pairs:
            os.close(w)
    return CellPipes(*(r for r, _ in pairs))


@dataclass
class Kernel:
    """A running kernel process and the emulator's end of its socket."""

    process: asyncio.subprocess.Process
    sock: socket.socket
    #: The folder it was started on (/mnt/data): a kernel never serves another session.
    session_dir: str = ""
    stderr_task: asyncio.Task[bytes] | None = None

    @property
    def alive(self) -> bool:
        """Whether the process still runs."""
        return self.process.returncode is None

    async def send(self, code: str, kind: bytes = PYTHON) -> CellPipes:
        """Hand a cell to the kernel (blocking socket work happens off the loop)."""
        return await asyncio.to_thread(send_cell, self.sock, code, kind)

    def kill(self) -> None:
        """SIGKILL the kernel's process group (bwrap takes its pid namespace along)."""
        with contextlib.suppress(OSError):
            self.sock.close()
        if self.process.returncode is None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self.process.pid, signal.SIGKILL)

    async def close(self) -> None:
        """Kill and reap; log its stderr if it died on its own."""
        self.kill()
        with contextlib.suppress(ProcessLookupError):
            await self.process.wait()
        if self.stderr_task is not None:
            with contextlib.suppress(Exception):
                tail = await asyncio.wait_for(self.stderr_task, 1.0)
                if tail.strip():
                    text = tail.decode(errors="replace")
                    log.info("kernel %s stderr: %s", self.process.pid, text)


async def spawn_kernel(argv: list[str], *, env: dict[str, str], cwd: str, pass_fds: tuple[int, ...],
                       child_fd: int) -> asyncio.subprocess.Process:  # fmt: skip
    """Start the kernel process in its own process group."""
    return await asyncio.create_subprocess_exec(
        *argv,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
        env=env | {"EMU_KERNEL_FD": str(child_fd)},
        cwd=cwd,
        pass_fds=pass_fds,
        start_new_session=True,
    )


async def keep_tail(stream: asyncio.StreamReader | None, keep: int = KERNEL_STDERR_KEEP) -> bytes:
    """Read a stream to EOF, keeping its last ``keep`` bytes."""
    if stream is None:
        return b""
    tail = b""
    while chunk := await stream.read(65536):
        tail = (tail + chunk)[-keep:]
    return tail
