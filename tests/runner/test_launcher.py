"""The launcher code runs a command for real: exit codes, env, timeouts, tails, redaction."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from runner import (
    LAUNCHER_MARKER,
    MAX_SUMMARY_LINE,
    LauncherConfigError,
    LauncherSummary,
    build_launcher_code,
    parse_launcher_summary,
    render_run_py,
)


def launch(code: str, cwd: Path, timeout: float = 60) -> tuple[str, LauncherSummary]:
    """Run launcher code the way a session does: as a Python program, reading its stdout."""
    compile(code, "<launcher>", "exec")
    proc = subprocess.run(
        [sys.executable, "-c", code], cwd=cwd, capture_output=True, text=True, timeout=timeout
    )
    assert proc.returncode == 0, proc.stderr
    summary = parse_launcher_summary(proc.stdout)
    assert summary is not None, proc.stdout
    return proc.stdout, summary


def script(tmp_path: Path, body: str, name: str = "job.py") -> Path:
    path = tmp_path / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(body)
    return path


def test_exit_code_env_and_one_summary_line(tmp_path: Path) -> None:
    job = script(
        tmp_path,
        "import os, sys\nprint(os.environ['ARO_GREETING'], os.getcwd())\n"
        "print('oops', file=sys.stderr)\nsys.exit(3)\n",
    )
    code = build_launcher_code(
        command=f"python {job}",
        environment={"ARO_GREETING": "hello"},
        timeout_seconds=30,
        workdir=str(tmp_path),
    )
    stdout, summary = launch(code, cwd=Path("/"))
    assert stdout.count("\n") == 1 and stdout.startswith(LAUNCHER_MARKER + " ")
    assert summary.exit_code == 3
    assert summary.timed_out is False
    assert summary.stdout_tail == f"hello {tmp_path}\n"
    assert summary.stderr_tail == "oops\n"
    assert summary.error is None
    assert summary.duration_ms >= 0


def test_python_means_the_launchers_interpreter(tmp_path: Path) -> None:
    job = script(tmp_path, "import sys\nprint(sys.executable)\n")
    for word in ("python", "python3"):
        code = build_launcher_code(
            command=f"{word} {job}", environment={}, timeout_seconds=30, workdir=str(tmp_path)
        )
        _, summary = launch(code, tmp_path)
        assert summary.stdout_tail.strip() == sys.executable


def test_argv_quoting_and_paths_with_spaces(tmp_path: Path) -> None:
    job = script(
        tmp_path / "dir with spaces", "import json, sys\nprint(json.dumps(sys.argv[1:]))\n"
    )
    code = build_launcher_code(
        command=f"python '{job}' \"two words\" 'it'\"'\"'s' $HOME ';' '&&' rm",
        environment={},
        timeout_seconds=30,
        workdir=str(tmp_path),
    )
    _, summary = launch(code, tmp_path)
    assert summary.exit_code == 0, summary.stderr_tail
    assert json.loads(summary.stdout_tail) == ["two words", "it's", "$HOME", ";", "&&", "rm"]


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:
        state = Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0]
    except OSError:
        return False
    return state != "Z"


def test_timeout_kills_the_whole_process_tree(tmp_path: Path) -> None:
    pid_file = tmp_path / "grandchild.pid"
    job = script(
        tmp_path,
        "import subprocess, sys, time\n"
        "child = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)'])\n"
        f"open({str(pid_file)!r}, 'w').write(str(child.pid))\n"
        "print('spawned', flush=True)\n"
        "time.sleep(60)\n",
    )
    code = build_launcher_code(
        command=f"python {job}",
        environment={},
        timeout_seconds=1.5,
        workdir=str(tmp_path),
        kill_grace_seconds=0.5,
    )
    started = time.monotonic()
    _, summary = launch(code, tmp_path)
    assert time.monotonic() - started < 15
    assert summary.timed_out is True
    assert summary.exit_code is not None and summary.exit_code < 0
    assert "timed out after 1.5 s" in (summary.error or "")
    assert summary.stdout_tail == "spawned\n"
    grandchild = int(pid_file.read_text())
    deadline = time.monotonic() + 5
    while _alive(grandchild) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _alive(grandchild)


def test_background_children_do_not_hang_a_finished_command(tmp_path: Path) -> None:
    job = script(
        tmp_path,
        "import subprocess, sys\n"
        "subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)'])\n"
        "print('done')\n",
    )
    code = build_launcher_code(
        command=f"python {job}", environment={}, timeout_seconds=30, workdir=str(tmp_path)
    )
    started = time.monotonic()
    _, summary = launch(code, tmp_path)
    assert time.monotonic() - started < 10
    assert (summary.exit_code, summary.stdout_tail) == (0, "done\n")


def test_a_timeout_lets_run_py_record_the_termination(tmp_path: Path) -> None:
    (tmp_path / "workflow.py").write_text("import time\n\ndef run(payload):\n    time.sleep(60)\n")
    (tmp_path / "run.py").write_text(render_run_py(data_dir=str(tmp_path)))
    code = build_launcher_code(
        command=f"python {tmp_path / 'run.py'}",
        environment={},
        timeout_seconds=1.5,
        workdir=str(tmp_path),
    )
    _, summary = launch(code, tmp_path)
    assert summary.timed_out and summary.exit_code == 1
    assert "Terminated" in summary.stderr_tail
    error = json.loads((tmp_path / "output.json").read_text())["error"]
    assert error["type"] == "Terminated"


def test_five_megabytes_of_output_are_tail_bounded(tmp_path: Path) -> None:
    job = script(
        tmp_path,
        "import sys\n"
        "for i in range(50_000):\n"
        "    sys.stdout.write(f'{i:09d} ' + 'x' * 90 + '\\n')\n"
        "    sys.stderr.write('e' * 100 + '\\n')\n"
        "print('THE END')\n",
    )
    code = build_launcher_code(
        command=f"python {job}", environment={}, timeout_seconds=60, workdir=str(tmp_path)
    )
    stdout, summary = launch(code, tmp_path)
    assert len(stdout.rstrip("\n")) <= MAX_SUMMARY_LINE
    assert summary.exit_code == 0
    assert summary.stdout_tail.startswith("...[truncated]")
    assert summary.stdout_tail.endswith("000049999 " + "x" * 90 + "\nTHE END\n")
    assert summary.stderr_tail.startswith("...[truncated]")
    assert summary.stderr_tail.endswith("e" * 100 + "\n")


def test_escaping_heavy_output_still_fits_one_line(tmp_path: Path) -> None:
    job = script(tmp_path, "import sys\nsys.stdout.write('\\x01\\u00e9\"' * 5000)\n")
    code = build_launcher_code(
        command=f"python {job}", environment={}, timeout_seconds=30, workdir=str(tmp_path)
    )
    stdout, summary = launch(code, tmp_path)
    assert len(stdout.rstrip("\n")) <= MAX_SUMMARY_LINE
    assert summary.stdout_tail.endswith('\x01\u00e9"')


def test_secrets_are_redacted_from_both_tails(tmp_path: Path) -> None:
    secret = "sk-live-0123456789abcdef"
    job = script(
        tmp_path,
        "import os, sys\n"
        "key = os.environ['OPENAI_API_KEY']\n"
        "sys.stdout.write('a' * 10_000 + key[5:] + 'b' * 7990 + '\\n')\n"  # split by the cut
        "print('using', key)\n"
        "print('stderr has', key, file=sys.stderr)\n",
    )
    code = build_launcher_code(
        command=f"python {job}",
        environment={"OPENAI_API_KEY": secret},
        timeout_seconds=30,
        workdir=str(tmp_path),
        redact=[secret, ""],
    )
    stdout, summary = launch(code, tmp_path)
    assert secret in code
    assert secret not in stdout and secret[5:15] not in stdout
    assert summary.stdout_tail.endswith("using ***\n")
    assert summary.stderr_tail == "stderr has ***\n"


def test_a_missing_program_is_reported_not_raised(tmp_path: Path) -> None:
    code = build_launcher_code(
        command="no-such-program-aro --flag",
        environment={},
        timeout_seconds=5,
        workdir=str(tmp_path),
    )
    _, summary = launch(code, tmp_path)
    assert summary.exit_code is None
    assert "could not start 'no-such-program-aro'" in (summary.error or "")


def test_the_launcher_leaves_no_names_but_one_in_a_shared_namespace(tmp_path: Path) -> None:
    code = build_launcher_code(
        command="python -c pass", environment={}, timeout_seconds=5, workdir=str(tmp_path)
    )
    namespace: dict = {}
    exec(compile(code, "<launcher>", "exec"), namespace)
    assert [name for name in namespace if not name.startswith("__")] == ["_aro_launch"]
    assert "__warningregistry__" not in namespace


def test_generated_code_is_small() -> None:
    code = build_launcher_code(command="python /mnt/data/run.py", environment={}, timeout_seconds=5)
    assert len(code) < 5000
    assert "#" not in code.splitlines()[0]


@pytest.mark.parametrize(
    "kwargs",
    [
        {"command": ""},
        {"command": "python 'unclosed"},
        {"command": "python run.py\x00x"},  # Popen would raise and show the spec's secrets
        {"timeout_seconds": 0},
        {"timeout_seconds": float("inf")},
        {"environment": {"A=B": "x"}},
        {"environment": {"A": 1}},
        {"tail_chars": -1},
    ],
)
def test_bad_arguments_are_rejected(kwargs: dict) -> None:
    arguments = {"command": "python run.py", "environment": {}, "timeout_seconds": 5, **kwargs}
    with pytest.raises(LauncherConfigError):
        build_launcher_code(**arguments)


def test_launcher_runs_run_py_end_to_end(tmp_path: Path) -> None:
    (tmp_path / "workflow.py").write_text(
        "import os\n\ndef run(payload):\n    print('working')\n"
        "    return {'hi': payload['name'], 'env': os.environ['ARO_E2E']}\n"
    )
    (tmp_path / "input.json").write_text('{"name": "Ada"}')
    (tmp_path / "run.py").write_text(render_run_py(data_dir=str(tmp_path)))
    code = build_launcher_code(
        command="python run.py",
        environment={"ARO_E2E": "yes"},
        timeout_seconds=30,
        workdir=str(tmp_path),
    )
    _, summary = launch(code, tmp_path)
    assert (summary.exit_code, summary.stdout_tail, summary.stderr_tail) == (0, "working\n", "")
    output = json.loads((tmp_path / "output.json").read_text())
    assert output["result"] == {"hi": "Ada", "env": "yes"}


def test_a_missing_workdir_is_reported(tmp_path: Path) -> None:
    code = build_launcher_code(
        command="python run.py",
        environment={},
        timeout_seconds=5,
        workdir=str(tmp_path / "absent"),
    )
    _, summary = launch(code, tmp_path)
    assert summary.exit_code is None
    assert "does not exist" in (summary.error or "")
