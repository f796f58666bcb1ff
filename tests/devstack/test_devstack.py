"""`python -m devstack` lifecycle: secrets written private, children gone after a hang-up."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest

from devstack.local_settings import ensure_local_settings
from devstack.stack import REPO_ROOT, free_port

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")


def test_settings_file_is_private_even_over_a_stale_temp_file(tmp_path: Path) -> None:
    path = tmp_path / "local.settings.json"
    stale = path.with_suffix(".tmp")
    stale.write_text("{}")
    stale.chmod(0o644)
    ensure_local_settings(path, pool_endpoint="http://127.0.0.1:1/pool")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def processes_mentioning(text: str) -> list[int]:
    """Pids whose command line contains `text` (this test's unique temp dir)."""
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and int(entry.name) != os.getpid():
            try:
                if text.encode() in (entry / "cmdline").read_bytes():
                    pids.append(int(entry.name))
            except OSError:
                continue
    return pids


def start_devstack(tmp_path: Path) -> tuple[subprocess.Popen, Path]:
    """``python -m devstack`` on a private state dir and ports, once it says it runs."""
    state = tmp_path / "state"
    command = [
        sys.executable, "-m", "devstack", "--state-dir", str(state),
        "--settings", str(tmp_path / "local.settings.json"),
        "--port", str(free_port()), "--emulator-port", str(free_port()),
    ]  # fmt: skip
    log_path = tmp_path / "devstack.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(command, cwd=REPO_ROOT, stdout=log, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 60
    while b"is running" not in log_path.read_bytes():
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            raise AssertionError("devstack did not start:\n" + log_path.read_text())
        time.sleep(0.1)
    return process, state


def wait_gone(text: str, *, timeout: float = 30) -> list[int]:
    """Pids still mentioning ``text`` after up to ``timeout`` seconds ([] when all are gone)."""
    deadline = time.monotonic() + timeout
    while (left := processes_mentioning(text)) and time.monotonic() < deadline:
        time.sleep(0.1)
    return left


def kill_leftovers(process: subprocess.Popen, state: Path) -> None:
    if process.poll() is None:
        process.kill()
        process.wait()
    for pid in processes_mentioning(str(state)):  # orphans of a failed run
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)


@pytest.mark.skipif(not Path("/proc").is_dir(), reason="reads /proc")
def test_hangup_stops_both_children(tmp_path: Path) -> None:
    process, state = start_devstack(tmp_path)
    try:
        children = set(processes_mentioning(str(state))) - {process.pid}
        assert len(children) == 2  # emulator + host
        process.send_signal(signal.SIGHUP)
        assert process.wait(timeout=30) == 0
        assert processes_mentioning(str(state)) == []  # devstack and both children
    finally:
        kill_leftovers(process, state)


@pytest.mark.skipif(not Path("/proc").is_dir(), reason="reads /proc")
def test_a_sigkilled_devstack_leaves_no_orphans(tmp_path: Path) -> None:
    """SIGKILL cannot be caught: the children's parent-death signal stops them."""
    process, state = start_devstack(tmp_path)
    try:
        assert len(set(processes_mentioning(str(state))) - {process.pid}) == 2
        process.kill()
        process.wait()
        assert wait_gone(str(state)) == []
    finally:
        kill_leftovers(process, state)


def test_a_second_stack_on_the_same_state_dir_is_refused(tmp_path: Path) -> None:
    from devstack.stack import LocalStack, StackConfig, StackError

    def config() -> StackConfig:
        return StackConfig(
            state_dir=tmp_path / "state",
            settings_path=tmp_path / "local.settings.json",
            runtime_port=free_port(),
            emulator_port=free_port(),
            log_to_files=True,
        )

    with (
        LocalStack(config()),
        pytest.raises(StackError, match=r"in use by another stack \(pid \d+\)"),
    ):
        LocalStack(config()).start()
    LocalStack(config()).start().stop()  # free again once the first one stopped


def test_a_taken_port_fails_the_start_instead_of_talking_to_a_stranger(tmp_path: Path) -> None:
    from devstack.stack import LocalStack, StackConfig, StackError

    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", 0))
        squatter.listen()
        taken = squatter.getsockname()[1]
        stack = LocalStack(
            StackConfig(
                state_dir=tmp_path / "state",
                settings_path=tmp_path / "local.settings.json",
                runtime_port=taken,
                emulator_port=free_port(),
                log_to_files=True,
            )
        )
        with pytest.raises(StackError, match="local_runtime exited with code 3"):
            stack.start()
    assert "cannot bind" in stack.log_tail("runtime")
