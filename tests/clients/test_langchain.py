"""LangChain's SessionsPythonREPLTool and SessionsBashTool (langchain-azure-dynamic-sessions
1.0.4), unpatched, against the emulator: the legacy dialect and a Shell pool's executions."""

from __future__ import annotations

import base64
import json
import time

from conftest import driver_fixture

langchain = driver_fixture("langchain")


def test_code_with_a_value_and_stdout(langchain):
    answer = langchain.call("invoke", code="print('hello from the pool')\n6 * 7")
    assert json.loads(answer["content"]) == {
        "result": 42,
        "stdout": "hello from the pool\n",
        "stderr": "",
    }
    assert answer["artifact"]["status"] == "Success"


def test_an_exception_is_reported_in_stderr(langchain):
    content = json.loads(langchain.call("invoke", code="{}['missing']")["content"])
    assert "KeyError: 'missing'" in content["stderr"]
    assert content["stdout"] == ""


def test_variables_persist_between_calls(langchain):
    langchain.call("invoke", code="total = 40")
    content = json.loads(langchain.call("invoke", code="total + 2")["content"])
    assert content["result"] == 42


def test_image_result_reaches_the_artifact_not_the_content(langchain):
    code = "class P:\n    def _repr_png_(self):\n        return b'\\x89PNG demo'\nP()"
    answer = langchain.call("invoke", code=code)
    assert json.loads(answer["content"])["result"] == {"type": "image", "format": "png"}
    data = answer["artifact"]["result"]["base64_data"]
    assert base64.b64decode(data) == b"\x89PNG demo"


def test_upload_list_download_and_read_from_mnt_data(langchain):
    data = json.dumps({"important_data": [1, 10, -1541]}).encode()
    meta = langchain.call(
        "upload", name="important_data.json", data=base64.b64encode(data).decode()
    )
    assert meta == {
        "filename": "important_data.json",
        "size": len(data),
        "full_path": "/mnt/data/important_data.json",
    }
    assert {"filename": "important_data.json", "size": len(data)} in langchain.call("list")
    assert base64.b64decode(langchain.call("download", name="important_data.json")) == data
    code = (
        f"import json\nwith open({meta['full_path']!r}) as f:\n    data = json.load(f)\n"
        "sum(data['important_data'])"
    )
    assert json.loads(langchain.call("invoke", code=code)["content"])["result"] == -1530


def test_delete_session(langchain, pool):
    langchain.call("invoke", code="x = 1")
    old = langchain.call("session_id")
    assert pool.session_exists(old)
    ids = langchain.call("delete_session")
    assert ids["old"] == old and ids["new"] != old
    deadline = time.monotonic() + 10
    while pool.session_exists(old) and time.monotonic() < deadline:  # deleted on a thread
        time.sleep(0.05)
    assert not pool.session_exists(old)
    content = json.loads(langchain.call("invoke", code="'x' in globals()")["content"])
    assert content["result"] == "False"  # a new session: nothing carried over


def test_bash_command_and_exit_code(langchain):
    answer = json.loads(
        langchain.call("bash_invoke", command="echo hello; echo warn >&2")["content"]
    )
    assert answer == {"stdout": "hello\n", "stderr": "warn\n", "exitCode": 0}
    failed = json.loads(langchain.call("bash_invoke", command="ls /nonexistent; exit 3")["content"])
    assert failed["exitCode"] == 3
    assert "No such file or directory" in failed["stderr"]


def test_bash_files_upload_list_download(langchain):
    meta = langchain.call(
        "bash_upload", name="notes.txt", data=base64.b64encode(b"a\nb\n").decode()
    )
    assert meta == {"filename": "notes.txt", "size": 4}
    assert {"filename": "notes.txt", "size": 4} in langchain.call("bash_list")
    counted = json.loads(
        langchain.call("bash_invoke", command="wc -l < /mnt/data/notes.txt")["content"]
    )
    assert counted["stdout"].strip() == "2"
    langchain.call("bash_invoke", command="echo made > /mnt/data/made.txt")
    assert base64.b64decode(langchain.call("bash_download", name="made.txt")) == b"made\n"
