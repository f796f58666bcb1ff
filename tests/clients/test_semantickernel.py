"""Semantic Kernel's SessionsPythonTool (semantic-kernel 1.45.0), unpatched, against the
emulator over https: the legacy dialect with timeoutInSeconds, and a multipart upload sent
under the stale ``Content-Type: application/json`` the plugin leaves on its client."""

from __future__ import annotations

import base64

import pytest
from conftest import DriverError, driver_fixture

semantickernel = driver_fixture("semantickernel", "tls_pool")


def test_code_with_a_value_and_stdout(semantickernel):
    text = semantickernel.call("execute", code="print('hello')\n2 ** 10")
    assert text == "Status:\nSuccess\nResult:\n1024\nStdout:\nhello\n\nStderr:\n"


def test_an_exception_is_reported_in_stderr(semantickernel):
    text = semantickernel.call("execute", code="int('x')")
    assert "Status:\nSuccess" in text
    assert "ValueError: invalid literal for int() with base 10: 'x'" in text


def test_the_kernel_invokes_the_plugin_and_state_persists(semantickernel):
    semantickernel.call("through_kernel", code="import math\nradius = 2")
    text = semantickernel.call("through_kernel", code="round(math.pi * radius ** 2, 2)")
    assert "Result:\n12.57" in text


def test_timeout_in_seconds_is_honoured(semantickernel):
    text = semantickernel.call("execute_with", code="import time\ntime.sleep(30)", timeout=1)
    assert text.startswith("Status:\nFailure")
    assert "Timeout" in text


def test_a_wrong_token_is_refused(semantickernel):
    with pytest.raises(DriverError) as refused:
        semantickernel.call("execute_with", code="1", token="not-the-token")
    assert "401" in refused.value.message


def test_upload_list_download_and_read_from_mnt_data(semantickernel):
    data = b"x,y\n1,2\n3,4\n"
    meta = semantickernel.call("upload", name="points.csv", data=base64.b64encode(data).decode())
    assert meta == {
        "filename": "points.csv",
        "size": len(data),
        "full_path": "/mnt/data/points.csv",
    }
    assert {"filename": "points.csv", "size": len(data)} in semantickernel.call("list")
    assert base64.b64decode(semantickernel.call("download", name="points.csv")) == data
    code = "sum(int(line.split(',')[1]) for line in open('/mnt/data/points.csv').readlines()[1:])"
    assert "Result:\n6\n" in semantickernel.call("execute", code=code)


def test_default_token_scope_is_acasessions(semantickernel):
    # recorded in shared/reference: given a credential, the plugin asks for this scope
    assert semantickernel.call("default_scope") == "https://acasessions.io/.default"
