"""One real local stack (emulator + sandbox + local Functions host) shared by the e2e tests.

Nothing is mocked: requests go over HTTP to ``python -m local_runtime`` serving the
unmodified function_app.py, which talks over HTTP to ``python -m session_emulator``,
which runs the workflow in a bubblewrap sandbox.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from e2e_support import StackClient, make_stack

from devstack.stack import LocalStack


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    local = make_stack(tmp_path_factory.mktemp("stack"))
    with local:
        yield local


@pytest.fixture
def api(stack: LocalStack) -> Iterator[StackClient]:
    with StackClient(stack) as client:
        yield client
