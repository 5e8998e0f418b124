"""When to try a network call again, and the clock the pauses are taken on.

Both edges (Confluence over HTTP, SMTP) retry transient failures with the same policy: a
:class:`Backoff` that doubles its wait after each failed try, with jitter, gives up after
``attempts`` tries or when the next wait would end past ``deadline``, and honours a server's
``Retry-After`` within that deadline. The clock is passed in, so tests wait on a fake one.
"""

from __future__ import annotations

import math
import random
import time
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from typing import Protocol


class Clock(Protocol):
    """Time as the retries see it."""

    def monotonic(self) -> float:
        """Seconds on a clock that never goes back (deadlines are measured on it)."""

    def time(self) -> float:
        """Seconds since the epoch (a ``Retry-After`` may be a date)."""

    def sleep(self, seconds: float) -> None:
        """Pause before the next try."""


class _SystemClock:
    def monotonic(self) -> float:
        return time.monotonic()

    def time(self) -> float:
        return time.time()

    def sleep(self, seconds: float) -> None:
        time.sleep(seconds)


SYSTEM_CLOCK: Clock = _SystemClock()


class TransientError(Exception):
    """A failure worth another try (after ``retry_after`` seconds, if the server said)."""

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


@dataclass(frozen=True)
class Backoff:
    """At most ``attempts`` tries and ``deadline`` seconds in all, waits included. Before
    try n + 1 it waits ``base * 2 ** (n - 1)`` seconds times a random factor in ``jitter``
    (so that clients failed together do not come back together), unless the server said
    how long (``Retry-After``)."""

    attempts: int
    base: float = 1.0
    jitter: tuple[float, float] = (1.0, 1.0)
    deadline: float = math.inf
    clock: Clock = SYSTEM_CLOCK

    def next_wait(self, attempt: int, retry_after: float | None = None, *,
                  started: float | None = None) -> float | None:
        """Seconds to wait after try number ``attempt`` (from 1) failed, or ``None``: give
        up. ``started`` is the clock's ``monotonic()`` when the first try began."""
        if attempt >= self.attempts:
            return None
        backoff = self.base * 2 ** (attempt - 1) * random.uniform(*self.jitter)  # noqa: S311 - not a secret
        wait = retry_after if retry_after is not None else backoff
        spent = self.clock.monotonic() - started if started is not None else 0.0
        if spent + wait > self.deadline:
            return None
        return wait

    def retry_after(self, header: str) -> float | None:
        """A ``Retry-After`` value in seconds: whole seconds, or an HTTP date from now on;
        ``None`` if absent or unreadable."""
        value = header.strip()
        if not value:
            return None
        if value.isdigit():
            return float(value)
        try:
            return max(0.0, parsedate_to_datetime(value).timestamp() - self.clock.time())
        except (TypeError, ValueError):
            return None
