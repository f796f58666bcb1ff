"""Fixtures: a respx router for a fake workflow API and a fake clock whose sleeps are instant."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
import respx
from aro_support import URL, FakeClock


@pytest.fixture
def instance_id() -> str:
    """A unique instance id per test."""
    return f"inst-{uuid.uuid4().hex}"


@pytest.fixture
def router() -> Iterator[respx.MockRouter]:
    """Mocks every httpx transport; an unmocked request fails the test."""
    with respx.mock(base_url=URL, assert_all_called=False, assert_all_mocked=True) as mock:
        yield mock


@pytest.fixture
def clock() -> FakeClock:
    """Time that moves only when something sleeps."""
    return FakeClock()
