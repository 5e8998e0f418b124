"""A clock for retries that does not really wait: it records each pause and moves on."""

from __future__ import annotations

WALL = 1_795_000_000.0  # the calendar time at the clock's zero (for Retry-After dates)


class FakeClock:
    """Satisfies :class:`mailpage_cli.retry.Clock`; ``sleeps`` lists the waits asked for."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []

    def monotonic(self) -> float:
        return self.now

    def time(self) -> float:
        return WALL + self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds

    def advance(self, seconds: float) -> None:
        """Time passes without a retry's pause (a try that took ``seconds``)."""
        self.now += seconds
