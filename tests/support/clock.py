"""A fake clock for code that takes ``clock`` and ``sleep`` callables."""

from __future__ import annotations


class FakeClock:
    """A monotonic clock advanced by :meth:`sleep`, which records every delay."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds

    async def asleep(self, seconds: float) -> None:
        self.sleep(seconds)
