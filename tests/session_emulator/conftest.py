"""Fixtures: the emulator served in-process over real HTTP on 127.0.0.1 (no mocks)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from session_emulator.config import MIB, EmulatorConfig
from session_emulator.testing import run_emulator

API_VERSION = "2024-10-02-preview"


@dataclass(frozen=True)
class Emulator:
    """A running emulator: its pool endpoint and config."""

    url: str
    config: EmulatorConfig

    @property
    def port(self) -> int:
        """The TCP port it listens on."""
        return httpx.URL(self.url).port or 0

    def params(self, identifier: str, api_version: str = API_VERSION) -> dict[str, str]:
        """Query parameters for a session-scoped call."""
        return {"api-version": api_version, "identifier": identifier}


def new_identifier() -> str:
    """A unique session identifier per test."""
    return f"t-{uuid.uuid4().hex[:20]}"


def emulator_config(tmp: Path, **overrides: object) -> EmulatorConfig:
    """Test defaults: free port, private data dir, 1 MiB upload cap."""
    values: dict[str, object] = {"port": 0, "data_dir": tmp, "max_upload_bytes": 1 * MIB}
    values.update(overrides)
    return EmulatorConfig(**values)  # type: ignore[arg-type]


@pytest.fixture(scope="session")
def emulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Emulator]:
    """One shared emulator for the whole test session (tests use unique identifiers)."""
    config = emulator_config(tmp_path_factory.mktemp("emu"))
    with run_emulator(config) as url:
        yield Emulator(url=url, config=config)


@pytest.fixture
async def http(emulator: Emulator) -> httpx.AsyncClient:
    """A plain httpx client on the pool endpoint."""
    async with httpx.AsyncClient(base_url=emulator.url, timeout=60) as client:
        yield client


@pytest.fixture
def identifier() -> str:
    """A fresh session identifier."""
    return new_identifier()
