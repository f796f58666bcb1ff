"""AutoGen's ACADynamicSessionsCodeExecutor (autogen-ext[azure] 0.7.5), unpatched, against
the emulator: the legacy dialect, Success/Failure status, chunked multipart uploads."""

from __future__ import annotations

import base64

from conftest import driver_fixture

autogen = driver_fixture("autogen")


def test_code_blocks_with_stdout_and_a_value(autogen):
    result = autogen.call(
        "run",
        blocks=[
            ["python", "import sys; print('hello world!')"],
            ["python", "a = 100 + 100\nprint(a)\na * 2"],
        ],
    )
    assert result["exit_code"] == 0
    assert "hello world!" in result["output"] and "200" in result["output"]
    assert "400" in result["output"]  # the last expression's value, as "result"


def test_the_executor_sees_the_session_packages(autogen):
    # before the first block the executor lists the session's packages with pkg_resources
    packages = autogen.call("packages")
    assert "pip" in packages or "setuptools" in packages
    assert autogen.call("scopes")[0] == "https://dynamicsessions.io/.default"


def test_an_exception_is_in_the_output(autogen):
    result = autogen.call("run", blocks=[["python", "raise ValueError('bad input')"]])
    assert "ValueError: bad input" in result["output"]


def test_an_unknown_language_is_refused_by_the_executor(autogen):
    result = autogen.call("run", blocks=[["bash", "echo hi"]])
    assert result["exit_code"] == 1 and "unknown language" in result["output"]


def test_upload_list_and_read_relative_to_mnt_data(autogen):
    files = {"test1.txt": b"test file 1", "test2": b"test file 2"}
    autogen.call("upload", files={k: base64.b64encode(v).decode() for k, v in files.items()})
    listed = autogen.call("list")
    assert "test1.txt" in listed and "test2" in listed
    code = "for name in ('test1.txt', 'test2'):\n    print(open(name).read())"
    result = autogen.call("run", blocks=[["python", code]])  # the executor chdirs to /mnt/data
    assert result["exit_code"] == 0
    assert "test file 1" in result["output"] and "test file 2" in result["output"]


def test_download_files_the_code_wrote(autogen):
    code = (
        "with open('out1.txt', 'w') as f:\n    f.write('azure test file 1')\n"
        "with open('out2', 'w') as f:\n    f.write('azure test file 2')"
    )
    assert autogen.call("run", blocks=[["python", code]])["exit_code"] == 0
    got = autogen.call("download", names=["out1.txt", "out2"])
    assert base64.b64decode(got["out1.txt"]) == b"azure test file 1"
    assert base64.b64decode(got["out2"]) == b"azure test file 2"


def test_restart_moves_to_a_fresh_session(autogen):
    autogen.call("run", blocks=[["python", "marker = 'old'"]])
    autogen.call("restart")
    result = autogen.call("run", blocks=[["python", "print('marker' in globals())"]])
    assert "False" in result["output"]
