"""Build the execution launcher: the small code string the session runs for each job.

The launcher runs the job's command as a subprocess (an argv list split here, at build
time; never a shell), with the job's environment, a timeout that kills the whole process
group, and bounded, redacted stdout/stderr tails. It prints one line,
``__ARO_LAUNCHER__ {json}``, that :func:`runner.summary.parse_launcher_summary` reads back.
"""

from __future__ import annotations

import functools
import math
import shlex
from collections.abc import Iterable, Mapping
from pathlib import Path

from runner.errors import LauncherConfigError

TEMPLATE_PATH = Path(__file__).with_name("_launch_template.py")
LAUNCHER_MARKER = "__ARO_LAUNCHER__"
#: The service truncates an execution's stdout at 4096 characters; stay well below.
MAX_SUMMARY_LINE = 3800
DEFAULT_TAIL_CHARS = 2000
DEFAULT_WORKDIR = "/mnt/data"
#: Seconds between SIGTERM (run.py then writes a "Terminated" output.json) and SIGKILL.
DEFAULT_KILL_GRACE_SECONDS = 2.0


@functools.lru_cache(maxsize=1)
def _template() -> str:
    lines = TEMPLATE_PATH.read_text(encoding="utf-8").splitlines()
    return "\n".join(line for line in lines if not line.lstrip().startswith("#"))


def split_command(command: str) -> list[str]:
    """Split a command line the POSIX shell way, without ever running a shell."""
    try:
        argv = shlex.split(command)
    except ValueError as exc:
        raise LauncherConfigError(f"command cannot be split: {exc}") from None
    if not argv:
        raise LauncherConfigError("command is empty")
    if any("\x00" in arg for arg in argv):
        raise LauncherConfigError("command must not contain NUL characters")
    return argv


def build_launcher_code(
    *,
    command: str,
    environment: Mapping[str, str],
    timeout_seconds: float,
    tail_chars: int = DEFAULT_TAIL_CHARS,
    workdir: str = DEFAULT_WORKDIR,
    redact: Iterable[str] = (),
    kill_grace_seconds: float = DEFAULT_KILL_GRACE_SECONDS,
) -> str:
    """Return Python source (stdlib only) that runs ``command`` and prints one summary line.

    ``environment`` is added to the session's own environment; its values (secrets
    included) travel in the code but never appear in the summary when listed in
    ``redact``. ``python``/``python3`` as argv[0] means the session's interpreter.
    """
    if not isinstance(timeout_seconds, int | float) or not math.isfinite(timeout_seconds):
        raise LauncherConfigError("timeout_seconds must be a finite number")
    if timeout_seconds <= 0:
        raise LauncherConfigError("timeout_seconds must be positive")
    if kill_grace_seconds < 0:
        raise LauncherConfigError("kill_grace_seconds must not be negative")
    if tail_chars < 0:
        raise LauncherConfigError("tail_chars must not be negative")
    env = dict(environment)
    for name, value in env.items():
        if not isinstance(name, str) or not name or "=" in name or "\x00" in name:
            raise LauncherConfigError(f"invalid environment variable name {name!r}")
        if not isinstance(value, str) or "\x00" in value:
            raise LauncherConfigError(f"environment variable {name} must be a string without NUL")
    spec = {
        "argv": split_command(command),
        "env": env,
        "workdir": workdir,
        "timeout": float(timeout_seconds),
        "grace": float(kill_grace_seconds),
        "tail": min(int(tail_chars), MAX_SUMMARY_LINE),
        "redact": sorted({s for s in redact if isinstance(s, str) and s}, key=len, reverse=True),
        "max_line": MAX_SUMMARY_LINE,
    }
    return f"{_template()}\n_aro_launch({spec!r})\n"
