"""Executions over real HTTP with plain httpx: statuses, results, headers, timeouts."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import time

import httpx
import pytest
from emulator_support import params, poll, run_code

from session_emulator.config import EmulatorConfig
from session_emulator.executions import Execution, ExecutionStatus, Runner
from session_emulator.sandbox import InterpreterInfo, NoIsolation, select_isolation


async def test_sync_execution_returns_stdout_and_last_expression(http, identifier):
    response = await http.post(
        "/executions",
        params=params(identifier),
        json={"code": "print(63)\nx = 6\nx * 7", "executionType": "synchronous"},
    )
    assert response.status_code == 202
    body = response.json()
    assert body["status"] == "Succeeded"
    assert body["executionType"] == "Synchronous"
    assert body["identifier"] == identifier
    assert body["result"]["stdout"] == "63\n"
    assert body["result"]["stderr"] == ""
    assert body["result"]["executionResult"] == 42
    assert body["result"]["executionTimeInMilliseconds"] >= 0
    assert response.headers["operation-id"] == body["id"]
    location = response.headers["Operation-Location"]
    assert f"/executions/{body['id']}?" in location and "identifier=" in location


async def test_latest_api_version_answers_200(http, identifier):
    response = await http.post(
        "/executions",
        params=params(identifier, "2025-10-02-preview"),
        json={"code": "1", "executionType": "Synchronous", "timeoutInSeconds": 10},
    )
    assert response.status_code == 200
    assert response.headers["operation-id"]


async def test_execution_results_are_json_values(http, identifier):
    cases = {
        "{'a': [1, 2.5, None]}": {"a": [1, 2.5, None]},
        "'text'": "text",
        "a = None; a": "",
        "float('nan')": None,  # the service's own example (CodeExecution_Execute_Result_NaN)
        "x = 1": "",
        "print('hi')": "",
        "object": "<class 'object'>",
    }
    for code, expected in cases.items():
        body = await run_code(http, identifier, code)
        assert body["result"]["executionResult"] == expected, code


async def test_jupyter_format_returns_the_text_plain_form(http, identifier):
    # the service's examples: a = "nan";a -> "'nan'" and float('nan') -> "nan"
    cases = {"a = 'nan';a": "'nan'", "float('nan')": "nan", "[1, 2]": "[1, 2]", "x = 1": ""}
    for code, expected in cases.items():
        body = await run_code(
            http,
            identifier,
            code,
            api_version="2025-10-02-preview",
            returnJupyterFormatExecutionResult=True,
        )
        assert body["result"]["executionResult"] == expected, code


async def test_async_execution_polls_to_completion(http, identifier):
    response = await http.post(
        "/executions",
        params=params(identifier),
        json={
            "code": "import time\ntime.sleep(0.3)\nprint('done')",
            "executionType": "Asynchronous",
            "timeoutInSeconds": 10,
        },
    )
    assert response.status_code == 202
    first = response.json()
    assert first["status"] in ("NotStarted", "Running")
    final = await poll(http, identifier, first["id"])
    assert final["status"] == "Succeeded"
    assert final["result"]["stdout"] == "done\n"
    assert final["result"]["executionTimeInMilliseconds"] >= 300


async def test_operation_id_header_names_the_execution_and_is_idempotent(http, identifier):
    body = {"code": "import time; time.sleep(0.2); print('once')", "executionType": "Asynchronous"}
    headers = {"operation-id": "op-fixed-1"}
    first = await http.post("/executions", params=params(identifier), json=body, headers=headers)
    again = await http.post("/executions", params=params(identifier), json=body, headers=headers)
    assert first.json()["id"] == again.json()["id"] == "op-fixed-1"
    final = await poll(http, identifier, "op-fixed-1")
    assert final["result"]["stdout"] == "once\n"
    # A different session may use the same operation id independently.
    other = await http.post(
        "/executions", params=params(identifier + "x"), json=body, headers=headers
    )
    assert other.json()["id"] == "op-fixed-1"


async def test_exception_is_succeeded_with_traceback_jupyter_style(http, identifier):
    body = await run_code(http, identifier, "print('before')\nraise ValueError('boom')")
    assert body["status"] == "Succeeded"
    assert body["result"]["stdout"] == "before\n"
    assert "ValueError: boom" in body["result"]["stderr"]
    assert 'File "<code>", line 2' in body["result"]["stderr"]
    syntax = await run_code(http, identifier, "def (:")
    assert "SyntaxError" in syntax["result"]["stderr"]


async def test_timeout_fails_with_timeout_error_and_keeps_partial_output(http, identifier):
    body = await run_code(http, identifier, "print('start')\nwhile True: pass", timeout=1)
    assert body["status"] == "Failed"
    assert body["error"]["code"] == "Timeout"
    assert body["result"]["stdout"] == "start\n"
    assert 1000 <= body["result"]["executionTimeInMilliseconds"] < 5000


async def test_process_killed_by_signal_is_failed(http, identifier):
    body = await run_code(http, identifier, "import os, signal\nos.kill(os.getpid(), 9)")
    assert body["status"] == "Failed"
    assert body["error"]["code"] == "ExecutionError"


async def test_output_streams_are_truncated(http, identifier):
    body = await run_code(
        http, identifier, "import sys\nprint('o' * 10000)\nsys.stderr.write('e' * 10000)"
    )
    assert body["result"]["stdout"] == "o" * 4096
    assert body["result"]["stderr"] == "e" * 4096
    short = await run_code(http, identifier, "print('é' * 100)", outputStreamsMaxLength=10)
    assert short["result"]["stdout"] == "é" * 10


async def test_a_session_keeps_its_kernel_state_like_jupyter(http, identifier):
    await run_code(http, identifier, "open('note.txt', 'w').write('kept')\nsecret = 1")
    body = await run_code(
        http, identifier, "import os\nprint(os.getcwd(), open('/mnt/data/note.txt').read())"
    )
    assert body["result"]["stdout"] == "/mnt/data kept\n"
    kept = await run_code(http, identifier, "def twice(x):\n    return 2 * x\ntwice(secret + 20)")
    assert kept["result"]["executionResult"] == 42  # variables and functions persist
    other = await run_code(http, f"{identifier}-b", "secret")
    assert "NameError" in other["result"]["stderr"]  # another session: another kernel


async def test_a_timeout_restarts_the_kernel(http, identifier):
    await run_code(http, identifier, "value = 7\nopen('kept.txt', 'w').write('x')")
    stuck = await run_code(http, identifier, "while True: pass", timeout=1)
    assert stuck["error"]["code"] == "Timeout"
    after = await run_code(http, identifier, "import os\nprint(os.path.exists('kept.txt'))\nvalue")
    assert after["result"]["stdout"] == "True\n"  # files stay
    assert "NameError" in after["result"]["stderr"]  # the kernel's state went with it


async def test_sandbox_python_is_the_venv_and_home_is_tmp(http, identifier):
    import sys

    code = "import os, shutil, sys\nprint(sys.prefix == %r, os.environ['HOME'],"
    code += " shutil.which('python'))"

    body = await run_code(http, identifier, code % sys.prefix)
    out = body["result"]["stdout"].split()
    assert out[0] == "True" and out[1] == "/tmp"
    assert out[2].startswith(sys.prefix)


async def test_unknown_execution_is_404_with_azure_error(http, identifier):
    response = await http.get("/executions/nope", params=params(identifier))
    assert response.status_code == 404
    assert response.json()["error"]["code"] == response.headers["x-ms-error-code"]


async def test_bad_bodies_are_400(http, identifier):
    for body in ({}, {"code": ""}, {"code": "1", "executionType": "sometimes"}, [1]):
        response = await http.post("/executions", params=params(identifier), json=body)
        assert response.status_code == 400, body
        assert "error" in response.json()
    for bad in (-1, 0, 0.5, {"outputStreamsMaxLength": 0.9}):
        bad_field = bad if isinstance(bad, dict) else {"timeoutInSeconds": bad}
        response = await http.post(
            "/executions", params=params(identifier), json={"code": "1", **bad_field}
        )
        assert response.status_code == 400, bad  # 0.5 used to become a 0 s timeout


async def test_base64_code_input(http, identifier):
    import base64

    code = base64.b64encode(b"print('b64')").decode()
    body = await run_code(http, identifier, code, codeInputType="InlineBase64")
    assert body["result"]["stdout"] == "b64\n"


async def test_twenty_concurrent_executions_across_ten_sessions(emulator):
    identifiers = [f"conc-{i}-{id(emulator) % 10000}" for i in range(10)]

    async def one(client: httpx.AsyncClient, n: int) -> None:
        ident = identifiers[n % 10]
        body = await run_code(client, ident, f"import time; time.sleep(0.1); print({n}); {n} * 2")
        assert body["status"] == "Succeeded", body
        assert body["result"]["stdout"] == f"{n}\n"
        assert body["result"]["executionResult"] == n * 2

    limits = httpx.Limits(max_connections=40)
    async with httpx.AsyncClient(base_url=emulator.url, timeout=60, limits=limits) as client:
        await asyncio.gather(*(one(client, n) for n in range(20)))


@pytest.mark.parametrize("when", ["before", "during-spawn"])
async def test_cancel_before_the_process_exists_still_stops_it(tmp_path, monkeypatch, when):
    """A session deleted while its execution is still being spawned must not leave it running."""
    config = EmulatorConfig(data_dir=tmp_path, insecure_no_sandbox=True)
    interpreter = InterpreterInfo.inspect(sys.executable)
    isolation = NoIsolation(interpreter=interpreter)
    runner = Runner(config=config, isolation=isolation, interpreter=interpreter)
    execution = Execution(
        id="e1",
        identifier="id-1",
        execution_type="Asynchronous",
        timeout_seconds=20,
        output_max_length=100,
    )
    execution.status = ExecutionStatus.RUNNING
    if when == "before":
        execution.kill(reason="session deleted")
    else:
        real_spawn = asyncio.create_subprocess_exec

        async def spawn_then_cancel(*args, **kwargs):
            process = await real_spawn(*args, **kwargs)
            execution.kill(reason="session deleted")  # process not yet attached: no-op kill
            return process

        monkeypatch.setattr(asyncio, "create_subprocess_exec", spawn_then_cancel)
    started = time.monotonic()
    await runner.run(execution, code="import time\ntime.sleep(30)", session_dir=tmp_path, uid=None)
    assert time.monotonic() - started < 10
    assert execution.status == "Canceled"


@pytest.mark.skipif(os.geteuid() != 0, reason="per-session uids need root")
async def test_a_kernel_restarted_after_dying_between_cells_keeps_the_session_uid(tmp_path):
    """The restart path must not fall back to root: the cell runs as the session's uid."""
    config = EmulatorConfig(data_dir=tmp_path / "emu")
    isolation, interpreter = select_isolation(config)
    assert isolation.drops_uid
    runner = Runner(config=config, isolation=isolation, interpreter=interpreter)
    folder = tmp_path / "session"
    folder.mkdir()
    uid = config.sandbox_uid_base + 7
    os.chown(folder, uid, uid)

    async def whoami() -> Execution:
        execution = Execution(
            id=Execution.new_id(),
            identifier="uid-1",
            execution_type="Synchronous",
            timeout_seconds=20,
            output_max_length=100,
        )
        await runner.run(
            execution, code="import os\nos.getuid()", session_dir=folder, uid=uid, slot=7
        )
        return execution

    try:
        assert (await whoami()).execution_result == uid
        kernel = runner._kernels[7]
        os.killpg(kernel.process.pid, signal.SIGKILL)
        time.sleep(0.5)  # dead, but not yet reaped by the loop: the send fails, then a restart
        assert kernel.process.returncode is None
        again = await whoami()
        assert again.status == "Succeeded", again.error
        assert again.execution_result == uid
        assert runner._kernels[7] is not kernel
    finally:
        await runner.close()
