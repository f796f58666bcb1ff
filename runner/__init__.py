"""Code that runs inside the Dynamic Session: run.py (rendered) and the execution launcher."""

from runner.errors import LauncherConfigError, RenderError, RunnerConfigError
from runner.launcher import LAUNCHER_MARKER, MAX_SUMMARY_LINE, build_launcher_code, split_command
from runner.render import render_run_py
from runner.summary import LauncherSummary, parse_launcher_summary

__all__ = [
    "LAUNCHER_MARKER",
    "MAX_SUMMARY_LINE",
    "LauncherConfigError",
    "LauncherSummary",
    "RenderError",
    "RunnerConfigError",
    "build_launcher_code",
    "parse_launcher_summary",
    "render_run_py",
    "split_command",
]
