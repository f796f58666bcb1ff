"""A memory and process budget for a whole session, from a cgroup of its own.

rlimits bound one process: three children of one run could each take the per-process
address-space limit. A real session is one small VM, so its memory is one budget; here
each session slot gets a cgroup whose memory limit covers every process of every
execution in it, ``/tmp`` (tmpfs pages are charged to the cgroup that writes them)
included, plus a process-count limit.

The emulator can create cgroups when it runs as root on Linux with a writable cgroup
file system: cgroup v2 when the memory controller can be enabled below the emulator's
own cgroup, else the v1 ``memory`` (and ``pids``) hierarchies. Otherwise
:func:`detect` returns None and the runner falls back to per-process rlimits, which
bound a session only to ``processes * address space`` (docs/security.md says so).

A process joins its session's cgroup before it execs the sandbox (``join_argv``: a
shell writes its own pid into ``cgroup.procs`` and execs the rest), so nothing the
code starts is ever outside it.
"""

from __future__ import annotations

import contextlib
import logging
import os
import secrets
import signal
import time
from dataclasses import dataclass
from pathlib import Path

from .config import EmulatorConfig

log = logging.getLogger("session_emulator.cgroups")

CGROUP_ROOT = Path("/sys/fs/cgroup")
#: Shell that joins the cgroups named before ``--`` and execs what follows.
_JOIN = 'while [ "$1" != -- ]; do echo $$ > "$1" || exit 125; shift; done; shift; exec "$@"'


@dataclass(frozen=True)
class Limits:
    """What one session may use."""

    memory_bytes: int
    processes: int


class SessionCgroups:
    """Per-slot cgroups below one parent per emulator process (v1 or v2)."""

    def __init__(self, version: int, parents: dict[str, Path], limits: Limits) -> None:
        self.version = version
        #: controller ("memory", "pids"; "" for v2's single tree) → the emulator's folder
        self.parents = parents
        self.limits = limits

    def describe(self) -> str:
        """One line for the start-up log."""
        mib = self.limits.memory_bytes // (1024 * 1024)
        return f"cgroup v{self.version}: {mib} MiB and {self.limits.processes} processes a session"

    def _folders(self, slot: int) -> list[Path]:
        return [parent / f"s{slot}" for parent in self.parents.values()]

    def prepare(self, slot: int) -> list[Path]:
        """Create (or reuse) the slot's cgroups with the limits; their ``cgroup.procs`` files."""
        for folder in self._folders(slot):
            folder.mkdir(exist_ok=True)
        memory, pids = str(self.limits.memory_bytes), str(self.limits.processes)
        if self.version == 2:
            (folder,) = self._folders(slot)
            _write(folder / "memory.max", memory)
            _write(folder / "memory.swap.max", "0", optional=True)
            _write(folder / "pids.max", pids, optional=True)
        else:
            mem = self.parents["memory"] / f"s{slot}"
            _write(mem / "memory.limit_in_bytes", memory)
            _write(mem / "memory.memsw.limit_in_bytes", memory, optional=True)
            if "pids" in self.parents:
                _write(self.parents["pids"] / f"s{slot}" / "pids.max", pids)
        return [folder / "cgroup.procs" for folder in self._folders(slot)]

    def oom_kills(self, slot: int) -> int:
        """How many processes the kernel's OOM killer has killed in the slot's cgroup."""
        folder = (
            self._folders(slot)[0] if self.version == 2 else self.parents["memory"] / f"s{slot}"
        )
        name = "memory.events" if self.version == 2 else "memory.oom_control"
        with contextlib.suppress(OSError, ValueError):
            for line in (folder / name).read_text().splitlines():
                key, _, value = line.partition(" ")
                if key == "oom_kill":
                    return int(value)
        return 0

    def kill(self, slot: int) -> None:
        """SIGKILL every process left in the slot's cgroups."""
        for folder in self._folders(slot):
            _kill_members(folder)

    def release(self, slot: int) -> None:
        """Kill what is left and remove the slot's cgroups (the session is gone)."""
        for folder in self._folders(slot):
            _remove(folder)

    def close(self) -> None:
        """Remove every slot cgroup and the emulator's own folders."""
        for parent in self.parents.values():
            if parent.is_dir():
                for child in parent.iterdir():
                    if child.is_dir():
                        _remove(child)
                _remove(parent)


def session_cgroup_limits(config: EmulatorConfig) -> Limits:
    """The per-session limits the configuration asks for."""
    return Limits(config.limits.session_memory_bytes, config.limits.processes)


