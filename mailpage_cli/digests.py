"""Digests: the CQL a digest runs, and the page that lists what it found. Pure."""

from __future__ import annotations

import html as htmllib
import re
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta

from mailpage_cli.errors import UsageError
from mailpage_cli.models import SearchHit
from mailpage_cli.wording import count

_DURATION = re.compile(r"(\d{1,5})([mhdw])")
_UNITS = {"m": "minutes", "h": "hours", "d": "days", "w": "weeks"}
_ORDER_BY = re.compile(r"\border\s+by\b", re.IGNORECASE)


def parse_duration(text: str) -> timedelta:
    """``30m``, ``24h``, ``7d``, ``2w`` -> a timedelta."""
    amount, unit = _amount_and_unit(text)
    return timedelta(**{unit: amount})


def _amount_and_unit(text: str) -> tuple[int, str]:
    """``7d`` -> ``(7, "days")``."""
    match = _DURATION.fullmatch(text.strip().lower())
    if not match:
        raise UsageError(f"--since {text!r} is not a duration",
                         "Write a number and a unit: 30m, 24h, 7d or 2w.")
    if not int(match[1]):
        raise UsageError(f"--since {text!r} is an empty window",
                         "Give a duration greater than zero: 30m, 24h, 7d or 2w.")
    return int(match[1]), _UNITS[match[2]]


def cql(query: str, since: str | None) -> str:
    """The user's query, limited to the window and sorted newest first (unless it sorts)."""
    parts = _ORDER_BY.split(query, maxsplit=1)
    main = parts[0].strip()
    order = parts[1].strip() if len(parts) > 1 else "lastmodified desc"
    if not main:
        raise UsageError("The CQL query is empty", 'Give one, e.g. --cql \'space = "ENG"\'.')
    if since:
        parse_duration(since)
        main = f'({main}) and lastmodified >= now("-{since.strip().lower()}")'
    return f"{main} order by {order}"


def newest_first(hits: Iterable[SearchHit], since: timedelta | None) -> list[SearchHit]:
    """Newest first; outside the window (when the server ignored it) dropped."""
    cutoff = datetime.now(UTC) - since if since else None
    kept = [h for h in hits if cutoff is None or h.modified is None or h.modified >= cutoff]
    oldest = datetime.min.replace(tzinfo=UTC)
    return sorted(kept, key=lambda h: h.modified or oldest, reverse=True)


def default_title(found: int, since: str | None) -> str:
    """``Confluence digest: 4 pages changed in the last 7 days``; without a window the pages
    were found, not necessarily changed."""
    pages = count(found, "page")
    if not since:
        return f"Confluence digest: {pages}"
    amount, unit = _amount_and_unit(since)
    return f"Confluence digest: {pages} changed in the last {count(amount, unit[:-1])}"


def html(hits: Iterable[SearchHit]) -> str:
    """One entry a page: the title as a link, then space, last editor, when, and an excerpt."""
    esc = htmllib.escape
    entries = []
    for hit in hits:
        title = (f'<a href="{esc(hit.url)}">{esc(hit.title)}</a>' if hit.url
                 else esc(hit.title))
        when = (hit.modified.astimezone(UTC).strftime("%d %b %Y %H:%M UTC") if hit.modified
                else "")
        meta = " · ".join(bit for bit in (hit.space, f"edited by {hit.editor}"
                                          if hit.editor else "", when) if bit)
        excerpt = f"<p>{esc(hit.excerpt)}</p>" if hit.excerpt else ""
        entries.append(f'<h3>{title}</h3><p class="mp-meta">{esc(meta)}</p>{excerpt}')
    return "".join(entries)
