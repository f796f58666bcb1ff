"""The session registry: a session is a directory under the data dir plus metadata."""

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
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from .config import EmulatorConfig
from .executions import TERMINAL, Execution, ExecutionStatus

log = logging.getLogger("session_emulator.sessions")

SESSIONS_FOLDER = "sessions"


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

    def reset_storage(self) -> None:
        """Start empty: sessions do not survive an emulator restart."""
        if self.base.exists():
            shutil.rmtree(self.base, ignore_errors=True)
        self.base.mkdir(parents=True, exist_ok=True)
        os.chmod(self.base, 0o711)
        if self.config.single_session_dir is not None:
            self.config.single_session_dir.mkdir(parents=True, exist_ok=True)
            empty_folder(self.config.single_session_dir)

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
        (root / "session.json").write_text(json.dumps({"identifier": identifier, "uid": uid}))
        self._sessions[identifier] = session
        log.info("session %s created (%s)", identifier, root.name)
        return session

    def _touch(self, session: Session) -> None:
        """Every call resets the idle timer."""
        session.last_used = time.monotonic()
        session.last_accessed_at = datetime.now(UTC)

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
        await asyncio.to_thread(shutil.rmtree, session.root, True)
        if session.shared_data_dir is not None and not self._sessions:
            await asyncio.to_thread(empty_folder, session.shared_data_dir)
        self._free_slots.append(session.slot)
        log.info("session %s removed (%s)", identifier, reason)
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
        """Stop everything on shutdown."""
        for identifier in list(self._sessions):
            with contextlib.suppress(Exception):
                await self.delete(identifier, reason="emulator shutting down")

    def remember(self, session: Session, execution: Execution) -> None:
        """Track an execution, forgetting the oldest finished ones beyond the cap."""
        session.executions[execution.id] = execution
        excess = len(session.executions) - self.config.max_executions_per_session
        if excess > 0:
            for old_id in [k for k, e in session.executions.items() if e.status in TERMINAL]:
                if excess <= 0:
                    break
                del session.executions[old_id]
                excess -= 1


__all__ = ["ExecutionStatus", "Session", "SessionLimitReached", "SessionRegistry", "rfc3339"]
