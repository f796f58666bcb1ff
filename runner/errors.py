"""Errors raised while building run.py or the launcher (never inside the sandbox).

RunnerConfigError        base; a ValueError, so callers may treat it as bad input
├── RenderError          an argument that cannot be rendered into run.py
└── LauncherConfigError  an argument that cannot be turned into launcher code
"""


class RunnerConfigError(ValueError):
    """An argument that cannot be turned into sandbox code."""


class RenderError(RunnerConfigError):
    """An argument that cannot be rendered into run.py."""


class LauncherConfigError(RunnerConfigError):
    """An argument that cannot be turned into launcher code."""
