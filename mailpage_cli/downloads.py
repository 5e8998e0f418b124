"""Streaming HTTP downloads with a size budget, and the rule that credentials stay home.

A download starts on a session that may carry credentials; a redirect to another host (Cloud
sends attachments to a signed media URL) is followed on a bare session, so that no
Authorization header, cookie or token leaves the configured site.
"""

from __future__ import annotations

import logging
import mimetypes
import time
from pathlib import PurePosixPath
from typing import TYPE_CHECKING
from urllib.parse import unquote, urljoin, urlsplit

from mailpage_cli.errors import PolicyError, UnavailableError
from mailpage_cli.models import Resource
from mailpage_cli.pagerefs import same_site

if TYPE_CHECKING:
    import requests

log = logging.getLogger(__name__)

CHUNK = 64 * 1024
MAX_REDIRECTS = 5
TIMEOUT = 30.0


def bare_session() -> requests.Session:
    """A session with no credentials, no cookies, no .netrc: for anything off the site."""
    import requests  # noqa: PLC0415 - HTTP loads only when a command fetches

    session = requests.Session()
    session.trust_env = False  # no .netrc credentials; proxies from the environment stay off
    return session


def fetch(
    url: str,
    *,
    session: requests.Session,
    site_url: str | None,
    budget: int,
    name: str | None = None,
    public: requests.Session | None = None,
) -> Resource:
    """GET ``url`` into memory, refusing more than ``budget`` bytes before reading them.

    ``session`` is used only while the URL is on ``site_url``; elsewhere ``public``.
    """
    public = public or bare_session()
    current = url
    for _ in range(MAX_REDIRECTS + 1):
        on_site = site_url is not None and same_site(current, site_url)
        client = session if on_site else public
        started = time.perf_counter()
        response = client.get(current, stream=True, allow_redirects=False, timeout=TIMEOUT)
        log.debug("download GET %s %s %.0f ms", "site" if on_site else "elsewhere",
                  response.status_code, (time.perf_counter() - started) * 1000)
        if response.is_redirect and "location" in response.headers:
            current = urljoin(current, response.headers["location"])
            response.close()
            continue
        with response:
            return _read(response, url, budget, name)
    raise UnavailableError(f"Too many redirects fetching {_label(url)}", "Check the link.")


def _label(url: str) -> str:
    return unquote(PurePosixPath(urlsplit(url).path).name) or "a file"


def _read(response: requests.Response, url: str, budget: int, name: str | None) -> Resource:
    filename = name or _label(url)
    if response.status_code != 200:
        raise DownloadError(response.status_code, filename)
    declared = response.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > budget:
        raise _too_big(filename, int(declared), budget)
    chunks, total = [], 0
    for chunk in response.iter_content(CHUNK):
        total += len(chunk)
        if total > budget:
            raise _too_big(filename, total, budget)
        chunks.append(chunk)
    content_type = response.headers.get("content-type", "").split(";")[0].strip().lower()
    if not content_type or content_type == "application/octet-stream":
        content_type = mimetypes.guess_type(filename)[0] or "application/octet-stream"
    return Resource(filename, content_type, b"".join(chunks))


def _too_big(filename: str, size: int, budget: int) -> PolicyError:
    return PolicyError(
        f"{filename} is larger ({size / 1_000_000:.1f} MB) than the message may be"
        f" ({budget / 1_000_000:.1f} MB)",
        "Leave it out, or raise the limit with `mailpage config set-policy --max-size MB`.",
    )


class DownloadError(UnavailableError):
    """A file could not be downloaded (the caller decides whether that is fatal)."""

    def __init__(self, status: int, filename: str) -> None:
        super().__init__(f"Downloading {filename} failed ({status})", "Check your access to it.")
        self.status = status
