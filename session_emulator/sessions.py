"""The session registry: a session is a directory under the data dir plus metadata.

Like the service it imitates, a session outlives a restart of the process that serves it:
its folder holds ``session.json`` (identifier, slot, uid, creation time; its mtime is the
last access), ``data/`` (the files) and ``executions/<id>.json`` (each execution's record,
written when it starts and when it ends). At start-up the registry loads what is there,
reports executions that were still running as interrupted, and removes only sessions whose
cooldown has passed; nothing live is deleted.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import logging
import os
import shutil
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from .config import EmulatorConfig
from .executions import INTERRUPTED, TERMINAL, Execution, ExecutionStatus

log = logging.getLogger("session_emulator.sessions")

SHUTDOWN_MESSAGE = "The execution was interrupted: the session emulator shut down while it ran."
SESSIONS_FOLDER = "sessions"
SESSION_FILE = "session.json"
EXECUTIONS_FOLDER = "executions"


class SessionLimitReached(Exception):
    """Every one of ``max_sessions`` slots is taken (the service answers 404)."""


def rfc3339(moment: datetime) -> str:
    """UTC timestamp with milliseconds and a Z, as the service writes them."""
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


@dataclass
class Session:
    """One session: its files live in ``root/data`` (mounted at /mnt/data)."""

    identifier: str
    root: Path
    slot: int
    uid: int | None
    created_at: datetime
    last_accessed_at: datetime
    last_used: float
    etag: str = field(default_factory=lambda: uuid.uuid4().hex)
    executions: dict[str, Execution] = field(default_factory=dict)
    #: Set in single-session-dir mode: the one shared folder instead of ``root/data``.
    shared_data_dir: Path | None = None

    @property
    def data_dir(self) -> Path:
        """The host folder bound at /mnt/data."""
        return self.shared_data_dir or self.root / "data"

    @property
    def staging_dir(self) -> Path:
        """Where uploads land before they are complete (not visible to the sandbox)."""
        return self.root / "staging"

    def running(self) -> list[Execution]:
        """Executions that have not finished."""
        return [e for e in self.executions.values() if e.status not in TERMINAL]

    def to_json(self, cooldown_seconds: float) -> dict[str, Any]:
        """The ``Session`` body of ``GET /session``."""
        return {
            "identifier": self.identifier,
            "createdAt": rfc3339(self.created_at),
            "lastAccessedAt": rfc3339(self.last_accessed_at),
            "expireAt": rfc3339(self.last_accessed_at + timedelta(seconds=cooldown_seconds)),
            "etag": self.etag,
        }


def empty_folder(folder: Path) -> None:
    """Delete everything inside ``folder`` but keep the folder (it may be a mount point)."""
    if not folder.is_dir():
        return
    for entry in folder.iterdir():
        if entry.is_dir() and not entry.is_symlink():
            shutil.rmtree(entry, ignore_errors=True)
        else:
            with contextlib.suppress(FileNotFoundError):
                entry.unlink()


class SessionRegistry:
    """Creates sessions on first use, touches them on every call, reaps the idle ones."""

    def __init__(self, config: EmulatorConfig) -> None:
        self.config = config
        self.base = config.data_dir / SESSIONS_FOLDER
        self._sessions: dict[str, Session] = {}
        self._free_slots = list(range(config.max_sessions, 0, -1))
        self._uid_drop = os.geteuid() == 0
        #: Called with a removed session's slot (the runner stops its kernel).
        self.on_release: Callable[[int], Awaitable[None]] | None = None

    def load_storage(self) -> None:
        """Pick up the sessions a previous run left; drop only expired or unreadable ones."""
        self.base.mkdir(parents=True, exist_ok=True)
        os.chmod(self.base, 0o711)
        if self.config.single_session_dir is not None:
            self.config.single_session_dir.mkdir(parents=True, exist_ok=True)
        now = time.time()
        for root in sorted(p for p in self.base.iterdir() if p.is_dir()):
            try:
                session = self._restore(root, now)
            except (OSError, ValueError, KeyError, TypeError) as exc:
                log.warning("dropping unreadable session folder %s: %s", root.name, exc)
                shutil.rmtree(root, ignore_errors=True)
                continue
            if session is None:
                shutil.rmtree(root, ignore_errors=True)
                continue
            self._sessions[session.identifier] = session
        if self._sessions:
            log.info("restored %d session(s) from %s", len(self._sessions), self.base)
        elif self.config.single_session_dir is not None:
            # files no session owns (left by an earlier container): a new session starts empty
            empty_folder(self.config.single_session_dir)

    def _restore(self, root: Path, now: float) -> Session | None:
        """One session folder read back, or None when its cooldown passed while we were down."""
        marker = root / SESSION_FILE
        meta = json.loads(marker.read_text())
        idle = max(0.0, now - marker.stat().st_mtime)
        if idle > self.config.cooldown_seconds:
            log.info("session %s expired while the emulator was down", root.name)
            return None
        slot = int(meta.get("slot") or 0)
        if slot not in self._free_slots:
            raise ValueError(f"slot {slot} is not free (max_sessions changed?)")
        self._free_slots.remove(slot)
        last = datetime.fromtimestamp(now - idle, UTC)
        session = Session(
            identifier=str(meta["identifier"]),
            root=root,
            slot=slot,
            uid=meta.get("uid"),
            created_at=datetime.fromisoformat(meta["createdAt"]),
            last_accessed_at=last,
            last_used=time.monotonic() - idle,
            shared_data_dir=self.config.single_session_dir,
        )
        interrupted = 0
        for path in sorted((root / EXECUTIONS_FOLDER).glob("*.json")):
            execution = Execution.from_record(json.loads(path.read_text()))
            if (execution.error or {}).get("code") == INTERRUPTED:
                interrupted += 1
                self.save_execution(session, execution)
            session.executions[execution.id] = execution
        if interrupted:
            log.info("session %s: %d execution(s) interrupted", root.name, interrupted)
        return session

    def __len__(self) -> int:
        return len(self._sessions)

    def all(self) -> list[Session]:
        """Every live session, oldest first."""
        return sorted(self._sessions.values(), key=lambda s: s.created_at)

    def get(self, identifier: str) -> Session | None:
        """An existing session, touched; None when unknown."""
        session = self._sessions.get(identifier)
        if session is not None:
            self._touch(session)
        return session

    def get_or_create(self, identifier: str) -> Session:
        """The identifier's session, allocated on first use like the real pool."""
        session = self.get(identifier)
        if session is not None:
            return session
        if not self._free_slots:
            raise SessionLimitReached(identifier)
        slot = self._free_slots.pop()
        digest = hashlib.sha256(identifier.encode()).hexdigest()[:32]
        root = self.base / digest
        uid = self.config.sandbox_uid_base + slot if self._uid_drop else None
        shared = self.config.single_session_dir
        try:
            shutil.rmtree(root, ignore_errors=True)
            (root / "staging").mkdir(parents=True)
            os.chmod(root, 0o700)
            if shared is None:
                data = root / "data"
                data.mkdir()
                os.chmod(data, 0o700)
            else:
                data = shared
                data.mkdir(parents=True, exist_ok=True)
                if not self._sessions:  # a new session starts empty; others keep their files
                    empty_folder(data)
            if uid is not None:
                os.chown(data, uid, uid)
        except OSError:
            self._free_slots.append(slot)
            raise
        now = datetime.now(UTC)
        session = Session(
            identifier=identifier,
            root=root,
            slot=slot,
            uid=uid,
            created_at=now,
            last_accessed_at=now,
            last_used=time.monotonic(),
            shared_data_dir=shared,
        )
        (root / EXECUTIONS_FOLDER).mkdir()
        _write_json(
            root / SESSION_FILE,
            {"identifier": identifier, "uid": uid, "slot": slot, "createdAt": now.isoformat()},
        )
        self._sessions[identifier] = session
        log.info("session %s created", root.name)  # the folder name, not the identifier
        return session

    def _touch(self, session: Session) -> None:
        """Every call resets the idle timer (kept on disk as the mtime of session.json)."""
        session.last_used = time.monotonic()
        session.last_accessed_at = datetime.now(UTC)
        with contextlib.suppress(OSError):
            os.utime(session.root / SESSION_FILE)

    async def delete(self, identifier: str, *, reason: str = "session deleted") -> bool:
        """Kill the session's running executions and remove its files."""
        session = self._sessions.pop(identifier, None)
        if session is None:
            return False
        running = session.running()
        for execution in running:
            execution.kill(reason=reason)
        tasks = [e.task for e in running if e.task is not None]
        if tasks:
            await asyncio.wait(tasks, timeout=5)
        if self.on_release is not None:
            await self.on_release(session.slot)
        await asyncio.to_thread(shutil.rmtree, session.root, True)
        if session.shared_data_dir is not None and not self._sessions:
            await asyncio.to_thread(empty_folder, session.shared_data_dir)
        self._free_slots.append(session.slot)
        log.info("session %s removed (%s)", session.root.name, reason)
        return True

    def idle(self) -> list[str]:
        """Identifiers whose last call is older than the cooldown."""
        cutoff = time.monotonic() - self.config.cooldown_seconds
        return [s.identifier for s in self._sessions.values() if s.last_used < cutoff]

    async def reap_idle(self) -> list[str]:
        """Remove every idle session (running executions are killed with it)."""
        reaped = self.idle()
        for identifier in reaped:
            await self.delete(identifier, reason="cooldown expired")
        return reaped

    async def close(self) -> None:
        """Stop running executions on shutdown; sessions and their files stay for the restart."""
        running = [(s, e) for s in self._sessions.values() for e in s.running()]
        for _, execution in running:
            execution.kill(status=ExecutionStatus.FAILED, reason="emulator shutting down")
            execution.error = {
                "code": INTERRUPTED,
                "message": "The execution was interrupted: "
                "the session emulator shut down while it ran.",
            }
        tasks = [e.task for _, e in running if e.task is not None]
        if tasks:
            await asyncio.wait(tasks, timeout=5)
        for session, execution in running:
            with contextlib.suppress(OSError):
                self.save_execution(session, execution)

    def remember(self, session: Session, execution: Execution) -> None:
        """Track (and persist) an execution, forgetting the oldest finished ones beyond the cap."""
        session.executions[execution.id] = execution
        self.save_execution(session, execution)
        excess = len(session.executions) - self.config.max_executions_per_session
        if excess > 0:
            for old_id in [k for k, e in session.executions.items() if e.status in TERMINAL]:
                if excess <= 0:
                    break
                del session.executions[old_id]
                with contextlib.suppress(FileNotFoundError):
                    (session.root / EXECUTIONS_FOLDER / f"{old_id}.json").unlink()
                excess -= 1

    def save_execution(self, session: Session, execution: Execution) -> None:
        """Write the execution's record (when it starts and when it ends)."""
        if session.identifier not in self._sessions and not session.root.exists():
            return  # the session was deleted meanwhile
        folder = session.root / EXECUTIONS_FOLDER
        with contextlib.suppress(FileNotFoundError):
            _write_json(folder / f"{execution.id}.json", execution.to_record())


def _write_json(path: Path, value: Any) -> None:
    """Write atomically (temporary file, then rename), private to the emulator's user."""
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        json.dump(value, handle)
    os.replace(temporary, path)


__all__ = ["ExecutionStatus", "Session", "SessionLimitReached", "SessionRegistry", "rfc3339"]
