"""How ``aro run`` shows a waiting workflow on stderr: a spinner on a TTY, plain lines otherwise.

Every display has the same three calls: ``update(status)`` when the phase changes,
``sleep(seconds)`` between polls (the spinner animates while it sleeps) and ``close()``.
"""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Callable
from typing import Protocol, TextIO

from aro.models import WorkflowStatus

SPINNER_FRAMES = "⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏"
#: Seconds between spinner frames.
FRAME_INTERVAL = 0.1
CLEAR_LINE = "\r\x1b[K"


class Progress(Protocol):
    """A display of one waiting workflow."""

    def note(self, text: str) -> None:
        """Show a message on its own line."""

    def update(self, status: WorkflowStatus) -> None:
        """Show a status whose runtime status or phase changed."""

    def sleep(self, seconds: float) -> None:
        """Wait between polls."""

    def close(self) -> None:
        """Leave the terminal clean for what comes next."""


class QuietProgress:
    """Shows nothing (``--quiet``)."""

    def __init__(self, *, sleep: Callable[[float], None] = time.sleep) -> None:
        self._sleep = sleep

    def note(self, text: str) -> None:
        """Say nothing."""

    def update(self, status: WorkflowStatus) -> None:
        """Say nothing."""

    def sleep(self, seconds: float) -> None:
        """Just sleep."""
        self._sleep(seconds)

    def close(self) -> None:
        """Nothing to clean up."""


class LineProgress:
    """One plain line per phase change, for logs and pipes (stderr is not a TTY)."""

    def __init__(
        self,
        stream: TextIO,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._stream = stream
        self._clock = clock
        self._sleep = sleep
        self._started = clock()

    def note(self, text: str) -> None:
        """Print ``text`` on its own line."""
        print(text, file=self._stream, flush=True)

    def update(self, status: WorkflowStatus) -> None:
        """Print the new runtime status and phase (or the run's own progress) with the time."""
        elapsed = self._clock() - self._started
        if status.progress is not None:
            self.note(f"[{elapsed:6.1f} s] {status.progress.describe()}")
        else:
            self.note(f"[{elapsed:6.1f} s] {status.runtime_status}  phase: {status.phase or '-'}")

    def sleep(self, seconds: float) -> None:
        """Just sleep."""
        self._sleep(seconds)

    def close(self) -> None:
        """Lines need no cleaning up."""


class SpinnerProgress:
    """A single line redrawn in place: ``⠋ running (3.2 s)  phase: running``."""

    def __init__(
        self,
        stream: TextIO,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
        width: int | None = None,
    ) -> None:
        self._stream = stream
        self._clock = clock
        self._sleep = sleep
        self._started = clock()
        self._frame = 0
        self._status: WorkflowStatus | None = None
        self._drawn = False
        self._width = width or terminal_width(stream)

    def line(self) -> str:
        """The text of the current frame (without control characters)."""
        frame = SPINNER_FRAMES[self._frame % len(SPINNER_FRAMES)]
        elapsed = self._clock() - self._started
        if self._status is None:
            text = f"{frame} submitted ({elapsed:.1f} s)"
        else:
            runtime = self._status.runtime_status.lower()
            text = f"{frame} {runtime} ({elapsed:.1f} s)  phase: {self._status.phase or '-'}"
            if self._status.progress is not None:
                text = f"{frame} {runtime} ({elapsed:.1f} s)  {self._status.progress.describe()}"
        return text[: max(self._width - 1, 10)]

    def _draw(self) -> None:
        self._stream.write(CLEAR_LINE + self.line())
        self._stream.flush()
        self._drawn = True
        self._frame += 1

    def note(self, text: str) -> None:
        """Print ``text`` above the spinner line."""
        self._clear()
        print(text, file=self._stream, flush=True)
        if self._status is not None:
            self._draw()

    def update(self, status: WorkflowStatus) -> None:
        """Redraw with the new status."""
        self._status = status
        self._draw()

    def sleep(self, seconds: float) -> None:
        """Sleep in short slices, animating the spinner."""
        deadline = self._clock() + seconds
        while (left := deadline - self._clock()) > 0:
            self._draw()
            self._sleep(min(FRAME_INTERVAL, left))

    def _clear(self) -> None:
        if self._drawn:
            self._stream.write(CLEAR_LINE)
            self._stream.flush()
            self._drawn = False

    def close(self) -> None:
        """Erase the spinner line."""
        self._clear()


def terminal_width(stream: TextIO) -> int:
    """Columns of the terminal ``stream`` writes to.

    Not ``shutil.get_terminal_size()`` alone: it asks stdout, which is a pipe in
    ``aro run ... | jq`` while the spinner is on stderr; a line wider than the terminal
    wraps and ``\\r`` can no longer redraw it in place.
    """
    try:
        columns = os.get_terminal_size(stream.fileno()).columns
    except (AttributeError, OSError, ValueError):  # no descriptor, or not a terminal
        columns = 0
    return columns or shutil.get_terminal_size((80, 24)).columns


def make_progress(
    stream: TextIO,
    *,
    quiet: bool,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> Progress:
    """The display for ``stream``: nothing, a spinner (TTY) or plain lines."""
    if quiet:
        return QuietProgress(sleep=sleep)
    isatty = getattr(stream, "isatty", None)
    if isatty is not None and isatty():
        return SpinnerProgress(stream, clock=clock, sleep=sleep)
    return LineProgress(stream, clock=clock, sleep=sleep)
