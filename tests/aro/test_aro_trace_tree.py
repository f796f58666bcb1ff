"""The trace tree ``aro trace`` prints, and the progress line ``aro run`` shows."""

from __future__ import annotations

from aro.models import Progress
from aro.trace_tree import duration_seconds, render

SPANS = [
    {"type": "response", "name": "gpt-5", "id": "r1", "parentId": "a1", "traceId": "t",
     "startedAt": "2026-01-01T00:00:00.100+00:00", "endedAt": "2026-01-01T00:00:00.400+00:00",
     "data": {"usage": {"input": 23, "output": 58}}},
    {"type": "function", "name": "get_weather", "id": "f1", "parentId": "a1", "traceId": "t",
     "startedAt": "2026-01-01T00:00:00.500+00:00", "endedAt": "2026-01-01T00:00:00.510+00:00",
     "data": {}, "error": "boom"},
    {"type": "agent", "name": "Agent", "id": "a1", "parentId": None, "traceId": "t",
     "startedAt": "2026-01-01T00:00:00.000+00:00", "endedAt": "2026-01-01T00:00:01.000+00:00",
     "data": {}},
    {"type": "trace", "name": "Weather", "id": "t", "parentId": None, "traceId": "t",
     "startedAt": "2026-01-01T00:00:00.000+00:00", "endedAt": "2026-01-01T00:00:01.100+00:00",
     "data": {}},
    {"type": "progress", "name": "orphan", "id": "p1", "parentId": "gone", "traceId": None,
     "startedAt": "2026-01-01T00:00:02+00:00", "endedAt": "2026-01-01T00:00:02+00:00"},
]  # fmt: skip


def test_the_tree_nests_children_under_parents_in_start_order() -> None:
    lines = render(SPANS)
    names = [line.split()[1] for line in lines]
    assert names == ["Weather", "Agent", "gpt-5", "get_weather", "orphan"]
    depth = {line.split()[1]: len(line) - len(line.lstrip()) for line in lines}
    assert depth["Weather"] == 0 and depth["Agent"] == 2 and depth["gpt-5"] == 4
    assert depth["orphan"] == 0  # an unknown parent: shown at the top
    assert "23+58 tokens" in lines[2] and "0.30 s" in lines[2]
    assert lines[3].endswith("error")


def test_durations_need_both_times() -> None:
    assert duration_seconds({"startedAt": "2026-01-01T00:00:00Z"}) is None
    assert duration_seconds(SPANS[2]) == 1.0


def test_the_progress_line() -> None:
    progress = Progress.model_validate(
        {"steps": 4, "agent": "Weather agent", "tokens": {"input": 26, "output": 60},
         "last": {"type": "function", "name": "get_weather"}}
    )  # fmt: skip
    assert progress.describe() == "Weather agent → tool get_weather  (4 steps, 26+60 tokens)"
    assert Progress(steps=0).describe() == "-  (0 steps)"
