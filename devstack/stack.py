"""Start and stop the session emulator and the local Functions host as child processes.

Both run as real processes (not threads) so that what a user gets from
``make run`` is what the end-to-end tests exercise, including a SIGKILL of the
host and a restart on the same durable store.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from devstack.local_settings import FUNCTION_KEYS, ensure_local_settings
from local_runtime.config import parse_function_keys

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


class _Child:
    """One child process in its own process group, with its output sink."""

    def __init__(
        self, name: str, argv: list[str], *, env: dict[str, str], cwd: Path, log: IO[bytes] | None
    ) -> None:
        self.name = name
        self.argv = argv
        self.log = log
        self.process = subprocess.Popen(
            argv,
            cwd=cwd,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT if log else None,
            start_new_session=True,
        )

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


def _wait_for_port(child: _Child, host: str, port: int, *, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not child.alive():
            raise StackError(f"{child.name} exited with code {child.process.returncode}")
        with socket.socket() as sock:
            sock.settimeout(0.2)
            if sock.connect_ex((host, port)) == 0:
                return
        time.sleep(0.05)
    raise StackError(f"{child.name} did not listen on {host}:{port} within {timeout:.0f} s")


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

    # -- lifecycle -----------------------------------------------------------
    def start(self) -> LocalStack:
        """Start the emulator, then the Functions host; wait until both listen."""
        cfg = self.config
        cfg.state_dir.mkdir(parents=True, exist_ok=True)
        self.values = ensure_local_settings(
            cfg.settings_path,
            pool_endpoint=cfg.pool_endpoint,
            example=cfg.root / "local.settings.json.example",
        )
        try:
            self._emulator = self._start_emulator()
            _wait_for_port(
                self._emulator, cfg.host, cfg.emulator_port, timeout=STARTUP_TIMEOUT_SECONDS
            )
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
        _wait_for_port(self._runtime, cfg.host, cfg.runtime_port, timeout=STARTUP_TIMEOUT_SECONDS)

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
        return open(self.config.state_dir / f"{name}.log", "ab")

    def log_tail(self, name: str, *, chars: int = 4000) -> str:
        """The end of a child's log file (for test failure messages)."""
        path = self.config.state_dir / f"{name}.log"
        if not path.exists():
            return ""
        return path.read_text(errors="replace")[-chars:]
