"""PAGE strings -> a page reference, offline.

Accepted: a page id; ``SPACE:Title``; Cloud URLs (``/spaces/KEY/pages/ID``, ``/edit-v2/ID``,
blog posts); Data Center URLs (``/display/KEY/Title+With+Pluses``, blog posts by date,
``viewpage.action?pageId=`` or ``?spaceKey=&title=``); tiny links ``/x/CODE`` (decoded here,
no request); API URLs (``/rest/api/content/ID``, ``/api/v2/pages/ID``); a local ``.html``
export. A URL on another host than the configured site is refused: credentials never follow
a link somewhere else.
"""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qs, unquote, unquote_plus, urlsplit

from mailpage_cli import sites
from mailpage_cli.errors import ConfigError, NotFoundError, UsageError
from mailpage_cli.sites import same_site

FORMS = "a page id, SPACE:Title, a Confluence page URL or a local .html export"


@dataclass(frozen=True)
class LocalFile:
    path: Path


@dataclass(frozen=True)
class PageId:
    id: str


@dataclass(frozen=True)
class PageTitle:
    space: str
    title: str
    posting_day: str | None = None  # YYYY-MM-DD: a blog post

    @property
    def kind(self) -> str:
        return "blogpost" if self.posting_day else "page"


PageRef = LocalFile | PageId | PageTitle

_SPACE_TITLE = re.compile(r"^(~?[A-Za-z0-9_.-]+):(?!//)(.+)$")
_ID_PATTERNS = (
    re.compile(r"/spaces/[^/]+/pages/(?:edit-v2/|edit/)?(\d+)(?:/|$)"),
    re.compile(r"/spaces/[^/]+/blog/(?:edit-v2/)?(?:\d{4}/\d{2}/\d{2}/)?(\d+)(?:/|$)"),
    re.compile(r"/rest/api/content/(\d+)(?:/|$)"),
    re.compile(r"/api/v2/(?:pages|blogposts)/(\d+)(?:/|$)"),
)
_TINY = re.compile(r"/x/([A-Za-z0-9_-]+)/?$")
_DISPLAY_BLOG = re.compile(r"/display/([^/]+)/(\d{4})/(\d{2})/(\d{2})/([^/]+)/?$")
_DISPLAY = re.compile(r"/display/([^/]+)/([^/]+)/?$")


def tiny_link_id(code: str) -> str:
    """``/x/t4AB`` -> ``98487``: URL-safe base64 of the little-endian id, padded with ``A``."""
    text = code.replace("-", "/").replace("_", "+")
    text += "A" * (-len(text) % 4)
    try:
        number = int.from_bytes(base64.b64decode(text, validate=True), "little")
    except (binascii.Error, ValueError) as exc:
        raise UsageError(f"{code!r} is not a Confluence tiny link", f"Give {FORMS}.") from exc
    if not number:
        raise UsageError(f"{code!r} is not a Confluence tiny link", f"Give {FORMS}.")
    return str(number)


def parse_url(url: str, site_url: str | None) -> PageRef:
    if not site_url:
        raise ConfigError(
            "A page URL needs a configured Confluence site",
            "Run `mailpage config set-site URL` or set MAILPAGE_CONFLUENCE_URL.",
        )
    if not same_site(url, site_url):
        raise ConfigError(
            f"The page URL is on {sites.place(url)}, not on the configured site"
            f" {sites.place(site_url)}; mailpage never sends credentials to another host",
            "Use a URL of the configured site, or configure that site with"
            " `mailpage config set-site URL` (or --profile for another one).",
        )
    parts = urlsplit(url)
    path = parts.path
    query = parse_qs(parts.query)
    for pattern in _ID_PATTERNS:
        if match := pattern.search(path):
            return PageId(match[1])
    if query.get("pageId", [""])[0].isdigit():
        return PageId(query["pageId"][0])
    if query.get("spaceKey") and query.get("title"):
        return PageTitle(query["spaceKey"][0], query["title"][0])
    if match := _TINY.search(path):
        return PageId(tiny_link_id(match[1]))
    if match := _DISPLAY_BLOG.search(path):
        day = f"{match[2]}-{match[3]}-{match[4]}"
        return PageTitle(unquote(match[1]), unquote_plus(match[5]), day)
    if match := _DISPLAY.search(path):
        return PageTitle(unquote(match[1]), unquote_plus(match[2]))
    raise UsageError(f"Cannot find a page in the URL {url}", f"Give {FORMS}.")


def _exists(path: Path) -> bool:
    try:
        return path.exists()
    except (OSError, ValueError):  # too long for the file system, or a NUL: not a file
        return False


def parse(text: str, site_url: str | None = None) -> PageRef:
    """Any PAGE form -> a reference; ``site_url`` is the configured site, if any."""
    text = text.strip()
    if not text:
        raise UsageError("PAGE is empty", f"Give {FORMS}.")
    if text.isdigit():
        return PageId(text.lstrip("0") or "0")
    if urlsplit(text).scheme in ("http", "https"):
        return parse_url(text, site_url)
    path = Path(text).expanduser() if text.startswith("~/") else Path(text)
    if path.suffix.lower() in (".html", ".htm") or _exists(path):
        if not _exists(path) or not path.is_file():
            raise NotFoundError(f"No such file: {text}", "Check the path of the HTML export.")
        return LocalFile(path)
    if match := _SPACE_TITLE.match(text):
        return PageTitle(match[1], match[2].strip())
    raise UsageError(f"{text!r} is not a page", f"Give {FORMS}.")
