"""The adaptive poll schedule: short first waits, growing to the configured interval."""

from __future__ import annotations

from orchestrator.models import RunConfig


def next_delay(previous: float | None, config: RunConfig) -> float:
    """Seconds to wait before the next poll: ``initial``, then times ``factor``, capped."""
    if previous is None:
        return min(config.initial_poll_seconds, config.max_poll_seconds)
    return min(previous * config.poll_backoff_factor, config.max_poll_seconds)
