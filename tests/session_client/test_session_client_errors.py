"""Error mapping: status -> class, code/message/body, hints, transport errors, bad 2xx bodies."""

from __future__ import annotations

import httpx
import pytest
import respx
from session_client_support import POOL_PATH, SleepRecorder, make_client

from session_client import (
    AzureSessionClient,
    SessionAuthError,
    SessionBadRequest,
    SessionConflict,
    SessionError,
    SessionHTTPError,
    SessionNotFound,
    SessionPayloadTooLarge,
    SessionProtocolError,
    SessionRequestError,
    SessionServerError,
    SessionThrottled,
    SessionTimeout,
    is_transient,
)
from session_client.errors import error_from_response, parse_retry_after


@pytest.mark.parametrize(
    ("status", "cls"),
    [
        (400, SessionBadRequest),
        (401, SessionAuthError),
        (403, SessionAuthError),
        (404, SessionNotFound),
        (409, SessionConflict),
        (413, SessionPayloadTooLarge),
        (429, SessionThrottled),
        (500, SessionServerError),
        (503, SessionServerError),
        (507, SessionServerError),
        (418, SessionHTTPError),
    ],
)
async def test_status_maps_to_error_class_with_attributes(
    router: respx.Router, sleeps: SleepRecorder, identifier: str, status: int, cls: type
) -> None:
    body = {"error": {"code": "BodyCode", "message": "something went wrong"}}
    router.get("/files/a").respond(status, json=body)
    async with make_client(router, sleeps, max_retries=0) as client:
        with pytest.raises(cls) as info:
            await client.get_file(identifier, "a")
    err = info.value
    assert type(err) is cls
    assert isinstance(err, SessionHTTPError)
    assert err.status_code == status
    assert err.code == "BodyCode"
    assert '"BodyCode"' in err.body
    assert err.response is not None and err.response.status_code == status
    # The pool's own path (subscription, group, pool) stays out of messages callers may see.
    assert POOL_PATH not in err.message
    assert f"GET /files/a failed with {status} (BodyCode): something went wrong" in (err.message)
    assert str(err) == err.message


async def test_code_header_wins_over_body_code(
    client: AzureSessionClient, router: respx.Router, identifier: str
) -> None:
    router.get("/files").respond(
        400,
        json={"error": {"code": "FromBody", "message": "bad"}},
        headers={"x-ms-error-code": "FromHeader"},
    )
    with pytest.raises(SessionBadRequest) as info:
        await client.list_files(identifier)
    assert info.value.code == "FromHeader"


async def test_403_message_hints_at_session_executor_role(
    client: AzureSessionClient, router: respx.Router, identifier: str
) -> None:
    router.post("/executions").respond(403, text="Forbidden")
    with pytest.raises(SessionAuthError) as info:
        await client.start_execution(identifier, "1", timeout_seconds=5)
    assert info.value.status_code == 403
    assert '"Azure ContainerApps Session Executor" role on the session pool' in str(info.value)


async def test_401_message_hints_at_token_audience(
    client: AzureSessionClient, router: respx.Router, identifier: str
) -> None:
    router.get("/files").respond(401)
    with pytest.raises(SessionAuthError) as info:
        await client.list_files(identifier)
    assert "https://dynamicsessions.io" in str(info.value)
    assert "audience" in str(info.value)


async def test_plain_text_body_is_the_message_and_long_bodies_are_truncated(
    client: AzureSessionClient, router: respx.Router, identifier: str
) -> None:
    long_text = "x" * 5000
    router.get("/files/a").respond(404, text=long_text)
    with pytest.raises(SessionNotFound) as info:
        await client.get_file(identifier, "a")
    assert info.value.code is None
    assert info.value.body == long_text
    assert len(info.value.message) < 2200
    assert "[5000 chars]" in info.value.message


async def test_identifier_is_redacted_from_messages_but_kept_in_body(
    client: AzureSessionClient, router: respx.Router, identifier: str
) -> None:
    router.get("/session").respond(
        404, json={"error": {"code": "NotFound", "message": f"session {identifier} not found"}}
    )
    with pytest.raises(SessionNotFound) as info:
        await client.get_session(identifier)
    assert identifier not in str(info.value)
    assert "session <identifier> not found" in str(info.value)
    assert identifier in info.value.body


