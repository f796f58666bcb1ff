"""Fixtures that render run.py into a temporary data dir and run it for real."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from runner import render_run_py

PYTHON = sys.executable


@dataclass
class RunnerRun:
    """One finished run.py process and the output.json it left behind."""

    returncode: int
    stdout: str
    stderr: str
    output: dict | None
    data_dir: Path

    @property
    def error(self) -> dict:
        assert self.output is not None, self.stderr
        return self.output["error"]


RunRunner = Callable[..., RunnerRun]


@pytest.fixture
def run_runner(tmp_path: Path) -> RunRunner:
    """Write workflow.py (and input.json), render run.py into tmp_path and run it."""

    def run(
        workflow: str | None,
        payload: object = None,
        *,
        raw_input: str | None = None,
        preamble: str | None = None,
        env: dict[str, str] | None = None,
        python_args: tuple[str, ...] = (),
        drop_env: tuple[str, ...] = (),
        timeout: float = 60,
    ) -> RunnerRun:
        if workflow is not None:
            (tmp_path / "workflow.py").write_text(textwrap.dedent(workflow), encoding="utf-8")
        if raw_input is not None:
            (tmp_path / "input.json").write_text(raw_input, encoding="utf-8")
        elif payload is not None:
            (tmp_path / "input.json").write_text(json.dumps(payload), encoding="utf-8")
        run_py = tmp_path / "run.py"
        run_py.write_text(render_run_py(preamble=preamble, data_dir=str(tmp_path)), "utf-8")
        child_env = {k: v for k, v in os.environ.items() if k not in drop_env}
        child_env.update(env or {})
        proc = subprocess.run(
            [PYTHON, *python_args, str(run_py)],
            cwd=tmp_path,
            env=child_env,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        output_path = tmp_path / "output.json"
        output = json.loads(output_path.read_text("utf-8")) if output_path.exists() else None
        return RunnerRun(proc.returncode, proc.stdout, proc.stderr, output, tmp_path)

    return run
