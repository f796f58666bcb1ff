"""The percentile every benchmark script reports, so they all count alike."""

from __future__ import annotations


def percentile(values: list[float], pct: float) -> float:
    """The nearest-rank ``pct``-th percentile (0-100) of ``values``."""
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(pct / 100 * (len(ordered) - 1))))
    return ordered[index]
