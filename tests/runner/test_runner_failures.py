"""Every way a workflow fails ends in a failed output.json with a clear error."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from runner import render_run_py
from tests.runner.conftest import RunRunner

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "agent_builder"


def test_preamble_runs_before_the_workflow_is_imported(run_runner: RunRunner) -> None:
    done = run_runner(
        """
        import os
        import __main__

        MODE = os.environ["ARO_TEST_MODE"]

        def run(payload):
            return {"mode": MODE, "flag": __main__.FLAG}
        """,
        preamble="import os\nos.environ['ARO_TEST_MODE'] = 'from-preamble'\nFLAG = 42\n",
    )
    assert done.returncode == 0, done.stderr
    assert done.output["result"] == {"mode": "from-preamble", "flag": 42}


def test_preamble_cannot_break_the_runner(run_runner: RunRunner) -> None:
    done = run_runner(
        "def run(payload):\n    return 'ok'\n",
        preamble="from datetime import datetime\njson = None\nos = None\nCONFIG = {}\n",
    )
    assert done.output["result"] == "ok", done.stderr


def test_preamble_may_use_future_imports(run_runner: RunRunner) -> None:
    done = run_runner(
        "def run(payload):\n    return 'ok'\n",
        preamble="from __future__ import annotations\ndef f(x: Undefined) -> None: ...\n",
    )
    assert done.output["status"] == "succeeded", done.output


def test_a_failing_preamble_still_writes_output(run_runner: RunRunner) -> None:
    done = run_runner(
        "def run(payload):\n    return 'never'\n",
        preamble="import os\n\nraise RuntimeError('preamble exploded')\n",
    )
    assert done.returncode == 1
    error = done.error
    assert (error["type"], error["stage"]) == ("RuntimeError", "preamble")
    assert error["message"] == "preamble exploded"
    assert 'File "<runnerPreamble>", line 3' in error["traceback"]
    assert "raise RuntimeError('preamble exploded')" in error["traceback"]
    assert "run.py" not in error["traceback"]
    assert "RuntimeError at stage preamble" in done.stderr


def test_a_preamble_syntax_error_names_the_line(run_runner: RunRunner) -> None:
    done = run_runner("def run(payload):\n    return 1\n", preamble="x = 1\nif x\n")
    assert (done.error["type"], done.error["stage"]) == ("SyntaxError", "preamble")
    assert "<runnerPreamble>, line 2" in done.error["message"]


def test_syntax_error_names_file_line_column_and_text(run_runner: RunRunner) -> None:
    done = run_runner("def run(payload):\n    return (1 +\n\nx = = 2\n")
    error = done.error
    assert (error["type"], error["stage"]) == ("SyntaxError", "import")
    assert "workflow.py" in error["message"]
    assert "line 2, column 12" in error["message"]
    assert error["details"]["line"] == 2
    assert error["details"]["column"] == 12
    assert "return (1 +" in error["message"]


def test_agent_builder_empty_else_is_a_syntax_error(run_runner: RunRunner) -> None:
    source = (FIXTURES / "oakb_nested_if_else_agents.py").read_text()
    done = run_runner(source.replace("\t", "    "))
    error = done.error
    assert error["type"] == "SyntaxError"
    assert error["message"].startswith("IndentationError: expected an indented block after 'else'")
    assert f"line {error['details']['line']}" in error["message"]


def test_missing_package_names_the_pip_package(run_runner: RunRunner) -> None:
    done = run_runner(
        "from agents import Agent\n\nasync def run_workflow(workflow_input):\n    return 1\n",
        python_args=("-S",),
    )
    error = done.error
    assert (error["type"], error["stage"]) == ("ModuleNotFoundError", "import")
    assert error["message"] == "No module named 'agents'"
    assert "'agents' (pip name openai-agents)" in error["hint"]
    assert error["details"] == {"module": "agents", "pipName": "openai-agents"}


def test_wrong_import_inside_an_installed_package_names_the_missing_module(
    run_runner: RunRunner,
) -> None:
    """`from openai.agents import Agent`: openai is installed; openai.agents does not exist."""
    done = run_runner(
        "from openai.agents import Agent\n\nasync def run_workflow(workflow_input):\n    return 1\n"
    )
    error = done.error
    assert (error["type"], error["stage"]) == ("ModuleNotFoundError", "import")
    assert error["message"] == "No module named 'openai.agents'"
    assert "lacks the package" not in error["hint"]
    assert (
        "'openai' (pip name openai) is installed, but 'openai' has no module 'agents'"
        in (error["hint"])
    )
    assert "Did you mean 'from agents import Agent'" in error["hint"]
    assert error["details"] == {
        "module": "openai.agents",
        "installed": "openai",
        "pipName": "openai",
    }


def test_missing_guardrails_when_the_session_image_lacks_it(run_runner: RunRunner) -> None:
    done = run_runner(
        "from guardrails.runtime import run_guardrails\n\ndef run(payload):\n    return 1\n",
        preamble="import sys\nsys.modules['guardrails'] = None\n",
    )
    assert done.error["type"] == "ModuleNotFoundError"
    assert "openai-guardrails" in done.error["hint"]


def test_name_error_at_import(run_runner: RunRunner) -> None:
    done = run_runner(
        "import os\n\nvalue = undefined_name + 1\n\ndef run(payload):\n    return 1\n"
    )
    error = done.error
    assert (error["type"], error["stage"]) == ("NameError", "import")
    assert "undefined_name" in error["message"]
    assert 'workflow.py", line 3, in <module>' in error["traceback"]
    assert "module-level" in error["hint"]
    assert "importlib" not in error["traceback"]


def test_workflow_raising_reports_type_message_and_traceback(run_runner: RunRunner) -> None:
    done = run_runner(
        """
        class InventoryError(RuntimeError):
            pass

        def check(item):
            raise InventoryError(f"no stock for {item}")

        async def run(payload):
            return check(payload["item"])
        """,
        {"item": "tea"},
    )
    assert done.returncode == 1
    error = done.error
    assert (error["type"], error["stage"]) == ("InventoryError", "run")
    assert error["message"] == "no stock for tea"
    assert error["traceback"].splitlines()[-1] == "workflow.InventoryError: no stock for tea"
    assert ", in check" in error["traceback"]
    assert "asyncio" not in error["traceback"].splitlines()[1]
    assert done.output["entrypoint"] == "run"


def test_long_tracebacks_keep_their_last_lines(run_runner: RunRunner) -> None:
    done = run_runner(
        """
        def run(payload):
            error = None
            for step in range(80):
                try:
                    raise ValueError(f"step {step}") from error
                except ValueError as exc:
                    error = exc
            raise error
        """,
    )
    lines = done.error["traceback"].splitlines()
    assert len(lines) <= 51
    assert lines[0] == "...(traceback truncated)"
    assert lines[-1] == "ValueError: step 79"


def test_huge_tracebacks_are_bounded_in_size(run_runner: RunRunner) -> None:
    done = run_runner("def run(payload):\n    raise ValueError('x' * 50_000 + 'END')\n")
    error = done.error
    assert len(error["traceback"]) <= 8100
    assert error["traceback"].endswith("END")
    assert len(error["message"]) < 4100


def test_sys_exit_in_the_workflow_is_a_failure(run_runner: RunRunner) -> None:
    done = run_runner("import sys\n\ndef run(payload):\n    sys.exit(0)\n")
    assert done.returncode == 1
    assert done.error["type"] == "SystemExit"


def test_secret_environment_values_are_hidden_in_errors(run_runner: RunRunner) -> None:
    done = run_runner(
        "import os\n\ndef run(payload):\n    raise ValueError(os.environ['MY_API_KEY'])\n",
        env={"MY_API_KEY": "sk-test-very-secret"},
    )
    assert done.error["message"] == "***"
    assert "sk-test-very-secret" not in json.dumps(done.output)
    assert "sk-test-very-secret" not in done.stderr


def test_a_secret_containing_another_is_hidden_whole(run_runner: RunRunner) -> None:
    connection = "AccountName=acct;AccountKey=abcdef123456;EndpointSuffix=zz"
    done = run_runner(
        "import os\n\ndef run(payload):\n"
        "    raise ValueError(os.environ['STORAGE_CONNECTION_STRING'])\n",
        env={"MY_API_KEY": "abcdef123456", "STORAGE_CONNECTION_STRING": connection},
    )
    assert done.error["message"] == "***"
    assert "AccountName" not in json.dumps(done.output) and "AccountName" not in done.stderr


def test_sigterm_while_recording_a_failure_still_writes_output(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from runner import _run_template as template

    (tmp_path / "wf_sigterm_late.py").write_text("def run(payload):\n    raise KeyError('x')\n")
    real_classify = template.classify

    def classify_under_sigterm(exc: BaseException, stage: str) -> dict:
        os.kill(os.getpid(), signal.SIGTERM)  # the launcher's timeout, just as run() failed
        return real_classify(exc, stage)

    monkeypatch.setattr(template, "classify", classify_under_sigterm)
    monkeypatch.setattr(sys, "path", list(sys.path))
    monkeypatch.delitem(sys.modules, "wf_sigterm_late", raising=False)
    previous = signal.getsignal(signal.SIGTERM)
    config = {
        "data_dir": str(tmp_path),
        "workflow_file": "wf_sigterm_late.py",
        "input_file": "input.json",
        "output_file": "output.json",
    }
    try:
        assert template.main(config, "") == 1
    finally:
        signal.signal(signal.SIGTERM, previous)
        sys.modules.pop("wf_sigterm_late", None)
    error = json.loads((tmp_path / "output.json").read_text())["error"]
    assert (error["type"], error["stage"]) == ("KeyError", "run")


def test_a_stale_output_json_is_removed_first(run_runner: RunRunner, tmp_path: Path) -> None:
    (tmp_path / "output.json").write_text('{"status": "succeeded", "result": "stale"}')
    done = run_runner(None)
    assert done.error["type"] == "WorkflowNotFound"


def test_missing_api_key_at_import_with_a_real_export(run_runner: RunRunner) -> None:
    """The guardrails export builds AsyncOpenAI() at import: no key is a clear error."""
    pytest.importorskip("guardrails")
    done = run_runner(
        (FIXTURES / "oakb_guardrails_pii.py").read_text(),
        {"input_as_text": "hi"},
        drop_env=("OPENAI_API_KEY", "OPENAI_ADMIN_KEY"),
    )
    error = done.error
    assert (error["type"], error["stage"]) == ("MissingApiKey", "import")
    assert "OPENAI_API_KEY" in error["message"]
    assert "secretEnvironmentVariables" in error["hint"]


def test_sigterm_still_writes_a_terminated_output(tmp_path: Path) -> None:
    (tmp_path / "workflow.py").write_text(
        "import time\n\ndef run(payload):\n    print('started', flush=True)\n    time.sleep(30)\n"
    )
    (tmp_path / "run.py").write_text(render_run_py(data_dir=str(tmp_path)))
    proc = subprocess.Popen(
        [sys.executable, str(tmp_path / "run.py")], stdout=subprocess.PIPE, text=True
    )
    try:
        assert proc.stdout.readline().strip() == "started"
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=10) == 1
    finally:
        proc.kill()
        proc.wait()
        proc.stdout.close()
    error = json.loads((tmp_path / "output.json").read_text())["error"]
    assert (error["type"], error["stage"]) == ("Terminated", "run")


def test_output_is_written_atomically(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from runner import _run_template as template

    target = tmp_path / "output.json"
    replaced: list[tuple[str, str, dict]] = []
    real_replace = os.replace

    def spy(src: str, dst: str) -> None:
        assert not target.exists()
        replaced.append((src, dst, json.loads(Path(src).read_text())))
        real_replace(src, dst)

    monkeypatch.setattr(template.os, "replace", spy)
    template.write_json_atomic(str(target), {"status": "succeeded", "result": "\ud800 \U0001f600"})
    (src, dst, content) = replaced[0]
    assert Path(src).parent == tmp_path and dst == str(target)
    assert content["result"] == "\ud800 \U0001f600"
    assert json.loads(target.read_text())["status"] == "succeeded"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["output.json"]


def test_a_failed_replace_leaves_no_partial_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from runner import _run_template as template

    def broken(src: str, dst: str) -> None:
        raise OSError("disk gone")

    monkeypatch.setattr(template.os, "replace", broken)
    with pytest.raises(OSError):
        template.write_json_atomic(str(tmp_path / "output.json"), {"status": "failed"})
    assert list(tmp_path.iterdir()) == []


def test_the_hello_example_runs(tmp_path: Path) -> None:
    examples = Path(__file__).resolve().parents[2] / "examples"
    for name in ("workflow.py", "input.json"):
        shutil.copy(examples / "hello" / name, tmp_path / name)
    (tmp_path / "run.py").write_text(render_run_py(data_dir=str(tmp_path)))
    subprocess.run([sys.executable, str(tmp_path / "run.py")], check=True, timeout=60)
    output = json.loads((tmp_path / "output.json").read_text())
    assert output["result"] == {"greeting": "Hello, Ada!"}

    shutil.copy(examples / "failing" / "workflow.py", tmp_path / "workflow.py")
    started = time.monotonic()
    code = subprocess.run([sys.executable, str(tmp_path / "run.py")], timeout=60).returncode
    assert code == 1 and time.monotonic() - started < 30
    assert json.loads((tmp_path / "output.json").read_text())["error"]["type"] == "InventoryError"


def test_unreachable_model_endpoint_with_a_real_export(run_runner: RunRunner) -> None:
    """An Agent Builder export whose model endpoint refuses connections fails clearly."""
    pytest.importorskip("agents")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    done = run_runner(
        (FIXTURES / "ghidx_weather_function_tool.py").read_text(),
        {"input_as_text": "Weather in Paris?"},
        env={
            "OPENAI_API_KEY": "sk-test-unreachable",
            "OPENAI_BASE_URL": f"http://127.0.0.1:{port}/v1",
            "OPENAI_AGENTS_DISABLE_TRACING": "1",
        },
    )
    error = done.error
    assert (error["type"], error["stage"]) == ("ModelEndpointUnreachable", "run")
    assert f"http://127.0.0.1:{port}" in error["message"]
    assert "egress" in error["message"]
    assert "workflow.py" in error["traceback"]
    assert done.output["entrypoint"] == "run_workflow"


def test_a_workflow_that_breaks_stderr_still_gets_output(run_runner: RunRunner) -> None:
    done = run_runner(
        "import sys\n\ndef run(payload):\n    sys.stderr = None\n    raise KeyError('k')\n"
    )
    assert done.returncode == 1
    assert (done.error["type"], done.error["message"]) == ("KeyError", "'k'")
