"""One real local stack (emulator + sandbox + local Functions host) shared by the e2e tests.

Nothing is mocked: requests go over HTTP to ``python -m local_runtime`` serving the
unmodified function_app.py, which talks over HTTP to ``python -m session_emulator``,
which runs the workflow in a bubblewrap sandbox.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from e2e_support import StackClient

from devstack.stack import LocalStack, StackConfig, free_port


def make_stack(root: Path, **overrides: object) -> LocalStack:
    """A stack with its own ports, settings file, durable store and session directory."""
    config = StackConfig(
        state_dir=root,
        settings_path=root / "local.settings.json",
        runtime_port=free_port(),
        emulator_port=free_port(),
        log_to_files=True,
        **overrides,
    )
    return LocalStack(config)


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    local = make_stack(tmp_path_factory.mktemp("stack"))
    with local:
        yield local


@pytest.fixture
def api(stack: LocalStack) -> Iterator[StackClient]:
    with StackClient(stack) as client:
        yield client
