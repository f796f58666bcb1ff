"""SqliteStore transitions that race with episodes: suspend/resume, purge, child ids."""

from __future__ import annotations

from pathlib import Path

import pytest

from local_runtime.store import EpisodeCommit, NewInstance, SqliteStore

NOW = "2024-01-01T00:00:00.000000Z"


@pytest.fixture
def store(tmp_path: Path):
    """A fresh store on a temporary file."""
    db = SqliteStore(tmp_path / "d.sqlite3")
    yield db
    db.close()


def create(store: SqliteStore, instance_id: str, *, status: str | None = None) -> None:
    store.create_instance(
        NewInstance(instance_id=instance_id, name="o", execution_id="e", input=None, now=NOW)
    )
    if status is not None:
        store.commit_episode(
            EpisodeCommit(instance_id=instance_id, instance_updates={"status": status})
        )


def test_set_status_leaves_a_finished_instance_alone(store: SqliteStore) -> None:
    create(store, "done", status="Completed")
    assert store.set_status("done", "Running", now=NOW) is False
    assert store.get_instance("done").status == "Completed"
    create(store, "live", status="Running")
    assert store.set_status("live", "Suspended", now=NOW) is True
    assert store.get_instance("live").status == "Suspended"


def test_an_episode_does_not_undo_a_suspend(store: SqliteStore) -> None:
    create(store, "s", status="Running")
    store.set_status("s", "Suspended", now=NOW)  # while an episode was running
    store.commit_episode(EpisodeCommit(instance_id="s", instance_updates={"status": "Running"}))
    assert store.get_instance("s").status == "Suspended"
    store.commit_episode(EpisodeCommit(instance_id="s", instance_updates={"status": "Completed"}))
    assert store.get_instance("s").status == "Completed"


def test_purge_skips_instances_that_are_not_finished(store: SqliteStore) -> None:
    create(store, "running", status="Running")
    create(store, "done", status="Failed")
    assert store.purge(["running", "done"]) == 1
    assert store.get_instance("running") is not None
    assert store.due_messages("running", now=1e12)  # its ExecutionStarted is still there
    assert store.get_instance("done") is None
