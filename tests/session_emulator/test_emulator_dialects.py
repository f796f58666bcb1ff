"""The legacy dialect (2024-02-02-preview) and Shell-pool executions, over real HTTP.

These are the shapes the agent frameworks' session tools read (tests/clients runs the
tools themselves); here each answer is checked field by field, including the edge cases
the clients produce: a ``/mnt/data/`` file name, a multipart body under a stale JSON
content type, a chunked upload, the ``/files/content/{name}`` route collision.
"""

from __future__ import annotations

import base64

from emulator_support import params

LEGACY = "2024-02-02-preview"
SHELL = "2025-02-02-preview"


async def execute(http, identifier, code, **extra):
    body = {"properties": {"codeInputType": "inline", "executionType": "synchronous"}}
    body["properties"].update(code=code, **extra)
    response = await http.post("/code/execute", params=params(identifier, LEGACY), json=body)
    assert response.status_code == 202, response.text
    return response.json()


async def test_legacy_execute_returns_the_value_and_streams_in_properties(http, identifier):
    body = await execute(http, identifier, "print('hi')\n6 * 7")
    assert body["$id"] == "1"
    props = body["properties"]
    assert props["$id"] == "2"
    assert props["status"] == "Success"
    assert props["stdout"] == "hi\n"
    assert props["stderr"] == ""
    assert props["result"] == 42  # a number stays a number (LangChain's docs show 42)
    assert isinstance(props["executionTimeInMilliseconds"], int)
    assert "executionResult" not in props


async def test_legacy_state_persists_and_an_exception_goes_to_stderr(http, identifier):
    await execute(http, identifier, "x = 5\nimport os\nos.chdir('/tmp')")
    props = (await execute(http, identifier, "print(x * 2)\nos.getcwd()"))["properties"]
    assert (props["stdout"], props["result"]) == ("10\n", "'/tmp'")  # Out[n] keeps quotes
    failed = (await execute(http, identifier, "1 / 0"))["properties"]
    assert failed["status"] == "Success"  # the cell ran; the traceback is its output
    assert "ZeroDivisionError: division by zero" in failed["stderr"]
    assert failed["result"] == ""


async def test_legacy_timeout_is_failure_with_the_reason(http, identifier):
    props = (await execute(http, identifier, "import time; time.sleep(30)", timeoutInSeconds=1))[
        "properties"
    ]
    assert props["status"] == "Failure"
    assert "Timeout" in props["stderr"]
    assert props["result"] is None


async def test_legacy_image_result(http, identifier):
    code = "class Picture:\n    def _repr_png_(self):\n        return b'\\x89PNG fake'\nPicture()"
    result = (await execute(http, identifier, code))["properties"]["result"]
    assert result["type"] == "image" and result["format"] == "png"
    assert base64.b64decode(result["base64_data"]) == b"\x89PNG fake"


async def test_an_open_pyplot_figure_is_the_result_of_a_cell_without_a_value(http, identifier):
    # matplotlib is not in the session image: a stand-in pyplot with the calls the kernel
    # makes (get_fignums, gcf().savefig, close) shows the figure is taken and closed
    code = (
        "import sys, types\n"
        "plt = types.ModuleType('matplotlib.pyplot')\n"
        "class Figure:\n"
        "    def savefig(self, buffer, format):\n"
        "        buffer.write(b'\\x89PNG ' + format.encode())\n"
        "figures = [1]\n"
        "plt.get_fignums = lambda: list(figures)\n"
        "plt.gcf = Figure\n"
        "plt.close = lambda which: figures.clear()\n"
        "sys.modules['matplotlib.pyplot'] = plt\n"
        "plt.show = lambda: None\n"
        "plt.show()"
    )
    result = (await execute(http, identifier, code))["properties"]["result"]
    assert result["type"] == "image"
    assert base64.b64decode(result["base64_data"]) == b"\x89PNG png"
    after = (await execute(http, identifier, "figures"))["properties"]["result"]
    assert after == []  # closed after it was shown, as a notebook's inline backend does


async def test_legacy_result_is_the_text_plain_form_decoded_where_it_is_json(http, identifier):
    names = [f"package-number-{n}" for n in range(8)]
    cases = {
        "6 * 7": 42,
        "[1, 2.5, None]": "[1, 2.5, None]",  # None is not JSON: the text stays
        "[1, 2.5]": [1, 2.5],
        "{'a': 1}": "{'a': 1}",
        "'text'": "'text'",
        "float('nan')": "nan",
        "True": "True",
        f"{names!r}": "[" + ",\n ".join(repr(n) for n in names) + "]",  # AutoGen splits on ",\n"
        "x = 1": "",
    }
    for code, expected in cases.items():
        assert (await execute(http, identifier, code))["properties"]["result"] == expected, code


async def test_legacy_asynchronous_is_refused(http, identifier):
    body = {"properties": {"code": "1", "executionType": "asynchronous"}}
    response = await http.post("/code/execute", params=params(identifier, LEGACY), json=body)
    assert response.status_code == 400


