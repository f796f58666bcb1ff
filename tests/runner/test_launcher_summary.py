"""parse_launcher_summary reads the last marker line of an execution's stdout."""

from __future__ import annotations

import json

from runner import LAUNCHER_MARKER, LauncherSummary, parse_launcher_summary


def _line(**fields: object) -> str:
    return f"{LAUNCHER_MARKER} {json.dumps(fields)}"


def test_the_last_marker_line_wins() -> None:
    stdout = "\n".join(
        [
            _line(
                exitCode=1, timedOut=False, durationMs=1, stdoutTail="", stderrTail="", error=None
            ),
            "noise",
            _line(
                exitCode=0, timedOut=True, durationMs=7, stdoutTail="o", stderrTail="e", error="x"
            ),
            "",
        ]
    )
    assert parse_launcher_summary(stdout) == LauncherSummary(
        exit_code=0, timed_out=True, duration_ms=7, stdout_tail="o", stderr_tail="e", error="x"
    )


def test_absent_or_broken_summaries_are_none() -> None:
    assert parse_launcher_summary("") is None
    assert parse_launcher_summary(None) is None
    assert parse_launcher_summary("hello\nworld") is None
    assert parse_launcher_summary(f"{LAUNCHER_MARKER} {{not json") is None
    assert parse_launcher_summary(f"{LAUNCHER_MARKER} [1, 2]") is None
    assert parse_launcher_summary(f"{LAUNCHER_MARKER}X {{}}") is None


def test_camel_case_round_trip_and_tolerance() -> None:
    summary = parse_launcher_summary("\r\n" + _line(exitCode=None, durationMs=3, extra=1) + "\r\n")
    assert summary is not None
    assert summary.exit_code is None and summary.duration_ms == 3 and summary.stdout_tail == ""
    dumped = summary.model_dump(by_alias=True)
    assert set(dumped) == {
        "exitCode",
        "timedOut",
        "durationMs",
        "stdoutTail",
        "stderrTail",
        "error",
    }
