"""LlamaIndex's AzureCodeInterpreterToolSpec (llama-index-tools-azure-code-interpreter
0.7.0), unpatched, against the emulator: the legacy dialect with /mnt/data/ upload names."""

from __future__ import annotations

import base64

from conftest import driver_fixture

llamaindex = driver_fixture("llamaindex")


def test_code_with_a_value_and_stdout(llamaindex):
    answer = llamaindex.call("code_interpreter", code="print('hi')\n[n * n for n in range(4)]")
    props = answer["properties"]
    assert props["status"] == "Success"
    assert props["stdout"] == "hi\n"
    assert props["result"] == [0, 1, 4, 9]


def test_an_exception_is_reported_in_stderr(llamaindex):
    props = llamaindex.call("code_interpreter", code="import nosuchmodule")["properties"]
    assert "ModuleNotFoundError: No module named 'nosuchmodule'" in props["stderr"]


def test_the_agent_tool_keeps_state_between_calls(llamaindex):
    llamaindex.call("agent_tool", code="answer = 6 * 7")
    assert "'result': 42" in llamaindex.call("agent_tool", code="answer")


def test_image_result_is_saved_locally(llamaindex):
    code = "class P:\n    def _repr_png_(self):\n        return b'\\x89PNG li'\nP()"
    result = llamaindex.call("code_interpreter", code=code)["properties"]["result"]
    assert result["type"] == "image" and result["saved_to_local_path"] is True
    saved = llamaindex.call("saved_images")
    assert len(saved) == 1
    name, data = next(iter(saved.items()))
    assert name.endswith(".png") and base64.b64decode(data) == b"\x89PNG li"


def test_upload_list_download_and_read_from_mnt_data(llamaindex):
    data = b"city,temp\nOslo,3\nLima,19\n"
    metas = llamaindex.call("upload", name="weather.csv", data=base64.b64encode(data).decode())
    # the spec uploads as "/mnt/data/weather.csv"; the pool answers with the plain name
    assert metas == [
        {"filename": "weather.csv", "size": len(data), "full_path": "/mnt/data/weather.csv"}
    ]
    assert {"filename": "weather.csv", "size": len(data)} in llamaindex.call("list")
    assert base64.b64decode(llamaindex.call("download", name="/mnt/data/weather.csv")) == data
    assert base64.b64decode(llamaindex.call("download_to", name="weather.csv")) == data
    code = (
        "import csv\nrows = list(csv.DictReader(open('/mnt/data/weather.csv')))\n"
        "max(rows, key=lambda r: int(r['temp']))['city']"
    )
    assert llamaindex.call("code_interpreter", code=code)["properties"]["result"] == "'Lima'"