async def test_legacy_files_upload_list_download_delete(http, identifier):
    up = await http.post(
        "/files/upload",
        params=params(identifier, LEGACY),
        files={"file": ("/mnt/data/data.csv", b"a,b\n1,2\n", "application/octet-stream")},
    )
    assert up.status_code == 200, up.text
    entry = up.json()["value"][0]
    assert entry["properties"]["filename"] == "data.csv"
    assert entry["properties"]["size"] == 8
    assert entry["properties"]["lastModifiedTime"].endswith("Z")
    await execute(http, identifier, "import os; os.mkdir('/mnt/data/sub')")
    listed = (await http.get("/files", params=params(identifier, LEGACY))).json()
    assert listed["$id"] == "1"
    assert [e["properties"]["filename"] for e in listed["value"]] == ["data.csv"]  # no dirs
    assert [e["$id"] for e in listed["value"]] == ["2"]
    got = await http.get("/files/content/data.csv", params=params(identifier, LEGACY))
    assert got.content == b"a,b\n1,2\n"
    prefixed = await http.get(
        "/files/content//mnt/data/data.csv", params=params(identifier, LEGACY)
    )
    assert prefixed.content == b"a,b\n1,2\n"
    read = await execute(http, identifier, "open('/mnt/data/data.csv').read().count('\\n')")
    assert read["properties"]["result"] == 2
    gone = await http.delete("/files/data.csv", params=params(identifier, LEGACY))
    assert gone.status_code == 200 and gone.json() == {"message": "file deleted successfully"}
    missing = await http.get("/files/content/data.csv", params=params(identifier, LEGACY))
    assert missing.status_code == 404


async def test_multipart_is_recognised_under_a_stale_json_content_type(http, identifier):
    boundary = "b0undary"
    body = (
        f"--{boundary}\r\n"
        'Content-Disposition: form-data; name="file"; filename="/mnt/data/sk.txt"\r\n'
        "Content-Type: application/octet-stream\r\n\r\n"
        "from semantic kernel\r\n"
        f"--{boundary}--\r\n"
    ).encode()
    response = await http.post(
        "/files/upload",
        params=params(identifier, LEGACY),
        content=body,
        headers={"Content-Type": "application/json"},
    )
    assert response.status_code == 200, response.text
    got = await http.get("/files/content/sk.txt", params=params(identifier, LEGACY))
    assert got.content == b"from semantic kernel"
    not_multipart = await http.post(
        "/files/upload",
        params=params(identifier, LEGACY),
        content=b'{"file": "x"}',
        headers={"Content-Type": "application/json"},
    )
    assert not_multipart.status_code == 400


async def test_chunked_upload(http, identifier):
    boundary = "chunky"
    parts = [
        f"--{boundary}\r\nContent-Disposition: form-data; ".encode(),
        b'name="file"; filename="c.bin"\r\n\r\n',
        b"x" * 100_000,
        f"\r\n--{boundary}--\r\n".encode(),
    ]

    async def chunks():
        for part in parts:
            yield part

    response = await http.post(
        "/files/upload",
        params=params(identifier, LEGACY),
        content=chunks(),
        headers={"Content-Type": f"multipart/form-data; boundary={boundary}"},
    )
    assert response.status_code == 200, response.text
    assert response.json()["value"][0]["properties"]["size"] == 100_000


async def test_files_content_route_collision_is_decided_by_api_version(http, identifier):
    await http.post("/files", params=params(identifier), files={"file": ("content", b"new")})
    await http.post("/files", params=params(identifier), files={"file": ("x.txt", b"legacy")})
    # new dialect: /files/{name}/content with name "content"
    new = await http.get("/files/content/content", params=params(identifier))
    assert new.content == b"new"
    # legacy dialect: /files/content/{name}
    old = await http.get("/files/content/x.txt", params=params(identifier, LEGACY))
    assert old.content == b"legacy"
    assert (await http.get("/files/content/x.txt", params=params(identifier))).status_code == 404


async def test_new_dialect_answers_are_unchanged(http, identifier):
    up = await http.post("/files", params=params(identifier), files={"file": ("n.txt", b"1")})
    assert up.json()["name"] == "n.txt" and up.json()["sizeInBytes"] == 1
    listed = (await http.get("/files", params=params(identifier))).json()
    assert listed["value"][0]["name"] == "n.txt" and listed["nextLink"] is None


async def shell(http, identifier, command, version=SHELL):
    return await http.post(
        "/executions", params=params(identifier, version), json={"shellCommand": command}
    )


async def test_shell_command_reports_its_exit_code_as_status(http, identifier):
    ok = await shell(http, identifier, "echo hello; echo oops >&2")
    assert ok.status_code == 202, ok.text
    body = ok.json()
    assert body["status"] == "0"
    assert body["result"]["stdout"] == "hello\n"
    assert body["result"]["stderr"] == "oops\n"
    failed = (await shell(http, identifier, "exit 3")).json()
    assert failed["status"] == "3"
    assert int(failed["status"]) == 3  # what LangChain's SessionsBashTool does with it
    killed = (await shell(http, identifier, "kill -9 $$")).json()
    assert killed["status"] == "137"
    polled = await http.get(f"/executions/{body['id']}", params=params(identifier, SHELL))
    assert polled.json()["status"] == "0"


async def test_shell_sees_the_session_files_and_argv_form(http, identifier):
    await http.post(
        "/files", params=params(identifier, SHELL), files={"file": ("in.txt", b"abc\n")}
    )
    cat = (await shell(http, identifier, "cat /mnt/data/in.txt && pwd")).json()
    assert cat["result"]["stdout"] == "abc\n/mnt/data\n"
    argv = await http.post(
        "/executions",
        params=params(identifier, "2025-10-02-preview"),
        json={"execCommandAndArgs": ["printf", "%s|", "a b", "c"]},
    )
    assert argv.status_code == 200, argv.text
    assert argv.json()["result"]["stdout"] == "a b|c|"


async def test_shell_needs_a_shell_api_version_and_one_command(http, identifier):
    old = await shell(http, identifier, "echo", version="2024-10-02-preview")
    assert old.status_code == 400
    both = await http.post(
        "/executions",
        params=params(identifier, SHELL),
        json={"shellCommand": "echo", "code": "print(1)"},
    )
    assert both.status_code == 400
    blank = await shell(http, identifier, "  ")
    assert blank.status_code == 400
