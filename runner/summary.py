"""Read the launcher's one-line summary back out of an execution's stdout."""

from __future__ import annotations

import json

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from runner.launcher import LAUNCHER_MARKER


class LauncherSummary(BaseModel):
    """What the launcher saw of the command: exit, timeout, time and output tails."""

    model_config = ConfigDict(populate_by_name=True, extra="ignore", frozen=True)

    exit_code: int | None = Field(None, alias="exitCode")
    timed_out: bool = Field(False, alias="timedOut")
    duration_ms: int = Field(0, alias="durationMs")
    stdout_tail: str = Field("", alias="stdoutTail")
    stderr_tail: str = Field("", alias="stderrTail")
    error: str | None = None


def parse_launcher_summary(stdout: str | None) -> LauncherSummary | None:
    """The summary from the last marker line of ``stdout``; None if absent or unreadable."""
    if not stdout:
        return None
    prefix = LAUNCHER_MARKER + " "
    for line in reversed(stdout.splitlines()):
        line = line.strip()
        if not line.startswith(prefix):
            continue
        try:
            return LauncherSummary.model_validate(json.loads(line[len(prefix) :]))
        except (ValueError, ValidationError):
            return None
    return None