async def test_throttled_retry_after_attribute(
    router: respx.Router, sleeps: SleepRecorder, identifier: str
) -> None:
    router.get("/files").respond(429, headers={"Retry-After": "7"})
    async with make_client(router, sleeps, max_retries=0) as client:
        with pytest.raises(SessionThrottled) as info:
            await client.list_files(identifier)
    assert info.value.retry_after == 7.0


async def test_read_timeout_maps_to_session_timeout(
    router: respx.Router, sleeps: SleepRecorder, identifier: str
) -> None:
    router.get("/files").mock(side_effect=httpx.ReadTimeout("slow"))
    async with make_client(router, sleeps, max_retries=0) as client:
        with pytest.raises(SessionTimeout) as info:
            await client.list_files(identifier)
    err = info.value
    assert isinstance(err, SessionRequestError)
    assert isinstance(err.__cause__, httpx.ReadTimeout)
    assert err.request is not None and err.request.url.params["identifier"] == identifier
    assert err.request_sent is True
    assert identifier not in str(err)
    assert is_transient(err)


async def test_connect_error_maps_to_request_error_not_sent(
    router: respx.Router, sleeps: SleepRecorder, identifier: str
) -> None:
    router.get("/files").mock(side_effect=httpx.ConnectError("refused"))
    async with make_client(router, sleeps, max_retries=0) as client:
        with pytest.raises(SessionRequestError) as info:
            await client.list_files(identifier)
    assert type(info.value) is SessionRequestError
    assert info.value.request_sent is False
    assert "ConnectError" in str(info.value)


async def test_connect_timeout_is_a_timeout_not_sent(
    router: respx.Router, sleeps: SleepRecorder, identifier: str
) -> None:
    router.get("/files").mock(side_effect=httpx.ConnectTimeout("slow"))
    async with make_client(router, sleeps, max_retries=0) as client:
        with pytest.raises(SessionTimeout) as info:
            await client.list_files(identifier)
    assert info.value.request_sent is False


@pytest.mark.parametrize(
    ("op", "route_path", "response"),
    [
        ("list", "/files", httpx.Response(200, text="<html>gateway</html>")),
        ("list", "/files", httpx.Response(200, json={"items": []})),
        ("get", "/files/a", httpx.Response(200, json=[1, 2])),
        ("get", "/files/a", httpx.Response(200, content=b"")),
        ("upload", "/files", httpx.Response(200, json=[])),
    ],
    ids=["html", "no-value", "list-not-object", "empty", "empty-upload-list"],
)
async def test_malformed_2xx_body_is_a_protocol_error(
    client: AzureSessionClient,
    router: respx.Router,
    identifier: str,
    op: str,
    route_path: str,
    response: httpx.Response,
) -> None:
    method = "POST" if op == "upload" else "GET"
    router.route(method=method, path=route_path).mock(return_value=response)
    with pytest.raises(SessionProtocolError) as info:
        if op == "list":
            await client.list_files(identifier)
        elif op == "get":
            await client.get_file(identifier, "a")
        else:
            await client.upload_file(identifier, "a", b"x")
    assert isinstance(info.value, SessionError)
    assert info.value.message.startswith(f"{method} {route_path} ")
    assert POOL_PATH not in info.value.message
    assert "unexpected body" in info.value.message
    assert info.value.response is not None
    assert not is_transient(info.value)


def test_is_transient() -> None:
    def http(status: int) -> SessionHTTPError:
        return error_from_response(httpx.Response(status))

    assert is_transient(http(429))
    assert is_transient(http(500))
    assert is_transient(http(504))
    assert not is_transient(http(400))
    assert not is_transient(http(403))
    assert not is_transient(http(404))
    assert is_transient(SessionTimeout("t"))
    assert not is_transient(SessionError("x"))
    assert not is_transient(ValueError("x"))


def test_parse_retry_after() -> None:
    assert parse_retry_after("5") == 5.0
    assert parse_retry_after(" 0.25 ") == 0.25
    assert parse_retry_after("-3") == 0.0
    assert parse_retry_after("999") == 60.0
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", now=1445412470.0) == 10.0
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", now=1445412490.0) == 0.0
    assert parse_retry_after("soon") is None
    assert parse_retry_after("") is None
    assert parse_retry_after(None) is None
