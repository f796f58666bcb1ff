"""The emulator is as durable as the pool it imitates: a restart keeps sessions and executions."""

from __future__ import annotations

import json
import os
import time
import uuid
from pathlib import Path

import httpx
import pytest
from emulator_support import params, run_code

from session_emulator.config import EmulatorConfig
from session_emulator.executions import INTERRUPTED
from session_emulator.sessions import SESSION_FILE, SessionRegistry
from session_emulator.testing import run_emulator
from tests.session_emulator.conftest import emulator_config

API = "2025-02-02-preview"


def _identifier() -> str:
    return f"restart-{uuid.uuid4().hex[:12]}"


async def test_files_sessions_and_executions_survive_a_restart(tmp_path: Path) -> None:
    config = emulator_config(tmp_path)
    identifier = _identifier()
    with run_emulator(config) as url:
        async with httpx.AsyncClient(base_url=url, timeout=60) as http:
            upload = await http.post(
                "/files", params=params(identifier), files={"file": ("kept.txt", b"still here")}
            )
            assert upload.status_code == 200
            ran = await run_code(http, identifier, "print('before the restart')")
            created = (await http.get("/session", params=params(identifier, API))).json()
    with run_emulator(config) as url:
        async with httpx.AsyncClient(base_url=url, timeout=60) as http:
            content = await http.get("/files/kept.txt/content", params=params(identifier))
            execution = await http.get(f"/executions/{ran['id']}", params=params(identifier))
            session = (await http.get("/session", params=params(identifier, API))).json()
    assert content.content == b"still here"
    assert execution.status_code == 200
    assert execution.json()["status"] == "Succeeded"
    assert execution.json()["result"]["stdout"] == "before the restart\n"
    assert session["createdAt"] == created["createdAt"]


async def test_an_execution_running_at_shutdown_is_reported_interrupted(tmp_path: Path) -> None:
    config = emulator_config(tmp_path)
    identifier = _identifier()
    with run_emulator(config) as url:
        async with httpx.AsyncClient(base_url=url, timeout=60) as http:
            started = await http.post(
                "/executions",
                params=params(identifier),
                json={"code": "import time\ntime.sleep(60)", "executionType": "Asynchronous",
                      "timeoutInSeconds": 120},
            )  # fmt: skip
            execution_id = started.json()["id"]
    with run_emulator(config) as url:
        async with httpx.AsyncClient(base_url=url, timeout=60) as http:
            body = (await http.get(f"/executions/{execution_id}", params=params(identifier))).json()
    assert body["status"] == "Failed"
    assert body["error"]["code"] == INTERRUPTED
    assert "interrupted" in body["error"]["message"]


def _registry(tmp_path: Path, **overrides: object) -> SessionRegistry:
    return SessionRegistry(EmulatorConfig(data_dir=tmp_path, **overrides))


def test_a_record_left_running_by_a_killed_emulator_is_interrupted(tmp_path: Path) -> None:
    """A SIGKILL leaves the record as it was written at the start: Running."""
    registry = _registry(tmp_path)
    registry.load_storage()
    session = registry.get_or_create("killed-session")
    record = {
        "id": "exec-1", "identifier": "killed-session", "executionType": "Asynchronous",
        "timeoutSeconds": 60, "outputMaxLength": 4096, "status": "Running",
    }  # fmt: skip
    (session.root / "executions" / "exec-1.json").write_text(json.dumps(record))

    restarted = _registry(tmp_path)
    restarted.load_storage()
    execution = restarted.get("killed-session").executions["exec-1"]
    assert execution.status == "Failed"
    assert execution.error["code"] == INTERRUPTED
    # and the interruption is written back, so a second restart says the same
    saved = json.loads((session.root / "executions" / "exec-1.json").read_text())
    assert saved["status"] == "Failed"


def test_sessions_past_their_cooldown_are_dropped_at_start(tmp_path: Path) -> None:
    registry = _registry(tmp_path, cooldown_seconds=300)
    registry.load_storage()
    old = registry.get_or_create("old-session")
    fresh = registry.get_or_create("fresh-session")
    long_ago = time.time() - 301
    os.utime(old.root / SESSION_FILE, (long_ago, long_ago))

    restarted = _registry(tmp_path, cooldown_seconds=300)
    restarted.load_storage()
    assert restarted.get("old-session") is None
    assert not old.root.exists()
    assert restarted.get("fresh-session") is not None
    assert fresh.root.exists()


def test_restored_sessions_keep_their_slots_and_uids(tmp_path: Path) -> None:
    registry = _registry(tmp_path, max_sessions=3)
    registry.load_storage()
    first = registry.get_or_create("first-session")
    second = registry.get_or_create("second-session")

    restarted = _registry(tmp_path, max_sessions=3)
    restarted.load_storage()
    assert restarted.get("first-session").slot == first.slot
    assert restarted.get("second-session").uid == second.uid
    restarted.get_or_create("third-session")
    with pytest.raises(Exception, match="fourth"):
        restarted.get_or_create("fourth")  # the restored sessions hold their slots
