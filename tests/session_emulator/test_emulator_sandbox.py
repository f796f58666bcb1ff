"""Sandbox escape and abuse cases; each leaves the emulator healthy (print(1) still works)."""

from __future__ import annotations

import contextlib
import os
import resource
import socket
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from emulator_support import assert_healthy, params, run_code

from session_emulator.testing import run_emulator
from tests.session_emulator.conftest import emulator_config, new_identifier

CONNECT = """
import socket
s = socket.socket()
s.settimeout(2)
try:
    s.connect(('{host}', {port}))
    print('CONNECTED')
except OSError as exc:
    print('BLOCKED', type(exc).__name__)
"""


@contextlib.contextmanager
def loopback_listener() -> Iterator[int]:
    """A TCP listener on 127.0.0.1 that accepts and closes connections."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(8)
    server.settimeout(0.2)
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            with contextlib.suppress(OSError):
                conn, _ = server.accept()
                conn.close()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield server.getsockname()[1]
    finally:
        stop.set()
        thread.join(2)
        server.close()


async def test_no_network_to_the_emulator_or_loopback(http, emulator, identifier):
    body = await run_code(http, identifier, CONNECT.format(host="127.0.0.1", port=emulator.port))
    assert body["result"]["stdout"].startswith("BLOCKED"), body
    with loopback_listener() as port:
        body = await run_code(http, identifier, CONNECT.format(host="127.0.0.1", port=port))
    assert body["result"]["stdout"].startswith("BLOCKED"), body
    dns = await run_code(
        http,
        identifier,
        "import socket\ntry:\n socket.getaddrinfo('example.com', 80)\n"
        " print('RESOLVED')\nexcept OSError:\n print('BLOCKED')",
    )
    assert dns["result"]["stdout"] == "BLOCKED\n"
    await assert_healthy(http, identifier)


async def test_allow_network_permits_loopback_connect(tmp_path):
    config = emulator_config(tmp_path, allow_network=True)
    with loopback_listener() as port, run_emulator(config) as url:
        async with httpx.AsyncClient(base_url=url, timeout=30) as client:
            body = await run_code(
                client, new_identifier(), CONNECT.format(host="127.0.0.1", port=port)
            )
            assert body["result"]["stdout"] == "CONNECTED\n", body


async def test_other_sessions_and_host_secrets_are_invisible(http, emulator, identifier):
    other = new_identifier()
    await run_code(http, other, "open('secret.txt', 'w').write('top secret')")
    data_dir = str(emulator.config.data_dir)
    project_local = str(Path(__file__).resolve().parents[2] / ".local")
    code = f"""
import os, sys
# The interpreter's own folders are bound back read-only wherever they live.
interpreter = tuple(os.path.realpath(p) for p in {{sys.prefix, sys.base_prefix}})
found = []
for root in ({data_dir!r}, '/root', '/home', '/tmp', {project_local!r}):
    for dirpath, dirs, files in os.walk(root):
        if not os.path.realpath(dirpath).startswith(interpreter):
            found += [os.path.join(dirpath, f) for f in files]
print(len(found), [f for f in found if 'secret' in f])
print(os.listdir('/mnt/data'))
"""
    body = await run_code(http, identifier, code)
    assert body["result"]["stdout"] == "0 []\n[]\n", body
    await assert_healthy(http, identifier)


async def test_writes_outside_mnt_data_fail_and_tmp_is_private(http, identifier):
    code = """
import os
results = []
for path in ('/etc/evil', '/usr/evil', '/work/evil', '/evil', '/mnt/evil'):
    try:
        open(path, 'w').write('x')
        results.append('WROTE ' + path)
    except OSError as exc:
        results.append(type(exc).__name__)