def join_argv(procs_files: list[Path], argv: list[str]) -> list[str]:
    """``argv`` run by a shell that first moves itself into the given cgroups."""
    if not procs_files:
        return argv
    return ["/bin/sh", "-c", _JOIN, "sh", *map(str, procs_files), "--", *argv]


def _write(path: Path, value: str, *, optional: bool = False) -> None:
    try:
        path.write_text(value)
    except OSError:
        if not optional:
            raise


def _kill_members(folder: Path) -> None:
    with contextlib.suppress(OSError, ValueError):
        for pid in (folder / "cgroup.procs").read_text().split():
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(int(pid), signal.SIGKILL)


def _remove(folder: Path) -> None:
    """rmdir a cgroup once its members are gone (the kernel needs a moment after a kill)."""
    for _ in range(50):
        _kill_members(folder)
        try:
            folder.rmdir()
            return
        except FileNotFoundError:
            return
        except OSError:
            time.sleep(0.02)
    log.warning("cgroup %s could not be removed", folder)


def _parent_name() -> str:
    """``aro-sessions-<pid>-<random>``: one per emulator, even several in one process."""
    return f"aro-sessions-{os.getpid()}-{secrets.token_hex(4)}"


def _own_paths() -> dict[str, str]:
    """Controller → the emulator's cgroup path, from /proc/self/cgroup ("" for v2)."""
    out: dict[str, str] = {}
    with contextlib.suppress(OSError):
        for line in Path("/proc/self/cgroup").read_text().splitlines():
            _, controllers, path = line.split(":", 2)
            for name in controllers.split(",") if controllers else [""]:
                out[name] = path
    return out


def _try_v2(own: dict[str, str], limits: Limits) -> SessionCgroups | None:
    if not (CGROUP_ROOT / "cgroup.controllers").is_file() or "" not in own:
        return None
    base = CGROUP_ROOT / own[""].lstrip("/")
    parent = base / _parent_name()
    try:
        if "memory" not in (base / "cgroup.controllers").read_text().split():
            return None
        parent.mkdir(exist_ok=True)
        # The parent of our leaves must delegate memory (and pids) to them. This fails
        # (EBUSY) when ``base`` holds processes and is not the root: then no v2 here.
        _write(base / "cgroup.subtree_control", "+memory")
        _write(base / "cgroup.subtree_control", "+pids", optional=True)
        _write(parent / "cgroup.subtree_control", "+memory")
        _write(parent / "cgroup.subtree_control", "+pids", optional=True)
    except OSError as exc:
        log.debug("cgroup v2 not usable: %s", exc)
        _remove(parent)
        return None
    return SessionCgroups(2, {"": parent}, limits)


def _try_v1(own: dict[str, str], limits: Limits) -> SessionCgroups | None:
    parents: dict[str, Path] = {}
    name = _parent_name()
    for controller in ("memory", "pids"):
        mount = CGROUP_ROOT / controller
        if controller not in own or not (mount / "cgroup.procs").is_file():
            continue
        parent = mount / own[controller].lstrip("/") / name
        try:
            parent.mkdir(exist_ok=True)
        except OSError as exc:
            log.debug("cgroup v1 %s not usable: %s", controller, exc)
            continue
        parents[controller] = parent
    if "memory" not in parents:
        for parent in parents.values():
            _remove(parent)
        return None
    return SessionCgroups(1, parents, limits)


def _remove_stale(parent: Path) -> None:
    """Remove the folders an emulator that died without cleaning up left next to ``parent``."""
    with contextlib.suppress(OSError):
        for sibling in parent.parent.glob("aro-sessions-*"):
            pid = sibling.name.split("-")[2]
            if sibling != parent and pid.isdigit() and not Path(f"/proc/{pid}").exists():
                for child in (c for c in sibling.iterdir() if c.is_dir()):
                    _remove(child)
                _remove(sibling)


def detect(limits: Limits) -> SessionCgroups | None:
    """Per-session cgroups if this process may create them (root, Linux), else None."""
    if os.geteuid() != 0 or not CGROUP_ROOT.is_dir():
        return None
    own = _own_paths()
    found = _try_v2(own, limits) or _try_v1(own, limits)
    for parent in found.parents.values() if found is not None else ():
        _remove_stale(parent)
    if found is not None:
        probe = 0  # check that a limit can really be set before relying on it
        try:
            found.prepare(probe)
        except OSError as exc:
            log.debug("cgroup limits cannot be set: %s", exc)
            found.close()
            return None
        found.release(probe)
    return found
