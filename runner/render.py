"""Render run.py, the in-sandbox runner, from ``_run_template.py``.

The template is a real Python module. Rendering replaces exactly two marked lines with
Python literals made by ``repr`` (always one line, always valid Python, exact for any
string including quotes, backslashes, non-BMP characters and lone surrogates), so the
rendered file has the template's line numbers and nothing is ever formatted into code.
"""

from __future__ import annotations

import functools
from pathlib import Path

from runner.errors import RenderError

TEMPLATE_PATH = Path(__file__).with_name("_run_template.py")
PREAMBLE_LINE = 'PREAMBLE = ""  # @aro:preamble'
CONFIG_LINE = "CONFIG = {}  # @aro:config"

DEFAULT_DATA_DIR = "/mnt/data"
DEFAULT_WORKFLOW_FILE = "workflow.py"
DEFAULT_INPUT_FILE = "input.json"
DEFAULT_OUTPUT_FILE = "output.json"
DEFAULT_TRACE_FILE = "trace.jsonl"
DEFAULT_PROGRESS_FILE = "progress.json"
DEFAULT_MAX_TRACE_BYTES = 256 * 1024


@functools.lru_cache(maxsize=1)
def _template() -> str:
    return TEMPLATE_PATH.read_text(encoding="utf-8")


def render_run_py(
    *,
    preamble: str | None = None,
    data_dir: str = DEFAULT_DATA_DIR,
    workflow_file: str = DEFAULT_WORKFLOW_FILE,
    input_file: str = DEFAULT_INPUT_FILE,
    output_file: str = DEFAULT_OUTPUT_FILE,
    trace_file: str = DEFAULT_TRACE_FILE,
    progress_file: str = DEFAULT_PROGRESS_FILE,
    max_trace_bytes: int = DEFAULT_MAX_TRACE_BYTES,
) -> str:
    """Return run.py's source: the template with the preamble and the paths filled in.

    ``preamble`` is the request's ``runnerPreamble``; run.py executes it first, inside its
    error guard, as the top-level code of a fresh ``__main__`` module (file name
    ``<runnerPreamble>`` in tracebacks). The file names are relative to ``data_dir``.
    run.py writes the agent trace (at most ``max_trace_bytes``) to ``trace_file`` and a
    small progress view to ``progress_file`` (docs/runner.md, *The trace*).
    """
    config: dict[str, object] = {
        "data_dir": data_dir,
        "workflow_file": workflow_file,
        "input_file": input_file,
        "output_file": output_file,
        "trace_file": trace_file,
        "progress_file": progress_file,
    }
    for name, value in config.items():
        if not isinstance(value, str) or not value or "\x00" in value:
            raise RenderError(f"{name} must be a non-empty string without NUL characters")
    if isinstance(max_trace_bytes, bool) or not isinstance(max_trace_bytes, int):
        raise RenderError("max_trace_bytes must be an integer")
    if max_trace_bytes <= 0:
        raise RenderError("max_trace_bytes must be positive")
    config["max_trace_bytes"] = max_trace_bytes
    if preamble is not None and not isinstance(preamble, str):
        raise RenderError("preamble must be a string or None")
    source = _template()
    source = _replace_line(source, PREAMBLE_LINE, f"PREAMBLE = {preamble or ''!r}")
    return _replace_line(source, CONFIG_LINE, f"CONFIG = {config!r}")


def _replace_line(source: str, prefix: str, replacement: str) -> str:
    lines = source.split("\n")
    matches = [i for i, line in enumerate(lines) if line.startswith(prefix)]
    if len(matches) != 1:
        raise RenderError(f"the run.py template must contain exactly one line {prefix!r}")
    lines[matches[0]] = replacement
    return "\n".join(lines)
