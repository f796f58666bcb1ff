"""Files over real HTTP: upload, list, metadata, download, delete, names, size cap."""

from __future__ import annotations

import asyncio

import httpx
from emulator_support import params, run_code


async def test_upload_list_metadata_download_delete(http, identifier):
    payload = bytes(range(256)) * 10
    uploaded = await http.post(
        "/files", params=params(identifier), files={"file": ("data.bin", payload)}
    )
    assert uploaded.status_code == 200
    meta = uploaded.json()
    assert meta["name"] == "data.bin" and meta["sizeInBytes"] == len(payload)
    assert meta["type"] == "File" and meta["lastModifiedAt"].endswith("Z")
    listed = (await http.get("/files", params=params(identifier))).json()
    assert listed["nextLink"] is None
    assert [f["name"] for f in listed["value"]] == ["data.bin"]
    one = (await http.get("/files/data.bin", params=params(identifier))).json()
    assert one["sizeInBytes"] == len(payload)
    content = await http.get("/files/data.bin/content", params=params(identifier))
    assert content.status_code == 200 and content.content == payload
    deleted = await http.delete("/files/data.bin", params=params(identifier))
    assert deleted.status_code == 204
    missing = await http.get("/files/data.bin", params=params(identifier))
    assert missing.status_code == 404
    assert missing.json()["error"]["code"] == "FileNotFound"


async def test_code_sees_and_changes_uploaded_files(http, identifier):
    await http.post("/files", params=params(identifier), files={"file": ("in.txt", b"abc")})
    body = await run_code(
        http,
        identifier,
        "data = open('/mnt/data/in.txt').read()\n"
        "open('in.txt', 'w').write(data.upper())\n"
        "open('out.json', 'w').write('{}')",
    )
    assert body["status"] == "Succeeded", body
    assert (await http.get("/files/in.txt/content", params=params(identifier))).content == b"ABC"
    names = [
        f["name"] for f in (await http.get("/files", params=params(identifier))).json()["value"]
    ]
    assert names == ["in.txt", "out.json"]


async def test_upload_overwrites_by_name_and_unicode_names_work(http, identifier):
    for content in (b"one", b"two"):
        await http.post(
            "/files", params=params(identifier), files={"file": ("même (1).txt", content)}
        )
    got = await http.get("/files/même (1).txt/content", params=params(identifier))
    assert got.content == b"two"


async def test_traversal_and_bad_names_are_400(http, identifier):
    for name in ("../escape.txt", "a/b.txt", "..", "x..y", "a\\b", "bad*name"):
        response = await http.post(
            "/files", params=params(identifier), files={"file": (name, b"x")}
        )
        assert response.status_code == 400, name
        assert response.json()["error"]["code"] == "InvalidFileName"
    encoded = await http.get("/files/..%2Fsecret/content", params=params(identifier))
    assert encoded.status_code in (400, 404)
    listed = (await http.get("/files", params=params(identifier))).json()
    assert listed["value"] == []


async def test_upload_without_file_field_is_400(http, identifier):
    response = await http.post("/files", params=params(identifier), files={"other": ("a", b"x")})
    assert response.status_code == 400


async def test_upload_over_the_cap_is_413(http, emulator, identifier):
    too_big = b"x" * (emulator.config.max_upload_bytes + 200_000)
    response = await http.post(
        "/files", params=params(identifier), files={"file": ("big", too_big)}
    )
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "PayloadTooLarge"

    # no Content-Length: the cap is enforced while streaming
    file_part = b'Content-Disposition: form-data; name="file"; filename="s"'
    streamed = await _post_chunked(http, identifier, [(file_part, b"y" * 100_000, 20)])
    assert streamed.status_code == 413
    assert (await http.get("/files", params=params(identifier))).json()["value"] == []


async def test_just_under_the_cap_is_accepted(http, emulator, identifier):
    ok = b"z" * emulator.config.max_upload_bytes
    response = await http.post("/files", params=params(identifier), files={"file": ("ok", ok)})
    assert response.status_code == 200
    assert response.json()["sizeInBytes"] == len(ok)


