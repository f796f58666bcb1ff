"""Lifecycle, logging hygiene and models."""

from __future__ import annotations

import logging

import httpx
import pytest
import respx
from session_client_support import SleepRecorder, execution_body, make_client

from session_client import (
    AzureSessionClient,
    Execution,
    ExecutionStatus,
    SessionFile,
    StaticTokenAuth,
)


class ClosingAuth(StaticTokenAuth):
    closed = 0

    async def aclose(self) -> None:
        self.closed += 1


async def test_context_manager_closes_http_client_and_auth(
    router: respx.Router, sleeps: SleepRecorder
) -> None:
    auth = ClosingAuth("t")
    async with make_client(router, sleeps, auth=auth) as client:
        assert not client._http.is_closed
    assert client._http.is_closed
    assert auth.closed == 1
    await client.aclose()  # idempotent
    assert auth.closed == 1


async def test_one_http_client_is_reused(
    client: AzureSessionClient, router: respx.Router, identifier: str
) -> None:
    router.get("/files").respond(200, json={"value": []})
    http = client._http
    await client.list_files(identifier)
    await client.list_files(identifier)
    assert client._http is http


def test_options_are_keyword_only_and_validated() -> None:
    with pytest.raises(TypeError):
        AzureSessionClient("https://pool.example")  # type: ignore[misc]
    with pytest.raises(ValueError):
        AzureSessionClient(endpoint="")
    with pytest.raises(ValueError):
        AzureSessionClient(endpoint="https://pool.example", max_retries=-1)


async def test_empty_identifier_or_name_is_rejected(client: AzureSessionClient) -> None:
    with pytest.raises(ValueError, match="identifier"):
        await client.list_files("")
    with pytest.raises(ValueError, match="file name"):
        await client.get_file("abcd", "")
    with pytest.raises(ValueError, match="execution_id"):
        await client.get_execution("abcd", "")


async def test_debug_log_has_method_path_status_but_no_secrets(
    router: respx.Router,
    sleeps: SleepRecorder,
    identifier: str,
    token: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    router.post("/files").mock(
        side_effect=[httpx.Response(503), httpx.Response(200, json={"name": "secret.txt"})]
    )
    router.post("/executions").respond(202, json=execution_body(identifier))
    content = b"file-content-do-not-log"
    code = "print('code-do-not-log')"

    caplog.set_level(logging.DEBUG, logger="session_client")
    async with make_client(router, sleeps, token=token) as client:
        await client.upload_file(identifier, "secret.txt", content)
        await client.start_execution(identifier, code, timeout_seconds=5)

    records = [r for r in caplog.records if r.name == "session_client"]
    text = "\n".join(r.getMessage() for r in records)
    assert "POST /files -> 503" in text
    assert "POST /files -> 200" in text
    assert "sessionPools" not in text
    assert "/executions -> 202" in text
    assert " ms" in text
    assert "retry 1/4" in text
    for secret in (token, identifier, "file-content-do-not-log", "code-do-not-log"):
        assert secret not in text


def test_models_accept_camel_case_and_snake_case() -> None:
    f = SessionFile.model_validate(
        {"name": "a", "type": "file", "sizeInBytes": 3, "lastModifiedAt": None, "extra": 1}
    )
    assert f.size_in_bytes == 3
    assert SessionFile(name="a", size_in_bytes=3).size_in_bytes == 3
    assert f.model_dump(by_alias=True)["sizeInBytes"] == 3


@pytest.mark.parametrize(
    ("status", "terminal"),
    [
        ("NotStarted", False),
        ("Running", False),
        ("Succeeded", True),
        ("Failed", True),
        ("Canceled", True),
    ],
)
def test_execution_is_terminal(status: str, terminal: bool) -> None:
    execution = Execution.model_validate({"id": "e", "status": status})
    assert execution.is_terminal is terminal
    assert execution.status == ExecutionStatus(status)


def test_execution_error_accepts_error_response_wrapper_and_string() -> None:
    wrapped = Execution.model_validate(
        {"id": "e", "status": "Failed", "error": {"error": {"code": "C", "message": "m"}}}
    )
    assert wrapped.error is not None and wrapped.error.code == "C"
    text = Execution.model_validate({"id": "e", "status": "Failed", "error": "oops"})
    assert text.error is not None and text.error.message == "oops"
