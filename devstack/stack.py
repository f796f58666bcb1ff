"""Start and stop the session emulator and the local Functions host as child processes.

Both run as real processes (not threads) so that what a user gets from
``make run`` is what the end-to-end tests exercise, including a SIGKILL of the
host and a restart on the same durable store.

One stack per state dir, and no orphans:

- the state dir is locked (``flock`` on ``<state>/.stack.lock``) before anything reads or
  changes it; a second stack on the same dir refuses to start, naming the holder;
- each child gets the parent-death signal (``ARO_PARENT_PID``): if this process dies,
  even by SIGKILL, the kernel sends the children SIGTERM and they shut down;
- each child binds its port before it touches stored work and reports on a pipe
  (``ARO_READY_FD``) once it serves, so "started" means *this* stack's servers answer, not
  some leftover process on the same port.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import select
import signal
import socket
import stat
import subprocess
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from devstack.local_settings import FUNCTION_KEYS, SYSTEM_KEY, ensure_local_settings
from local_runtime.config import parse_function_keys
from thread_server import PARENT_PID_ENV, READY_FD_ENV

REPO_ROOT = Path(__file__).resolve().parent.parent
#: Python 3.13 with Azure's worker (``make worker-venv``): the host runs there when it exists.
WORKER_PYTHON = REPO_ROOT / ".venv-worker" / "bin" / "python"
#: The session image's Python and packages (``make session-venv``): workflow code runs there.
SESSION_PYTHON = REPO_ROOT / ".venv-session" / "bin" / "python"
POOL_PREFIX = "/subscriptions/local/resourceGroups/local/sessionPools/local"
STARTUP_TIMEOUT_SECONDS = 30.0
STOP_TIMEOUT_SECONDS = 10.0


class StackError(RuntimeError):
    """A child process did not start, or exited while it was expected to serve."""


def free_port(host: str = "127.0.0.1") -> int:
    """Ask the OS for a free TCP port (tests start several stacks side by side)."""
    with socket.socket() as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


@dataclass(frozen=True, kw_only=True)
class StackConfig:
    """Where the stack keeps its state and which ports it serves on."""

    root: Path = REPO_ROOT
    state_dir: Path = REPO_ROOT / ".local"
    settings_path: Path = REPO_ROOT / "local.settings.json"
    host: str = "127.0.0.1"
    runtime_port: int = 7071
    emulator_port: int = 8081
    #: The emulator's interpreter (and the host's, when ``host_python`` is empty).
    python: str = sys.executable
    #: The Functions host's interpreter. ``None``: .venv-worker's Python when it exists (then
    #: Azure's worker loads the app and serves every invocation), else ``python``.
    host_python: str | None = None
    #: The interpreter workflow code runs with in the sandbox. ``None``: .venv-session's
    #: (the session image's packages); without it the stack refuses to start.
    sandbox_python: str | None = None
    #: Sandbox egress; ``None`` leaves it to ``SESSION_EGRESS`` (default ``none``).
    allow_network: bool | None = None
    #: Extra environment for the Functions host (e.g. settings overrides in tests).
    runtime_env: Mapping[str, str] = field(default_factory=dict)
    #: Extra ``python -m session_emulator`` options (e.g. ``["--max-sessions", "1"]``).
    emulator_args: tuple[str, ...] = ()
    #: ``True`` writes each child's output to ``state_dir/<name>.log`` instead of the terminal.
    log_to_files: bool = False

    @property
    def runtime_python(self) -> str:
        """The host's interpreter (see ``host_python``)."""
        if self.host_python:
            return self.host_python
        return str(WORKER_PYTHON) if WORKER_PYTHON.exists() else self.python

    @property
    def workflow_python(self) -> str:
        """The sandbox's interpreter (see ``sandbox_python``)."""
        if self.sandbox_python:
            return self.sandbox_python
        if not SESSION_PYTHON.exists():
            raise StackError(
                f"{SESSION_PYTHON} does not exist: run `make session-venv` (workflow code runs "
                "with the session image's packages, as on Azure)"
            )
        return str(SESSION_PYTHON)

    @property
    def base_url(self) -> str:
        """The Functions host's origin, like ``func start``'s."""
        return f"http://{self.host}:{self.runtime_port}"

    @property
    def pool_endpoint(self) -> str:
        """The emulated pool management endpoint."""
        return f"http://{self.host}:{self.emulator_port}{POOL_PREFIX}"


