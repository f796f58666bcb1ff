"""Fixtures: settings with an identifier key and a fake session client per test."""

from __future__ import annotations

import uuid

import pytest
from activities_support import FakeSessionClient

from activities import clients
from settings import SessionSettings


@pytest.fixture
def settings() -> SessionSettings:
    return SessionSettings(
        session_identifier_key="test-identifier-key",
        secret_settings_allow_list="ALLOWED_SECRET, OTHER_ALLOWED",
        pool_management_endpoint="http://127.0.0.1:9/pool",
        auth_mode="none",
    )


@pytest.fixture
def fake_client():
    client = FakeSessionClient()
    clients.set_client_factory(lambda _settings: client)
    yield client
    clients.set_client_factory(None)


@pytest.fixture
def instance_id() -> str:
    return f"inst{uuid.uuid4().hex}"
