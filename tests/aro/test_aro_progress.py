"""Progress displays: spinner on a TTY, plain lines otherwise, nothing when quiet."""

from __future__ import annotations

import io
import os
import shutil

import pytest
from aro_support import FakeClock

from aro.models import WorkflowStatus
from aro.progress import (
    CLEAR_LINE,
    LineProgress,
    QuietProgress,
    SpinnerProgress,
    make_progress,
    terminal_width,
)


class TtyBuffer(io.StringIO):
    def isatty(self) -> bool:
        return True


def running(phase: str) -> WorkflowStatus:
    return WorkflowStatus(instance_id="i", runtime_status="Running", phase=phase)


def test_spinner_line_shows_status_elapsed_and_phase() -> None:
    clock = FakeClock()
    stream = TtyBuffer()
    spinner = SpinnerProgress(stream, clock=clock, sleep=clock.sleep, width=120)
    clock.now += 3.2
    spinner.update(running("running"))
    assert spinner.line().endswith("running (3.2 s)  phase: running")
    assert stream.getvalue() == CLEAR_LINE + "⠋ running (3.2 s)  phase: running"


def test_spinner_animates_while_sleeping_and_clears_at_close() -> None:
    clock = FakeClock()
    stream = TtyBuffer()
    spinner = SpinnerProgress(stream, clock=clock, sleep=clock.sleep, width=120)
    spinner.update(running("uploading"))
    spinner.sleep(0.35)
    assert sum(clock.sleeps) == pytest.approx(0.35)
    assert len(clock.sleeps) == 4  # 0.1 s frames
    frames = [chunk for chunk in stream.getvalue().split(CLEAR_LINE) if chunk]
    assert [f[0] for f in frames] == list("⠋⠙⠹⠸⠼")
    spinner.close()
    assert stream.getvalue().endswith(CLEAR_LINE)


def test_spinner_truncates_to_terminal_width() -> None:
    spinner = SpinnerProgress(TtyBuffer(), clock=FakeClock(), width=20)
    spinner.update(running("a-very-long-phase-name-indeed"))
    assert len(spinner.line()) == 19


def test_spinner_width_is_the_width_of_its_own_terminal_not_stdouts(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    class Stderr(TtyBuffer):
        def fileno(self) -> int:
            return 2

    def get_terminal_size(fd: int) -> os.terminal_size:
        if fd != 2:
            raise OSError("not a terminal")  # stdout is piped, e.g. into jq
        return os.terminal_size((40, 24))

    monkeypatch.setattr(os, "get_terminal_size", get_terminal_size)
    monkeypatch.setattr(shutil, "get_terminal_size", lambda fallback: os.terminal_size(fallback))
    spinner = SpinnerProgress(Stderr(), clock=FakeClock())
    spinner.update(running("a-phase-name-long-enough-to-wrap-a-forty-column-terminal"))
    assert len(spinner.line()) == 39
    assert terminal_width(io.StringIO()) == 80  # no descriptor: the fallback


def test_line_progress_prints_one_line_per_update() -> None:
    clock = FakeClock()
    stream = io.StringIO()
    lines = LineProgress(stream, clock=clock, sleep=clock.sleep)
    lines.note("submitted i")
    lines.update(running("uploading"))
    lines.sleep(1.5)
    lines.update(WorkflowStatus(instance_id="i", runtime_status="Completed", phase="completed"))
    assert stream.getvalue().splitlines() == [
        "submitted i",
        "[   0.0 s] Running  phase: uploading",
        "[   1.5 s] Completed  phase: completed",
    ]


def test_make_progress_picks_by_tty_and_quiet() -> None:
    assert isinstance(make_progress(TtyBuffer(), quiet=False), SpinnerProgress)
    assert isinstance(make_progress(io.StringIO(), quiet=False), LineProgress)
    assert isinstance(make_progress(TtyBuffer(), quiet=True), QuietProgress)
