"""File operations: method, path, query, auth header and multipart body on the wire."""

from __future__ import annotations

from datetime import datetime

import httpx
import respx
from session_client_support import API_VERSION, POOL_PATH

from session_client import AzureSessionClient, SessionFile

FILE_JSON = {
    "name": "run.py",
    "sizeInBytes": 12,
    "lastModifiedAt": "2024-11-02T12:33:05.677Z",
    "contentType": "text/x-python",
    "type": "File",
}


def assert_session_call(request: httpx.Request, *, identifier: str, token: str) -> None:
    """Every session-scoped call carries identifier, api-version and the bearer token."""
    assert request.url.params["identifier"] == identifier
    assert request.url.params["api-version"] == API_VERSION
    assert request.headers["authorization"] == f"Bearer {token}"


async def test_upload_file_sends_multipart_field_file_with_name(
    client: AzureSessionClient, router: respx.Router, identifier: str, token: str
) -> None:
    route = router.post("/files").respond(200, json=FILE_JSON)

    uploaded = await client.upload_file(identifier, "run.py", b"print('hi')\n")

    request = route.calls.last.request
    assert request.method == "POST"
    assert request.url.path == f"{POOL_PATH}/files"
    assert_session_call(request, identifier=identifier, token=token)
    assert request.headers["content-type"].startswith("multipart/form-data; boundary=")
    body = request.content
    assert b'Content-Disposition: form-data; name="file"; filename="run.py"' in body
    assert b"print('hi')\n" in body
    assert uploaded == SessionFile(
        name="run.py",
        size_in_bytes=12,
        last_modified_at=datetime.fromisoformat("2024-11-02T12:33:05.677+00:00"),
        content_type="text/x-python",
        type="File",
    )


async def test_upload_files_uploads_each_in_order(
    client: AzureSessionClient, router: respx.Router, identifier: str
) -> None:
    def echo(request: httpx.Request) -> httpx.Response:
        name = "input.json" if b'filename="input.json"' in request.content else "run.py"
        return httpx.Response(200, json={**FILE_JSON, "name": name})

    route = router.post("/files").mock(side_effect=echo)

    files = await client.upload_files(identifier, {"run.py": b"a", "input.json": b"{}"})

    assert [f.name for f in files] == ["run.py", "input.json"]
    assert route.call_count == 2


async def test_upload_accepts_value_wrapper_and_bare_list(
    client: AzureSessionClient, router: respx.Router, identifier: str
) -> None:
    other = {**FILE_JSON, "name": "other.txt"}
    router.post("/files").mock(
        side_effect=[
            httpx.Response(200, json={"value": [other, FILE_JSON]}),
            httpx.Response(200, json=[FILE_JSON]),
        ]
    )
    assert (await client.upload_file(identifier, "run.py", b"x")).name == "run.py"
    assert (await client.upload_file(identifier, "run.py", b"x")).name == "run.py"


async def test_list_files_reads_value(
    client: AzureSessionClient, router: respx.Router, identifier: str, token: str
) -> None:
    route = router.get("/files").respond(
        200,
        json={"value": [FILE_JSON, {"name": "d", "type": "directory"}], "nextLink": None},
    )

    files = await client.list_files(identifier)

    assert [(f.name, f.type) for f in files] == [("run.py", "File"), ("d", "directory")]
    request = route.calls.last.request
    assert request.method == "GET"
    assert request.url.path == f"{POOL_PATH}/files"
    assert_session_call(request, identifier=identifier, token=token)


async def test_get_file_metadata(
    client: AzureSessionClient, router: respx.Router, identifier: str, token: str
) -> None:
    route = router.get("/files/run.py").respond(200, json=FILE_JSON)

    meta = await client.get_file(identifier, "run.py")

    assert meta.size_in_bytes == 12
    assert meta.content_type == "text/x-python"
    assert_session_call(route.calls.last.request, identifier=identifier, token=token)


async def test_download_file_returns_raw_bytes(
    client: AzureSessionClient, router: respx.Router, identifier: str, token: str
) -> None:
    payload = bytes(range(256)) * 3
    route = router.get("/files/output.json/content").respond(
        200, content=payload, headers={"content-type": "application/octet-stream"}
    )

    data = await client.download_file(identifier, "output.json")

    assert data == payload
    request = route.calls.last.request
    assert request.url.path == f"{POOL_PATH}/files/output.json/content"
    assert_session_call(request, identifier=identifier, token=token)


async def test_delete_file_accepts_204(
    client: AzureSessionClient, router: respx.Router, identifier: str, token: str
) -> None:
    route = router.delete("/files/output.json").respond(204)

    assert await client.delete_file(identifier, "output.json") is None

    request = route.calls.last.request
    assert request.method == "DELETE"
    assert_session_call(request, identifier=identifier, token=token)


async def test_file_names_are_url_quoted_as_one_segment(
    client: AzureSessionClient, router: respx.Router, identifier: str
) -> None:
    route = router.get(path__regex=r".*/files/.*").respond(200, json={**FILE_JSON, "name": "x"})

    await client.get_file(identifier, "my file#1?/x%.txt")

    raw = route.calls.last.request.url.raw_path.decode()
    assert raw.startswith(f"{POOL_PATH}/files/my%20file%231%3F%2Fx%25.txt?")


async def test_no_authorization_header_without_auth(identifier: str) -> None:
    router = respx.Router(base_url="https://pool.example", assert_all_mocked=True)
    route = router.get("/files").respond(200, json={"value": []})
    async with AzureSessionClient(
        endpoint="https://pool.example/", transport=httpx.MockTransport(router.async_handler)
    ) as client:
        assert await client.list_files(identifier) == []
    assert "authorization" not in route.calls.last.request.headers