LOCK_FILE = ".stack.lock"


class _Child:
    """One child process in its own process group, with its output sink and ready pipe."""

    def __init__(
        self, name: str, argv: list[str], *, env: dict[str, str], cwd: Path, log: IO[bytes] | None
    ) -> None:
        self.name = name
        self.argv = argv
        self.log = log
        self._ready, ready_writer = os.pipe()
        env = {**env, PARENT_PID_ENV: str(os.getpid()), READY_FD_ENV: str(ready_writer)}
        try:
            self.process = subprocess.Popen(
                argv,
                cwd=cwd,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT if log else None,
                start_new_session=True,
                pass_fds=(ready_writer,),
            )
        finally:
            os.close(ready_writer)

    def wait_ready(self, *, timeout: float) -> None:
        """Until the child says it serves (its line on the ready pipe), or it exits."""
        deadline = time.monotonic() + timeout
        try:
            while True:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise StackError(f"{self.name} did not start within {timeout:.0f} s")
                readable, _, _ = select.select([self._ready], [], [], min(remaining, 0.2))
                if readable and os.read(self._ready, 64).startswith(b"ready"):
                    return
                if readable or not self.alive():  # EOF: it closed the pipe without serving
                    self.process.wait(timeout=5)
                    raise StackError(
                        f"{self.name} exited with code {self.process.returncode}"
                        if self.process.returncode is not None
                        else f"{self.name} closed its ready pipe without serving"
                    )
        finally:
            with contextlib.suppress(OSError):
                os.close(self._ready)

    def alive(self) -> bool:
        return self.process.poll() is None

    def signal(self, sig: int) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, sig)

    def stop(self, *, timeout: float = STOP_TIMEOUT_SECONDS) -> None:
        """SIGTERM the group, then SIGKILL what is left after ``timeout``."""
        if self.alive():
            self.signal(signal.SIGTERM)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.signal(signal.SIGKILL)
                self.process.wait()
        # Children of the group (e.g. sandboxed runs) may outlive the leader.
        self.signal(signal.SIGKILL)
        if self.log:
            self.log.close()
            self.log = None

    def kill(self) -> None:
        """SIGKILL the whole group at once, as a crash would."""
        self.signal(signal.SIGKILL)
        self.process.wait()
        if self.log:
            self.log.close()
            self.log = None


def make_private_dir(folder: Path) -> None:
    """Create the state dir 0700 (and narrow it, unless it is a shared sticky dir like /tmp)."""
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    mode = folder.stat().st_mode
    if not mode & stat.S_ISVTX and mode & 0o077:
        os.chmod(folder, 0o700)


