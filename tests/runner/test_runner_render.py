"""render_run_py is pure: it fills two template lines and always yields valid Python."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest

from runner import RenderError, render_run_py
from runner.render import TEMPLATE_PATH

TRICKY = [
    "",
    "import os\nos.environ['A'] = \"b\"\n",
    "s = '''triple''' + \"\"\"quotes\"\"\" + '\\\\' + '\\n'\n",
    "# é ü 😀 \u2028 \r\n x = 1\n",
    "x = '\ud800'  # a lone surrogate\n",
    "{placeholder} %s {{}}\n",
]


def _literal(source: str, name: str) -> object:
    for node in ast.parse(source).body:
        if isinstance(node, ast.Assign) and node.targets[0].id == name:  # type: ignore[attr-defined]
            return ast.literal_eval(node.value)
    raise AssertionError(f"{name} not found")


def test_default_render_compiles_and_keeps_template_line_numbers() -> None:
    source = render_run_py()
    compile(source, "run.py", "exec")
    assert len(source.splitlines()) == len(TEMPLATE_PATH.read_text().splitlines())
    assert _literal(source, "CONFIG") == {
        "data_dir": "/mnt/data",
        "workflow_file": "workflow.py",
        "input_file": "input.json",
        "output_file": "output.json",
        "trace_file": "trace.jsonl",
        "progress_file": "progress.json",
        "max_trace_bytes": 256 * 1024,
    }
    assert _literal(source, "PREAMBLE") == ""
    assert "from __future__" not in source


@pytest.mark.parametrize("preamble", TRICKY)
def test_any_preamble_round_trips_exactly(preamble: str) -> None:
    source = render_run_py(preamble=preamble)
    compile(source, "run.py", "exec")
    assert _literal(source, "PREAMBLE") == preamble
    source.encode("utf-8")


def test_preamble_text_sits_above_the_runner_code() -> None:
    lines = render_run_py(preamble="MARK = 1\n").splitlines()
    preamble_line = next(i for i, line in enumerate(lines) if "MARK = 1" in line)
    first_import = next(i for i, line in enumerate(lines) if line.startswith("import "))
    assert preamble_line < first_import


def test_paths_are_rendered_verbatim() -> None:
    source = render_run_py(
        data_dir="/tmp/dir with 'quotes' and spaces",
        workflow_file="flow.py",
        input_file="in.json",
        output_file="out.json",
    )
    assert _literal(source, "CONFIG")["data_dir"] == "/tmp/dir with 'quotes' and spaces"
    assert _literal(source, "CONFIG")["output_file"] == "out.json"


def test_render_is_pure() -> None:
    assert render_run_py(preamble="x = 1") == render_run_py(preamble="x = 1")


@pytest.mark.parametrize(
    "kwargs",
    [{"data_dir": ""}, {"workflow_file": "a\x00b"}, {"output_file": 3}, {"preamble": b"x"}],
)
def test_bad_arguments_are_rejected(kwargs: dict) -> None:
    with pytest.raises(RenderError):
        render_run_py(**kwargs)


def test_other_file_names_are_used(tmp_path: Path) -> None:
    (tmp_path / "flow.py").write_text("def run(payload):\n    return payload['v']\n")
    (tmp_path / "in.json").write_text(json.dumps({"v": "custom"}))
    run_py = tmp_path / "runner.py"
    run_py.write_text(
        render_run_py(
            data_dir=str(tmp_path),
            workflow_file="flow.py",
            input_file="in.json",
            output_file="out.json",
        )
    )
    subprocess.run([sys.executable, str(run_py)], check=True, timeout=60)
    assert json.loads((tmp_path / "out.json").read_text())["result"] == "custom"
