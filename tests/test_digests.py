"""Digests: the window, the default title, and times shown in UTC."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from mailpage_cli import digests
from mailpage_cli.errors import UsageError
from mailpage_cli.models import SearchHit
from tests.conftest import run


def hit(modified: datetime | None) -> SearchHit:
    return SearchHit(title="Runbook", url="", space="ENG", editor="Ann", excerpt="",
                     modified=modified)


def test_a_time_with_an_offset_is_shown_in_utc() -> None:
    berlin = timezone(timedelta(hours=2))
    html = digests.html([hit(datetime(2026, 11, 30, 10, 0, tzinfo=berlin))])
    assert "30 Nov 2026 08:00 UTC" in html


def test_a_zero_window_says_it_must_be_greater_than_zero() -> None:
    with pytest.raises(UsageError) as caught:
        digests.parse_duration("0d")
    assert "greater than zero" in caught.value.fix
    with pytest.raises(UsageError, match="is not a duration"):
        digests.parse_duration("7 days")


@pytest.mark.parametrize(("count", "since", "title"), [
    (4, "7d", "Confluence digest: 4 pages changed in the last 7 days"),
    (1, "1w", "Confluence digest: 1 page changed in the last 1 week"),
    (2, "30m", "Confluence digest: 2 pages changed in the last 30 minutes"),
    (4, None, "Confluence digest: 4 pages"),
])
def test_the_default_title_names_the_window_in_words(
    count: int, since: str | None, title: str,
) -> None:
    assert digests.default_title(count, since) == title


def test_naive_times_from_the_server_compare_with_the_window() -> None:
    from mailpage_cli.confluence import _when  # noqa: PLC0415 - the parser under test

    now = datetime.now(UTC).replace(microsecond=0)
    recent = _when((now - timedelta(hours=1)).replace(tzinfo=None).isoformat())
    old = _when((now - timedelta(days=3)).replace(tzinfo=None).isoformat())
    assert recent == now - timedelta(hours=1)
    assert digests.newest_first([hit(old), hit(recent)], timedelta(days=1)) == [hit(recent)]


def test_a_bad_window_is_refused_before_any_recipient_is_looked_up() -> None:
    result = run("digest", "--cql", 'space = "ENG"', "--since", "0d", "--to", "me")
    assert result.exit_code == 2  # not 3: "me" would need a Confluence site first
    assert "greater than zero" in result.stderr
