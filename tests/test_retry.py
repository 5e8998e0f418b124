"""The retry policy both network edges share, pinned without a network: how long each wait
is, when a server's Retry-After is honoured, and when it gives up."""

from __future__ import annotations

from datetime import UTC, datetime
from email.utils import format_datetime

import pytest

from mailpage_cli import confluence, mailer
from mailpage_cli.retry import Backoff
from tests.support.clock import FakeClock


def policy(clock: FakeClock, **changes: object) -> Backoff:
    return Backoff(**{"attempts": 4, "base": 1.0, "jitter": (1.0, 1.5), "deadline": 60.0,
                      "clock": clock, **changes})  # type: ignore[arg-type]


def test_waits_double_after_each_try_within_the_jitter() -> None:
    """Before tries 2, 3 and 4: base times 1, 2 and 4, each times a factor in ``jitter``."""
    backoff = policy(FakeClock(), base=0.5, jitter=(0.75, 1.25))
    for _ in range(200):
        waits = [backoff.next_wait(attempt) for attempt in (1, 2, 3)]
        for wait, expected in zip(waits, [0.5, 1.0, 2.0], strict=True):
            assert wait is not None
            assert 0.75 * expected <= wait <= 1.25 * expected, waits


def test_the_jitter_spreads_the_waits() -> None:
    """Clients that failed together do not all come back at the same moment."""
    backoff = policy(FakeClock())
    assert len({backoff.next_wait(1) for _ in range(20)}) > 1


def test_without_jitter_the_waits_are_exact() -> None:
    backoff = policy(FakeClock(), jitter=(1.0, 1.0), attempts=5)
    assert [backoff.next_wait(n) for n in (1, 2, 3, 4)] == [1.0, 2.0, 4.0, 8.0]


def test_it_gives_up_after_the_last_attempt() -> None:
    backoff = policy(FakeClock())
    assert backoff.next_wait(3) is not None
    assert backoff.next_wait(4) is None
    assert backoff.next_wait(4, retry_after=1) is None
    assert policy(FakeClock(), attempts=1).next_wait(1) is None  # a probe: no retry at all


def test_a_retry_after_replaces_the_backoff() -> None:
    backoff = policy(FakeClock())
    assert backoff.next_wait(1, retry_after=7) == 7
    assert backoff.next_wait(3, retry_after=0) == 0


def test_a_retry_after_beyond_the_deadline_gives_up() -> None:
    clock = FakeClock()
    backoff = policy(clock)
    started = clock.monotonic()
    assert backoff.next_wait(1, retry_after=60, started=started) == 60
    assert backoff.next_wait(1, retry_after=61, started=started) is None


def test_the_deadline_counts_the_time_already_spent() -> None:
    """Waits and tries together stay within ``deadline`` seconds."""
    clock = FakeClock()
    backoff = policy(clock)
    started = clock.monotonic()
    clock.advance(50)  # the tries themselves took that long
    assert backoff.next_wait(1, retry_after=10, started=started) == 10
    assert backoff.next_wait(1, retry_after=11, started=started) is None
    clock.advance(9.5)
    assert backoff.next_wait(1, started=started) is None  # even the shortest backoff, 1 s


@pytest.mark.parametrize(("header", "seconds"), [
    ("7", 7.0), (" 120 ", 120.0), ("", None), ("soon", None), ("-5", None),
])
def test_retry_after_in_seconds(header: str, seconds: float | None) -> None:
    assert policy(FakeClock()).retry_after(header) == seconds


def test_retry_after_as_an_http_date_counts_from_the_clocks_now() -> None:
    clock = FakeClock()
    backoff = policy(clock)
    when = format_datetime(datetime.fromtimestamp(clock.time() + 20, UTC), usegmt=True)
    assert backoff.retry_after(when) == 20.0
    clock.advance(30)  # the date has passed: try at once
    assert backoff.retry_after(when) == 0.0


def test_each_edge_keeps_its_policy() -> None:
    """Confluence: 4 tries in 60 s, waits 1-1.5, 2-3, 4-6 s. SMTP: 4 attempts, waits within
    25 % of 1, 2, 4 s, no deadline."""
    assert Backoff(4, 1.0, (1.0, 1.5), 60.0) == confluence.RETRIES
    assert Backoff(4, 1.0, (0.75, 1.25)) == mailer.RETRIES
