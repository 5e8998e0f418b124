"""Streaming HTTP downloads with a size budget and a deadline, and the rule that credentials
stay home.

A download starts on a session that may carry credentials; a redirect to another host (Cloud
sends attachments to a signed media URL) is followed on a bare session, so that no
Authorization header, cookie or token leaves the configured site. :func:`read_body` is the one
place a body is read: at most a given number of bytes (after decompression), within a given
time; ``confluence`` reads its API answers through it too.
"""

from __future__ import annotations

import contextlib
import logging
import mimetypes
import threading
import time
from collections.abc import Callable
from pathlib import PurePosixPath
from typing import TYPE_CHECKING
from urllib.parse import unquote, urljoin, urlsplit

from mailpage_cli.errors import DownloadError, PolicyError, UnavailableError
from mailpage_cli.models import Resource

if TYPE_CHECKING:
    import requests

log = logging.getLogger(__name__)

CHUNK = 64 * 1024
MAX_REDIRECTS = 5
TIMEOUT = 30.0  # seconds of silence, per read
DEADLINE = 300.0  # seconds for one whole download, redirects included


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
    trusted: Callable[[str], bool] | None,
    budget: int,
    name: str | None = None,
    public: requests.Session | None = None,
    timeout: float = TIMEOUT,
) -> Resource:
    """GET ``url`` into memory, refusing more than ``budget`` bytes before reading them.

    ``session`` is used only for URLs ``trusted`` accepts (the site's); elsewhere ``public``. A
    connection that fails or breaks off, or a download slower than DEADLINE, is a
    :class:`DownloadError` (the caller decides whether the file can be left out). ``timeout``
    is the seconds of silence allowed per read.
    """
    import requests  # noqa: PLC0415

    public = public or bare_session()
    filename = name or _label(url)
    started = time.monotonic()
    current = url
    try:
        for _ in range(MAX_REDIRECTS + 1):
            on_site = trusted is not None and trusted(current)
            client = session if on_site else public
            response = client.get(current, stream=True, allow_redirects=False, timeout=timeout)
            log.debug("download GET %s %s %.0f ms", "site" if on_site else "elsewhere",
                      response.status_code, (time.monotonic() - started) * 1000)
            if response.is_redirect and "location" in response.headers:
                current = urljoin(current, response.headers["location"])
                response.close()
                continue
            with response:
                return _read(response, filename, budget, DEADLINE - (time.monotonic() - started))
    except requests.RequestException as exc:
        log.debug("download failed (%s)", type(exc).__name__)
        raise DownloadError(0, filename, f"the connection failed or broke off:"
                                         f" {type(exc).__name__}") from None
    raise UnavailableError(f"Too many redirects fetching {filename}", "Check the link.")


def _label(url: str) -> str:
    return unquote(PurePosixPath(urlsplit(url).path).name) or "a file"


def _read(response: requests.Response, filename: str, budget: int, seconds: float) -> Resource:
    if response.status_code != 200:
        raise DownloadError(response.status_code, filename)
    declared = response.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > budget:
        raise _too_big(filename, int(declared), budget)
    data = read_body(
        response, limit=budget, seconds=seconds,
        too_big=lambda size: _too_big(filename, size, budget),
        too_slow=lambda: DownloadError(0, filename, f"it took more than {DEADLINE:g} s"),
    )
    content_type = response.headers.get("content-type", "").split(";")[0].strip().lower()
    if not content_type or content_type == "application/octet-stream":
        content_type = mimetypes.guess_type(filename)[0] or "application/octet-stream"
    return Resource(filename, content_type, data)


def read_body(
    response: requests.Response,
    *,
    limit: int,
    seconds: float,
    too_big: Callable[[int], Exception],
    too_slow: Callable[[], Exception],
) -> bytes:
    """The (decompressed) body of a streamed response, stopped past ``limit`` bytes
    (``too_big``) or ``seconds`` seconds (``too_slow``).

    The timeout of ``requests`` is per read: a server trickling a byte at a time would never
    end, so a timer shuts the socket at the deadline and the blocked read returns.
    """
    import requests  # noqa: PLC0415

    late = threading.Event()

    def cut() -> None:
        late.set()
        # Already released or closed (or an urllib3 without shutdown): nothing left to cut.
        with contextlib.suppress(AttributeError, OSError, RuntimeError, ValueError):
            response.raw.shutdown()

    timer = threading.Timer(max(seconds, 0.0), cut)
    timer.daemon = True
    timer.start()
    chunks, total = [], 0
    try:
        for chunk in response.iter_content(CHUNK):
            total += len(chunk)
            if total > limit:
                raise too_big(total)
            chunks.append(chunk)
    except requests.RequestException:
        if late.is_set():
            raise too_slow() from None
        raise
    finally:
        timer.cancel()
    if late.is_set():  # a body without a length just ends when the socket is shut
        raise too_slow()
    return b"".join(chunks)


def _too_big(filename: str, size: int, budget: int) -> PolicyError:
    return PolicyError(
        f"{filename} is larger ({size / 1_000_000:.1f} MB) than the message may be"
        f" ({budget / 1_000_000:.1f} MB)",
        "Leave it out, or raise the limit with `mailpage config set-policy --max-size MB`.",
    )