async def test_list_with_path_and_recursive(http, identifier):
    await run_code(http, identifier, "import os\nos.makedirs('sub/deeper')\nopen('sub/a.txt','w')")
    top = (await http.get("/files", params=params(identifier))).json()["value"]
    assert [(f["name"], f["type"]) for f in top] == [("sub", "directory")]
    sub = await http.get("/files", params={**params(identifier), "path": "/mnt/data/sub"})
    assert sorted(f["name"] for f in sub.json()["value"]) == ["a.txt", "deeper"]
    rec = await http.get("/files", params={**params(identifier), "recursive": "true"})
    assert len(rec.json()["value"]) == 3
    bad = await http.get("/files", params={**params(identifier), "path": "../.."})
    assert bad.status_code == 400


def test_httpx_is_real_http(emulator):
    response = httpx.get(emulator.url + "/files", params=params("sync-client-check"))
    assert response.status_code == 200


async def test_symlinks_planted_by_code_are_never_followed(http, identifier, tmp_path):
    """Code owns /mnt/data: a symlink there must not let the (root) emulator touch host files."""
    host = tmp_path / "host"
    host.mkdir()
    (host / "secret.txt").write_text("host secret")
    body = await run_code(
        http,
        identifier,
        f"import os\nos.symlink({str(host)!r}, 'hostdir')\n"
        f"os.symlink({str(host / 'secret.txt')!r}, 'link.txt')",
    )
    assert body["status"] == "Succeeded", body
    via_dir = {**params(identifier), "path": "hostdir"}
    read = await http.get("/files/secret.txt/content", params=via_dir)
    assert read.status_code == 404 and b"host secret" not in read.content
    assert (await http.get("/files", params=via_dir)).status_code == 404
    wrote = await http.post("/files", params=via_dir, files={"file": ("planted.txt", b"x")})
    assert wrote.status_code == 404 and not (host / "planted.txt").exists()
    assert (await http.delete("/files/secret.txt", params=via_dir)).status_code == 404
    assert (host / "secret.txt").read_text() == "host secret"
    linked = await http.get("/files/link.txt/content", params=params(identifier))
    assert linked.status_code == 404 and b"host secret" not in linked.content
    meta = (await http.get("/files/link.txt", params=params(identifier))).json()
    assert meta["type"] == "File" and meta["sizeInBytes"] == len(str(host / "secret.txt"))
    gone = await http.delete("/files/link.txt", params=params(identifier))
    assert gone.status_code == 204 and (host / "secret.txt").exists()
    replaced = await http.post(
        "/files", params=params(identifier), files={"file": ("hostdir", b"plain")}
    )
    assert replaced.status_code == 200 and host.is_dir() and (host / "secret.txt").exists()


async def test_fifo_download_does_not_hang(http, identifier):
    await run_code(http, identifier, "import os\nos.mkfifo('pipe')")
    response = await asyncio.wait_for(
        http.get("/files/pipe/content", params=params(identifier)), timeout=10
    )
    assert response.status_code == 404


async def test_other_multipart_fields_count_toward_the_cap(http, emulator, identifier):
    """A small file part, then an endless other field: the whole body is bounded."""
    repeats = emulator.config.max_upload_bytes // 100_000 + 5
    parts = [
        (b'Content-Disposition: form-data; name="file"; filename="f"', b"tiny", 1),
        (b'Content-Disposition: form-data; name="pad"', b"p" * 100_000, repeats),
    ]
    assert (await _post_chunked(http, identifier, parts)).status_code == 413


async def _post_chunked(
    http: httpx.AsyncClient, identifier: str, parts: list[tuple[bytes, bytes, int]]
) -> httpx.Response:
    """POST a multipart body without Content-Length: each part's data chunk sent N times."""

    async def chunks():
        for header, data, times in parts:
            yield b"--b0undary\r\n" + header + b"\r\n\r\n"
            for _ in range(times):
                yield data
            yield b"\r\n"
        yield b"--b0undary--\r\n"

    return await http.post(
        "/files",
        params=params(identifier),
        content=chunks(),
        headers={"Content-Type": "multipart/form-data; boundary=b0undary"},
    )


async def test_path_query_only_strips_the_whole_mnt_data_component(http, identifier):
    await run_code(http, identifier, "import os\nos.makedirs('base')\nopen('base/in.txt','w')")
    wrong = await http.get("/files", params={**params(identifier), "path": "/mnt/database"})
    assert wrong.status_code == 404
    right = await http.get("/files", params={**params(identifier), "path": "/mnt/data/base"})
    assert [f["name"] for f in right.json()["value"]] == ["in.txt"]
    assert right.json()["value"][0]["directory"] == "/mnt/data/base"
