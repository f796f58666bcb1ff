"""SQLite store for instances, history, messages and activity work items.

Every state transition is one transaction: an orchestrator episode commits its new
history events, consumed and produced messages, work items and instance row together,
so a crash leaves either the old or the new state, never half of one.

Tables:
  instances   one row per orchestration instance (status, input, output, engine state)
  history     the current execution's history events, in order
  messages    events waiting for an instance (ExecutionStarted, TaskCompleted, TimerFired
              with visible_at = fire time, EventRaised, ExecutionTerminated, ...)
  work_items  activities waiting to run (deleted when their result is recorded)
"""

from __future__ import annotations

import contextlib
import json
import os
import sqlite3
import threading
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from local_runtime.errors import InstanceExistsError
from local_runtime.events import EventType, event

TERMINAL_STATUSES = frozenset({"Completed", "Failed", "Terminated", "Canceled"})
_TERMINAL_SQL = "(" + ", ".join(f"'{s}'" for s in sorted(TERMINAL_STATUSES)) + ")"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS instances (
    instance_id TEXT PRIMARY KEY,
    seq INTEGER NOT NULL,
    name TEXT NOT NULL,
    execution_id TEXT NOT NULL,
    status TEXT NOT NULL,
    input TEXT,
    output TEXT,
    custom_status TEXT,
    created_time TEXT NOT NULL,
    last_updated_time TEXT NOT NULL,
    parent_instance_id TEXT,
    parent_execution_id TEXT,
    parent_task_id INTEGER,
    engine_state TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX IF NOT EXISTS instances_created ON instances(created_time, seq);
CREATE TABLE IF NOT EXISTS history (
    instance_id TEXT NOT NULL,
    position INTEGER NOT NULL,
    event TEXT NOT NULL,
    PRIMARY KEY (instance_id, position)
);
CREATE TABLE IF NOT EXISTS messages (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    instance_id TEXT NOT NULL,
    execution_id TEXT,
    visible_at REAL NOT NULL,
    event_type INTEGER NOT NULL,
    task_id INTEGER,
    event TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS messages_instance ON messages(instance_id, id);
CREATE INDEX IF NOT EXISTS messages_visible ON messages(visible_at);
CREATE TABLE IF NOT EXISTS work_items (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    instance_id TEXT NOT NULL,
    execution_id TEXT NOT NULL,
    task_id INTEGER NOT NULL,
    name TEXT NOT NULL,
    input TEXT
);
"""


@dataclass(frozen=True)
class Instance:
    """One row of the instances table."""

    instance_id: str
    seq: int
    name: str
    execution_id: str
    status: str
    input: str | None
    output: str | None
    custom_status: str | None
    created_time: str
    last_updated_time: str
    parent_instance_id: str | None
    parent_execution_id: str | None
    parent_task_id: int | None
    engine_state: str

    @property
    def is_terminal(self) -> bool:
        """Whether the instance has finished for good."""
        return self.status in TERMINAL_STATUSES


@dataclass(frozen=True)
class Message:
    """An event waiting to be applied to an instance."""

    id: int
    instance_id: str
    execution_id: str | None
    visible_at: float
    event: dict[str, Any]


@dataclass(frozen=True)
class NewMessage:
    """A message to enqueue; `execution_id` None means it survives continue_as_new."""

    instance_id: str
    event: dict[str, Any]
    execution_id: str | None = None
    visible_at: float = 0.0
    task_id: int | None = None


@dataclass(frozen=True)
class WorkItem:
    """An activity invocation waiting to run."""

    id: int
    instance_id: str
    execution_id: str
    task_id: int
    name: str
    input: str | None


@dataclass(frozen=True)
class NewWorkItem:
    """An activity invocation to enqueue."""

    instance_id: str
    execution_id: str
    task_id: int
    name: str
    input: str | None


@dataclass(frozen=True)
class NewInstance:
    """An instance to create (or restart, when the old one has finished)."""

    instance_id: str
    name: str
    execution_id: str
    input: str | None
    now: str
    parent_instance_id: str | None = None
    parent_execution_id: str | None = None
    parent_task_id: int | None = None


@dataclass
class EpisodeCommit:
    """Everything one orchestrator episode changes, committed in one transaction."""

    instance_id: str
    consumed_message_ids: Sequence[int] = ()
    reset_history: bool = False
    append_events: Sequence[dict[str, Any]] = ()
    instance_updates: dict[str, Any] = field(default_factory=dict)
    new_messages: Sequence[NewMessage] = ()
    new_work_items: Sequence[NewWorkItem] = ()
    new_instances: Sequence[NewInstance] = ()
    canceled_timer_ids: Sequence[int] = ()
    drop_pending: bool = False
    drop_stale_execution: str | None = None


@dataclass(frozen=True)
class InstanceQuery:
    """Filters for listing or purging instances."""

    created_from: str | None = None
    created_to: str | None = None
    statuses: frozenset[str] | None = None
    prefix: str | None = None


class DurableStore(Protocol):
    """What the engine, the worker and the HTTP API need from storage."""

    def create_instance(self, new: NewInstance) -> None: ...
    def get_instance(self, instance_id: str) -> Instance | None: ...
    def get_history(self, instance_id: str) -> list[dict[str, Any]]: ...
    def due_messages(self, instance_id: str, *, now: float) -> list[Message]: ...
    def commit_episode(self, commit: EpisodeCommit) -> list[WorkItem]: ...
    def enqueue(self, message: NewMessage) -> None: ...
    def set_status(self, instance_id: str, status: str, *, now: str) -> bool: ...
    def complete_work_item(self, item: WorkItem, event: dict[str, Any]) -> bool: ...
    def pending_work_items(self) -> list[WorkItem]: ...
    def instances_with_messages(self, *, after: float, until: float) -> list[str]: ...
    def next_visible_after(self, when: float) -> float | None: ...
    def list_instances(
        self, query: InstanceQuery, *, top: int | None, after_seq: int | None
    ) -> list[Instance]: ...
    def purge(self, instance_ids: Iterable[str]) -> int: ...
    def close(self) -> None: ...


_INSTANCE_COLUMNS = (
    "instance_id, seq, name, execution_id, status, input, output, custom_status, "
    "created_time, last_updated_time, parent_instance_id, parent_execution_id, "
    "parent_task_id, engine_state"
)
_UPDATABLE = frozenset(
    {
        "status",
        "output",
        "custom_status",
        "last_updated_time",
        "engine_state",
        "execution_id",
        "input",
    }
)


def _create_private(path: Path) -> None:
    """The store file (every caller's code, input and history) readable by its owner only.

    SQLite gives the -wal and -shm files the database file's permissions, so creating
    the file 0600 first covers them; files an older version left open are narrowed too.
    """
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        os.fchmod(fd, 0o600)
    finally:
        os.close(fd)
    for suffix in ("-wal", "-shm"):
        with contextlib.suppress(FileNotFoundError):
            os.chmod(f"{path}{suffix}", 0o600)


class SqliteStore:
    """The DurableStore on one SQLite file in WAL mode, one connection behind a lock."""

    def __init__(self, path: str | Path) -> None:
        path = Path(path)
        if str(path) != ":memory:":
            _create_private(path)
        self._lock = threading.RLock()
        self._db = sqlite3.connect(
            str(path), check_same_thread=False, isolation_level=None, timeout=30
        )
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.execute("PRAGMA busy_timeout=30000")
        self._db.executescript(_SCHEMA)

    # --- helpers --------------------------------------------------------------------------

    def _tx(self) -> _Transaction:
        return _Transaction(self._db, self._lock)

    def _read(self, sql: str, args: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        with self._lock:
            return self._db.execute(sql, args).fetchall()

    # --- instances ------------------------------------------------------------------------

    def create_instance(self, new: NewInstance) -> None:
        """Create an instance with its ExecutionStarted message; restart a finished one."""
        with self._tx() as db:
            _insert_instance(db, new)

    def get_instance(self, instance_id: str) -> Instance | None:
        """The instance row, or None."""
        rows = self._read(
            f"SELECT {_INSTANCE_COLUMNS} FROM instances WHERE instance_id = ?", (instance_id,)
        )
        return Instance(*rows[0]) if rows else None

    def get_history(self, instance_id: str) -> list[dict[str, Any]]:
        """The current execution's history events, oldest first."""
        rows = self._read(
            "SELECT event FROM history WHERE instance_id = ? ORDER BY position", (instance_id,)
        )
        return [json.loads(r[0]) for r in rows]

    def set_status(self, instance_id: str, status: str, *, now: str) -> bool:
        """Change the status of an unfinished instance (suspend/resume); False if finished."""
        with self._tx() as db:
            return bool(
                db.execute(
                    "UPDATE instances SET status = ?, last_updated_time = ? "
                    f"WHERE instance_id = ? AND status NOT IN {_TERMINAL_SQL}",
                    (status, now, instance_id),
                ).rowcount
            )

    def list_instances(
        self, query: InstanceQuery, *, top: int | None = None, after_seq: int | None = None
    ) -> list[Instance]:
        """Instances matching the query in creation order, for paging by seq."""
        where, args = _where(query)
        if after_seq is not None:
            where.append("seq > ?")
            args.append(after_seq)
        sql = f"SELECT {_INSTANCE_COLUMNS} FROM instances"
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += " ORDER BY seq"
        if top:
            sql += f" LIMIT {int(top)}"
        return [Instance(*r) for r in self._read(sql, args)]

    def purge(self, instance_ids: Iterable[str]) -> int:
        """Delete finished instances with their history, messages and work items.

        An instance restarted since the caller saw it finished is left alone.
        """
        count = 0
        with self._tx() as db:
            for instance_id in instance_ids:
                if db.execute(
                    f"DELETE FROM instances WHERE instance_id = ? AND status IN {_TERMINAL_SQL}",
                    (instance_id,),
                ).rowcount:
                    count += 1
                    _delete_rows(db, instance_id, ("history", "messages", "work_items"))
        return count

    # --- messages -------------------------------------------------------------------------

    def enqueue(self, message: NewMessage) -> None:
        """Add one message (external event, terminate) for an instance."""
        with self._tx() as db:
            _insert_message(db, message)

    def due_messages(self, instance_id: str, *, now: float) -> list[Message]:
        """Messages for the instance that are visible at `now`, oldest first."""
        rows = self._read(
            "SELECT id, instance_id, execution_id, visible_at, event FROM messages "
            "WHERE instance_id = ? AND visible_at <= ? ORDER BY id",
            (instance_id, now),
        )
        return [Message(r[0], r[1], r[2], r[3], json.loads(r[4])) for r in rows]

    def instances_with_messages(self, *, after: float, until: float) -> list[str]:
        """Instances with a message that became visible in (after, until]."""
        rows = self._read(
            "SELECT DISTINCT instance_id FROM messages WHERE visible_at > ? AND visible_at <= ?",
            (after, until),
        )
        return [r[0] for r in rows]

    def next_visible_after(self, when: float) -> float | None:
        """The earliest visibility time after `when` (the next durable timer), or None."""
        rows = self._read("SELECT MIN(visible_at) FROM messages WHERE visible_at > ?", (when,))
        return rows[0][0] if rows and rows[0][0] is not None else None

    # --- episodes -------------------------------------------------------------------------

    def commit_episode(self, commit: EpisodeCommit) -> list[WorkItem]:
        """Apply one episode atomically; returns the work items it created."""
        created: list[WorkItem] = []
        with self._tx() as db:
            iid = commit.instance_id
            for mid in commit.consumed_message_ids:
                db.execute("DELETE FROM messages WHERE id = ?", (mid,))
            if commit.reset_history:
                db.execute("DELETE FROM history WHERE instance_id = ?", (iid,))
            if commit.append_events:
                row = db.execute(
                    "SELECT COALESCE(MAX(position), -1) FROM history WHERE instance_id = ?", (iid,)
                ).fetchone()
                position = row[0] + 1
                db.executemany(
                    "INSERT INTO history (instance_id, position, event) VALUES (?, ?, ?)",
                    [
                        (iid, position + i, json.dumps(ev))
                        for i, ev in enumerate(commit.append_events)
                    ],
                )
            updates = dict(commit.instance_updates)
            if updates.get("status") == "Running" and _status(db, iid) == "Suspended":
                del updates["status"]  # suspended while the episode ran: it stays suspended
            if updates:
                bad = set(updates) - _UPDATABLE
                if bad:
                    raise ValueError(f"cannot update columns {sorted(bad)}")
                cols = ", ".join(f"{k} = ?" for k in updates)
                db.execute(
                    f"UPDATE instances SET {cols} WHERE instance_id = ?", [*updates.values(), iid]
                )
            for timer_id in commit.canceled_timer_ids:
                db.execute(
                    "DELETE FROM messages WHERE instance_id = ? AND event_type = 11 "
                    "AND task_id = ?",
                    (iid, timer_id),
                )
            if commit.drop_stale_execution is not None:
                db.execute(
                    "DELETE FROM messages WHERE instance_id = ? AND execution_id = ?",
                    (iid, commit.drop_stale_execution),
                )
                db.execute(
                    "DELETE FROM work_items WHERE instance_id = ? AND execution_id = ?",
                    (iid, commit.drop_stale_execution),
                )
            if commit.drop_pending:
                _delete_rows(db, iid, ("messages", "work_items"))
            for new in commit.new_instances:
                try:
                    _insert_instance(db, new)
                except InstanceExistsError as exc:  # the parent's task fails, not the commit
                    _insert_message(db, _child_not_started(new, str(exc)))
            for message in commit.new_messages:
                _insert_message(db, message)
            for item in commit.new_work_items:
                cur = db.execute(
                    "INSERT INTO work_items (instance_id, execution_id, task_id, name, input) "
                    "VALUES (?, ?, ?, ?, ?)",
                    (item.instance_id, item.execution_id, item.task_id, item.name, item.input),
                )
                created.append(
                    WorkItem(
                        cur.lastrowid or 0,
                        item.instance_id,
                        item.execution_id,
                        item.task_id,
                        item.name,
                        item.input,
                    )
                )
        return created

    # --- work items -----------------------------------------------------------------------

    def pending_work_items(self) -> list[WorkItem]:
        """Every activity not yet recorded as done (run again after a restart)."""
        rows = self._read(
            "SELECT id, instance_id, execution_id, task_id, name, input FROM work_items ORDER BY id"
        )
        return [WorkItem(*r) for r in rows]

    def complete_work_item(self, item: WorkItem, event: dict[str, Any]) -> bool:
        """Record an activity result as a message, once; False if it is no longer wanted."""
        with self._tx() as db:
            deleted = db.execute("DELETE FROM work_items WHERE id = ?", (item.id,)).rowcount
            if not deleted:
                return False
            row = db.execute(
                "SELECT execution_id, status FROM instances WHERE instance_id = ?",
                (item.instance_id,),
            ).fetchone()
            if row is None or row[0] != item.execution_id or row[1] in TERMINAL_STATUSES:
                return False
            _insert_message(
                db,
                NewMessage(
                    instance_id=item.instance_id,
                    execution_id=item.execution_id,
                    event=event,
                    task_id=item.task_id,
                ),
            )
            return True

    def close(self) -> None:
        """Close the connection."""
        with self._lock:
            self._db.close()


class _Transaction:
    """`BEGIN IMMEDIATE` ... `COMMIT` under the store lock; rollback on error."""

    def __init__(self, db: sqlite3.Connection, lock: threading.RLock) -> None:
        self._db = db
        self._lock = lock

    def __enter__(self) -> sqlite3.Connection:
        self._lock.acquire()
        try:
            self._db.execute("BEGIN IMMEDIATE")
        except BaseException:
            self._lock.release()
            raise
        return self._db

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        try:
            if exc_type is None:
                self._db.execute("COMMIT")
            else:
                self._db.execute("ROLLBACK")
        finally:
            self._lock.release()


def _status(db: sqlite3.Connection, instance_id: str) -> str | None:
    row = db.execute(
        "SELECT status FROM instances WHERE instance_id = ?", (instance_id,)
    ).fetchone()
    return row[0] if row else None


def _delete_rows(db: sqlite3.Connection, instance_id: str, tables: Iterable[str]) -> None:
    for table in tables:
        db.execute(f"DELETE FROM {table} WHERE instance_id = ?", (instance_id,))


def _insert_instance(db: sqlite3.Connection, new: NewInstance) -> None:
    status = _status(db, new.instance_id)
    if status is not None:
        if status not in TERMINAL_STATUSES:
            raise InstanceExistsError(
                f"An instance with ID '{new.instance_id}' already exists and is {status}."
            )
        _delete_rows(db, new.instance_id, ("instances", "history", "messages", "work_items"))
    seq = db.execute("SELECT COALESCE(MAX(seq), 0) + 1 FROM instances").fetchone()[0]
    db.execute(
        f"INSERT INTO instances ({_INSTANCE_COLUMNS}) VALUES "
        "(?, ?, ?, ?, 'Pending', ?, NULL, NULL, ?, ?, ?, ?, ?, '{}')",
        (
            new.instance_id,
            seq,
            new.name,
            new.execution_id,
            new.input,
            new.now,
            new.now,
            new.parent_instance_id,
            new.parent_execution_id,
            new.parent_task_id,
        ),
    )
    event = {
        "EventType": 0,
        "EventId": -1,
        "IsPlayed": False,
        "Timestamp": new.now,
        "Name": new.name,
        "Input": new.input,
        "Version": "",
        "OrchestrationInstance": {"InstanceId": new.instance_id, "ExecutionId": new.execution_id},
    }
    if new.parent_instance_id:
        event["ParentInstance"] = {
            "OrchestrationInstance": {"InstanceId": new.parent_instance_id},
            "TaskScheduleId": new.parent_task_id,
        }
    _insert_message(
        db, NewMessage(instance_id=new.instance_id, execution_id=new.execution_id, event=event)
    )


def _child_not_started(child: NewInstance, reason: str) -> NewMessage:
    """The parent's SubOrchestrationInstanceFailed for a child id that is still in use."""
    assert child.parent_instance_id is not None
    return NewMessage(
        instance_id=child.parent_instance_id,
        execution_id=child.parent_execution_id,
        task_id=child.parent_task_id,
        event=event(
            EventType.SUB_ORCHESTRATION_INSTANCE_FAILED,
            child.now,
            TaskScheduledId=child.parent_task_id,
            Reason=f"Sub-orchestration '{child.name}' could not start: {reason}",
            Details=None,
        ),
    )


def _insert_message(db: sqlite3.Connection, message: NewMessage) -> None:
    db.execute(
        "INSERT INTO messages (instance_id, execution_id, visible_at, event_type, task_id, event) "
        "VALUES (?, ?, ?, ?, ?, ?)",
        (
            message.instance_id,
            message.execution_id,
            message.visible_at or time.time(),
            message.event["EventType"],
            message.task_id,
            json.dumps(message.event),
        ),
    )


def _where(query: InstanceQuery) -> tuple[list[str], list[Any]]:
    where: list[str] = []
    args: list[Any] = []
    if query.created_from:
        where.append("created_time >= ?")
        args.append(query.created_from)
    if query.created_to:
        where.append("created_time <= ?")
        args.append(query.created_to)
    if query.statuses:
        where.append(f"status IN ({', '.join('?' for _ in query.statuses)})")
        args.extend(sorted(query.statuses))
    if query.prefix:
        where.append("substr(instance_id, 1, ?) = ?")
        args.extend([len(query.prefix), query.prefix])
    return where, args
