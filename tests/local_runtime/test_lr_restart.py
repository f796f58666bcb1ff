"""Crash safety: SIGKILL `python -m local_runtime` mid-activity, start it again, finish once."""

from __future__ import annotations

import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from lr_helpers import APP, APP_DIR, http_client

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="uses SIGKILL")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def write_settings(tmp: Path) -> str:
    """A local.settings.json with a function key and the Durable API's system key.

    Returns the function key; the management URLs the app hands out carry the system key
    themselves (as Azure's do), so following them needs no header.
    """
    key = secrets.token_urlsafe(16)
    values = {
        "LocalRuntime__FunctionKeys": key,
        "LocalRuntime__DurableTaskExtensionKey": secrets.token_urlsafe(16),
    }
    (tmp / "local.settings.json").write_text(json.dumps({"Values": values}))
    return key


def launch(port: int, db: Path, tmp: Path) -> subprocess.Popen[bytes]:
    """Start the CLI as a subprocess and wait until it answers."""
    command = [
        sys.executable, "-m", "local_runtime", "--app", APP, "--app-dir", str(APP_DIR),
        "--port", str(port), "--db", str(db),
        "--settings", str(tmp / "local.settings.json"), "--host-json", str(tmp / "absent.json"),
    ]  # fmt: skip
    log_path = tmp / f"server-{time.monotonic_ns()}.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(command, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        assert process.poll() is None, log_path.read_text()
        try:
            httpx.get(f"http://127.0.0.1:{port}/api/echo/ready", timeout=1)
            return process
        except httpx.TransportError:
            time.sleep(0.05)
    process.kill()
    raise AssertionError("server did not start")


def kill(process: subprocess.Popen[bytes]) -> None:
    os.kill(process.pid, signal.SIGKILL)
    process.wait(timeout=10)


def history(client: httpx.Client, url: str) -> list[dict]:
    with_history = httpx.URL(url).copy_merge_params({"showHistory": "true"})  # keeps its code
    return client.get(with_history).json()["historyEvents"]


def wait_for_scheduled(client: httpx.Client, url: str, count: int) -> None:
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        events = history(client, url)
        if sum(e["EventType"] == "TaskScheduled" for e in events) >= count:
            return
        time.sleep(0.02)
    raise AssertionError(f"task {count} was never scheduled")


def test_sigkill_mid_run_resumes_and_completes_once(tmp_path: Path) -> None:
    port = free_port()
    db = tmp_path / "durable.sqlite3"
    key = write_settings(tmp_path)
    processes = [launch(port, db, tmp_path)]
    try:
        with http_client() as client:
            started = client.post(
                f"http://127.0.0.1:{port}/api/orchestrators/o_slow",
                json=1.0,
                headers={"x-functions-key": key},
            )
            assert started.status_code == 202
            url = started.json()["statusQueryGetUri"]

            wait_for_scheduled(client, url, 1)  # first (sync, blocking) activity is running
            time.sleep(0.4)
            kill(processes[-1])
            processes.append(launch(port, db, tmp_path))

            wait_for_scheduled(client, url, 2)  # second (async) activity is running
            time.sleep(0.4)
            kill(processes[-1])
            processes.append(launch(port, db, tmp_path))

            deadline = time.monotonic() + 15
            while (response := client.get(url)).status_code == 202:
                assert time.monotonic() < deadline, response.json()
                time.sleep(0.02)
            status = response.json()
            assert status["runtimeStatus"] == "Completed"
            assert status["output"] == {"total": 2.0}
            events = history(client, url)
            kinds = [e["EventType"] for e in events]
            assert kinds.count("ExecutionCompleted") == 1
            assert kinds.count("TaskCompleted") == 2
            assert kinds.count("TaskScheduled") == 2
    finally:
        for process in processes:
            if process.poll() is None:
                process.terminate()
                process.wait(timeout=10)