open('/tmp/marker-%s' % os.getpid(), 'w').write('x')
print(results)
"""
    body = await run_code(http, identifier, code)
    assert "WROTE" not in body["result"]["stdout"], body
    assert not any(name.startswith("marker-") for name in os.listdir("/tmp"))
    for path in ("/etc/evil", "/usr/evil", "/work/evil", "/evil"):
        assert not os.path.exists(path)
    await assert_healthy(http, identifier)


async def test_the_root_holds_only_what_the_sandbox_needs(http, identifier):
    """Deny by default: system folders, named /etc entries, the interpreter; nothing else."""
    from session_emulator.sandbox import ETC_ENTRIES, SYSTEM_DIRS

    code = "import os, sys\nprint(sorted(os.listdir('/')))\nprint(sorted(os.listdir('/etc')))"
    body = await run_code(http, identifier, code)
    top, etc = (eval(line) for line in body["result"]["stdout"].splitlines())
    interpreter_tops = {Path(p).resolve().parts[1] for p in (sys.prefix, sys.base_prefix)}
    allowed = {d.strip("/") for d in SYSTEM_DIRS} | {"etc", "dev", "proc", "tmp", "mnt"}
    assert set(top) <= allowed | interpreter_tops, top
    assert "run" not in top and "home" not in top
    assert set(etc) <= set(ETC_ENTRIES), etc
    assert "shadow" not in etc


def test_root_binds_recreate_links_and_make_parents_traversable(tmp_path: Path) -> None:
    from session_emulator.sandbox import root_binds

    inner = tmp_path / "a" / "b" / "venv"
    inner.mkdir(parents=True)
    args = root_binds([inner, inner / "lib", Path("/usr/lib")], tmp_bytes=1024)
    joined = " ".join(args)
    assert f"--ro-bind {inner} {inner}" in joined
    assert f"--ro-bind {inner / 'lib'}" not in joined  # inside a folder already bound
    assert "--ro-bind /usr/lib" not in joined  # inside /usr
    assert f"--perms 0755 --dir {tmp_path / 'a'}" in joined
    if Path("/bin").is_symlink():
        assert f"--symlink {os.readlink('/bin')} /bin" in joined
    assert "--ro-bind / /" not in joined
    # /tmp is mounted before the interpreter's folders: a checkout under /tmp stays visible
    assert args.index("/tmp") < args.index(str(inner))


async def test_fork_bomb_is_contained(http, identifier):
    bomb = "import os\nwhile True:\n    try:\n        os.fork()\n    except OSError:\n        pass"
    body = await run_code(http, identifier, bomb, timeout=3)
    assert body["status"] == "Failed" and body["error"]["code"] == "Timeout", body
    await assert_healthy(http, identifier)
    await assert_healthy(http, new_identifier())


async def test_memory_hog_fails(http, identifier):
    hog = "chunks = []\nwhile True:\n    chunks.append(bytearray(256 * 1024 * 1024))"
    body = await run_code(http, identifier, hog, timeout=20)
    assert "MemoryError" in body["result"]["stderr"] or body["status"] == "Failed", body
    await assert_healthy(http, identifier)


async def test_infinite_loop_is_killed_at_timeout(http, identifier):
    code = "import subprocess\nsubprocess.Popen(['sleep', '987.654'])\nwhile True: pass"
    body = await run_code(http, identifier, code, timeout=1)
    assert body["status"] == "Failed" and body["error"]["code"] == "Timeout"
    assert _processes_with_cmdline(b"sleep\x00987.654\x00") == []
    await assert_healthy(http, identifier)


def _processes_with_cmdline(cmdline: bytes) -> list[str]:
    found = []
    for pid in os.listdir("/proc"):
        if pid.isdigit():
            with contextlib.suppress(OSError), open(f"/proc/{pid}/cmdline", "rb") as f:
                if f.read() == cmdline:
                    found.append(pid)
    return found


async def test_fifty_megabytes_of_stdout_is_truncated_without_buffering(http, identifier):
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    code = (
        "import sys\nchunk = 'x' * (1024 * 1024)\nfor _ in range(50):\n    sys.stdout.write(chunk)"
    )
    body = await run_code(http, identifier, code, timeout=60)
    after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    assert body["status"] == "Succeeded"
    assert body["result"]["stdout"] == "x" * 4096
    assert (after - before) < 30 * 1024, f"emulator grew by {after - before} KiB"
    await assert_healthy(http, identifier)


async def test_traversal_file_name_is_400(http, identifier):
    response = await http.post(
        "/files", params=params(identifier), files={"file": ("../../etc/passwd", b"x")}
    )
    assert response.status_code == 400
    await assert_healthy(http, identifier)


@pytest.mark.skipif(os.geteuid() != 0, reason="per-session uids need root")
async def test_sessions_run_as_distinct_unprivileged_uids(http, identifier):
    a = await run_code(http, identifier, "import os\nos.getuid()")
    b = await run_code(http, new_identifier(), "import os\nos.getuid()")
    assert a["result"]["executionResult"] != b["result"]["executionResult"]
    assert a["result"]["executionResult"] >= 200_000


async def test_an_interpreter_under_tmp_is_visible_in_the_sandbox(tmp_path: Path) -> None:
    """A checkout (and its venvs) under /tmp, as on some CI machines, still runs code."""
    import subprocess
    import venv

    assert str(tmp_path).startswith("/tmp/") or not Path("/tmp").is_dir()
    venv.EnvBuilder(with_pip=False).create(tmp_path / "venv")
    python = tmp_path / "venv" / "bin" / "python"
    subprocess.run([python, "-c", "pass"], check=True)
    config = emulator_config(tmp_path / "data", python=str(python))
    with run_emulator(config) as url:
        async with httpx.AsyncClient(base_url=url, timeout=30) as client:
            body = await run_code(client, new_identifier(), "import sys\nprint(sys.prefix)")
    assert body["result"]["stdout"] == f"{tmp_path / 'venv'}\n", body
