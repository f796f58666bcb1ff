"""Fixtures: one in-process runtime per test module and an httpx client."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from lr_helpers import APP, APP_DIR, http_client

from local_runtime.auth import AuthConfig
from local_runtime.testing import RunningRuntime, run_local_runtime


@pytest.fixture(scope="module")
def rt(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningRuntime]:
    """The scenarios app served on a free port with a fresh SQLite file, keys not required."""
    db = tmp_path_factory.mktemp("durable") / "durable.sqlite3"
    anonymous = AuthConfig(allow_anonymous=True)
    with run_local_runtime(app=APP, app_dir=APP_DIR, db_path=db, auth=anonymous) as running:
        yield running


@pytest.fixture
def client() -> Iterator[httpx.Client]:
    """An httpx client for the test."""
    with http_client() as c:
        yield c
