"""`python -m devstack` lifecycle: secrets written private, children gone after a hang-up."""

from __future__ import annotations

import os
import signal
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


@pytest.mark.skipif(not Path("/proc").is_dir(), reason="reads /proc")
def test_hangup_stops_both_children(tmp_path: Path) -> None:
    state = tmp_path / "state"
    command = [
        sys.executable, "-m", "devstack", "--state-dir", str(state),
        "--settings", str(tmp_path / "local.settings.json"),
        "--port", str(free_port()), "--emulator-port", str(free_port()),
    ]  # fmt: skip
    log = (tmp_path / "devstack.log").open("wb")
    process = subprocess.Popen(command, cwd=REPO_ROOT, stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 60
        while b"is running" not in (tmp_path / "devstack.log").read_bytes():
            assert process.poll() is None, (tmp_path / "devstack.log").read_text()
            assert time.monotonic() < deadline, "devstack did not start"
            time.sleep(0.1)
        children = set(processes_mentioning(str(state))) - {process.pid}
        assert len(children) == 2  # emulator + host
        process.send_signal(signal.SIGHUP)
        assert process.wait(timeout=30) == 0
        assert processes_mentioning(str(state)) == []  # devstack and both children
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        for pid in processes_mentioning(str(state)):  # orphans of a failed run
            os.kill(pid, signal.SIGKILL)
        log.close()