def lock_state_dir(state_dir: Path) -> int:
    """An exclusive lock on the state dir (held until the fd is closed or we die)."""
    make_private_dir(state_dir)
    fd = os.open(state_dir / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        holder = os.read(fd, 32).decode(errors="replace").strip() or "another process"
        os.close(fd)
        raise StackError(
            f"{state_dir} is in use by another stack (pid {holder}): stop it first, or use "
            "another --state-dir"
        ) from None
    os.ftruncate(fd, 0)
    os.write(fd, str(os.getpid()).encode())
    return fd


class LocalStack:
    """The emulator plus the local Functions host, started and stopped together.

    Usage::

        with LocalStack(StackConfig(...)) as stack:
            httpx.post(stack.base_url + "/api/workflows", json=...)
    """

    def __init__(self, config: StackConfig | None = None) -> None:
        self.config = config or StackConfig()
        self.values: dict[str, str] = {}
        self._emulator: _Child | None = None
        self._runtime: _Child | None = None
        self._lock: int | None = None

    @property
    def base_url(self) -> str:
        return self.config.base_url

    @property
    def function_key(self) -> str | None:
        """The first key the host accepts (``x-functions-key``), or None if none is set.

        Resolved as the host resolves it: ``runtime_env``, then the environment, then
        local.settings.json (known after ``start()``).
        """
        for source in (self.config.runtime_env, os.environ, self.values):
            if FUNCTION_KEYS in source:
                keys = parse_function_keys(source[FUNCTION_KEYS])
                return keys[0] if keys else None
        return None

    @property
    def system_key(self) -> str:
        """The Durable management API's system key (from local.settings.json)."""
        return self.values.get(SYSTEM_KEY, "")

    # -- lifecycle -----------------------------------------------------------
    def start(self) -> LocalStack:
        """Start the emulator, then the Functions host; wait until both listen."""
        cfg = self.config
        self._lock = lock_state_dir(cfg.state_dir)
        try:
            self.values = ensure_local_settings(
                cfg.settings_path,
                pool_endpoint=cfg.pool_endpoint,
                example=cfg.root / "local.settings.json.example",
            )
            self._emulator = self._start_emulator()
            self._emulator.wait_ready(timeout=STARTUP_TIMEOUT_SECONDS)
            self.start_runtime()
        except BaseException:
            self.stop()
            raise
        return self

    def start_runtime(self) -> None:
        """Start (or restart) the Functions host on the same durable store."""
        cfg = self.config
        argv = [
            cfg.runtime_python, "-m", "local_runtime",
            "--app", "function_app:app",
            "--host", cfg.host,
            "--port", str(cfg.runtime_port),
            "--db", str(cfg.state_dir / "durable.sqlite3"),
            "--settings", str(cfg.settings_path),
        ]  # fmt: skip
        env = dict(os.environ)
        # The emulator's real port wins over whatever the settings file says.
        env["AzureSession__PoolManagementEndpoint"] = cfg.pool_endpoint
        env.update(cfg.runtime_env)
        self._runtime = _Child(
            "local_runtime", argv, env=env, cwd=cfg.root, log=self._log("runtime")
        )
        self._runtime.wait_ready(timeout=STARTUP_TIMEOUT_SECONDS)

    def kill_runtime(self) -> None:
        """SIGKILL the Functions host (crash simulation); the emulator keeps running."""
        if self._runtime:
            self._runtime.kill()
            self._runtime = None

    def stop(self) -> None:
        """Stop the host first (so nothing new reaches the pool), then the emulator."""
        for child in (self._runtime, self._emulator):
            if child:
                child.stop()
        self._runtime = self._emulator = None
        if self._lock is not None:
            os.close(self._lock)
            self._lock = None

    def pids(self) -> dict[str, int]:
        """The process id of each running child (``runtime``, ``emulator``)."""
        children = {"runtime": self._runtime, "emulator": self._emulator}
        return {name: c.process.pid for name, c in children.items() if c is not None}

    def alive(self) -> bool:
        """Whether both children are still running."""
        return all(c is not None and c.alive() for c in (self._runtime, self._emulator))

    def __enter__(self) -> LocalStack:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- helpers -------------------------------------------------------------
    def _start_emulator(self) -> _Child:
        cfg = self.config
        argv = [
            cfg.python, "-m", "session_emulator",
            "--host", cfg.host,
            "--port", str(cfg.emulator_port),
            "--data-dir", str(cfg.state_dir / "sessions"),
            "--pool-prefix", POOL_PREFIX,
            "--python", cfg.workflow_python,
        ]  # fmt: skip
        if cfg.allow_network is True:
            argv.append("--allow-network")
        argv += cfg.emulator_args
        env = dict(os.environ)
        token = self.values.get("AzureSession__StaticToken")
        if token and self.values.get("AzureSession__AuthMode") == "static-token":
            env["SESSION_EMULATOR_TOKEN"] = token  # not an argument: argv is public in ps
        if cfg.allow_network is False:
            env["SESSION_EGRESS"] = "none"
        return _Child("session_emulator", argv, env=env, cwd=cfg.root, log=self._log("emulator"))

    def _log(self, name: str) -> IO[bytes] | None:
        if not self.config.log_to_files:
            return None
        # Logs name sessions and runs: private to the stack's user, like the store.
        fd = os.open(
            self.config.state_dir / f"{name}.log", os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600
        )
        os.fchmod(fd, 0o600)
        return os.fdopen(fd, "ab")

    def log_tail(self, name: str, *, chars: int = 4000) -> str:
        """The end of a child's log file (for test failure messages)."""
        path = self.config.state_dir / f"{name}.log"
        if not path.exists():
            return ""
        return path.read_text(errors="replace")[-chars:]
