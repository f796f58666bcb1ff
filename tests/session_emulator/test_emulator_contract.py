"""The contract suite: AzureSessionClient, unchanged, against the emulator over real HTTP."""

from __future__ import annotations

import asyncio

import pytest

from session_client import (
    AzureSessionClient,
    SessionAuthError,
    SessionBadRequest,
    SessionNotFound,
    SessionPayloadTooLarge,
    StaticTokenAuth,
)
from session_client.models import ExecutionStatus
from session_emulator.testing import run_emulator
from tests.session_emulator.conftest import emulator_config, new_identifier


@pytest.fixture
async def client(emulator):
    async with AzureSessionClient(endpoint=emulator.url, max_retries=0) as c:
        yield c


async def test_files_round_trip(client, identifier):
    uploaded = await client.upload_file(identifier, "workflow.py", b"print('hi')\n")
    assert uploaded.name == "workflow.py" and uploaded.size_in_bytes == 12
    more = await client.upload_files(identifier, {"input.json": b"{}", "run.py": b"pass"})
    assert [f.name for f in more] == ["input.json", "run.py"]
    names = sorted(f.name for f in await client.list_files(identifier))
    assert names == ["input.json", "run.py", "workflow.py"]
    meta = await client.get_file(identifier, "input.json")
    assert meta.size_in_bytes == 2 and meta.last_modified_at is not None
    assert await client.download_file(identifier, "workflow.py") == b"print('hi')\n"
    await client.delete_file(identifier, "run.py")
    with pytest.raises(SessionNotFound):
        await client.download_file(identifier, "run.py")


async def test_sync_execution(client, identifier):
    await client.upload_file(identifier, "n.txt", b"21")
    execution = await client.execute(
        identifier, "print('out')\nint(open('n.txt').read()) * 2", timeout_seconds=20
    )
    assert execution.status == ExecutionStatus.Succeeded and execution.is_terminal
    assert execution.result.stdout == "out\n"
    assert execution.result.execution_result == 42


async def test_async_execution_with_polling(client, identifier):
    started = await client.start_execution(
        identifier,
        "import sys, time\ntime.sleep(0.3)\nprint('o')\nsys.stderr.write('e')",
        timeout_seconds=20,
        execution_id="contract-op-1",
    )
    assert started.id == "contract-op-1" and not started.is_terminal
    execution = started
    while not execution.is_terminal:
        await asyncio.sleep(0.05)
        execution = await client.get_execution(identifier, started.id)
    assert execution.status == ExecutionStatus.Succeeded
    assert (execution.result.stdout, execution.result.stderr) == ("o\n", "e")
    again = await client.start_execution(
        identifier, "print('second')", timeout_seconds=20, execution_id="contract-op-1"
    )
    assert again.status == ExecutionStatus.Succeeded and again.result.stdout == "o\n"


async def test_timeout_is_a_failed_execution(client, identifier):
    execution = await client.execute(identifier, "while True: pass", timeout_seconds=1)
    assert execution.status == ExecutionStatus.Failed
    assert execution.error is not None and execution.error.code == "Timeout"


async def test_unknown_execution_and_session_are_not_found(client, identifier):
    with pytest.raises(SessionNotFound):
        await client.get_execution(identifier, "missing-op")
    with pytest.raises(SessionNotFound):
        await client.get_session(new_identifier())


async def test_invalid_identifier_is_bad_request(client):
    with pytest.raises(SessionBadRequest):
        await client.list_files("bad identifier!")


async def test_session_info_and_delete(client, identifier):
    await client.upload_file(identifier, "x.txt", b"x")
    info = await client.get_session(identifier)
    assert info["identifier"] == identifier
    await client.delete_session(identifier)
    assert await client.list_files(identifier) == []


@pytest.mark.parametrize("api_version", ["2024-10-02-preview", "2025-10-02-preview"])
async def test_api_versions(emulator, api_version):
    async with AzureSessionClient(
        endpoint=emulator.url, api_version=api_version, max_retries=0
    ) as client:
        execution = await client.execute(new_identifier(), "1 + 1", timeout_seconds=10)
        assert execution.result.execution_result == 2


async def test_upload_over_cap(client, emulator, identifier):
    with pytest.raises(SessionPayloadTooLarge):
        await client.upload_file(
            identifier, "big.bin", b"x" * (emulator.config.max_upload_bytes + 1)
        )


async def test_auth_token(tmp_path):
    with run_emulator(emulator_config(tmp_path, token="tok-123")) as url:
        async with AzureSessionClient(
            endpoint=url, auth=StaticTokenAuth("tok-123"), max_retries=0
        ) as good:
            assert await good.list_files(new_identifier()) == []
        async with AzureSessionClient(
            endpoint=url, auth=StaticTokenAuth("nope"), max_retries=0
        ) as bad:
            with pytest.raises(SessionAuthError):
                await bad.list_files(new_identifier())
        async with AzureSessionClient(endpoint=url, max_retries=0) as anonymous:
            with pytest.raises(SessionAuthError):
                await anonymous.list_files(new_identifier())


async def test_a_shell_execution_reads_back_with_its_exit_code(client, http, identifier):
    started = await http.post(
        "/executions",
        params={"api-version": "2025-10-02-preview", "identifier": identifier},
        json={"shellCommand": "echo out; exit 4"},
    )
    assert started.json()["status"] == "4"  # a Shell pool's status is the exit code
    execution = await client.get_execution(identifier, started.json()["id"])
    assert execution.status is ExecutionStatus.Succeeded and execution.is_terminal
    assert execution.exit_code == 4
    assert execution.result is not None and execution.result.stdout == "out\n"
    python = await client.execute(identifier, "1 + 1", timeout_seconds=10)
    assert python.exit_code is None
