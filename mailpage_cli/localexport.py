"""A page from a Confluence HTML export on disk, rendered without any Confluence access.

An export page (Space tools > Export > HTML) holds the title as ``Space : Title``, the body in
``#main-content``, and an "Attachments" section linking ``attachments/PAGEID/FILE``; its images
are files beside it. Links to other exported pages (``Title_123.html``) and to attachments
(``attachments/123/456.pdf``, named in ``data-linked-resource-default-alias``) become links to
the site when one is configured.
"""

from __future__ import annotations

import mimetypes
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import quote, unquote, urljoin, urlsplit

from mailpage_cli.errors import UsageError
from mailpage_cli.headers import clean_text
from mailpage_cli.models import Page, Resource

if TYPE_CHECKING:
    from bs4 import BeautifulSoup, Tag

MAX_FILE = 50_000_000  # an export page or image larger than this is not a page
_PAGE_FILE = re.compile(r"_(\d+)\.html?$")
_ATTACHMENT = re.compile(r"attachments/(\d+)/([^/?#]+)")


# What an HTML file starts with (after a BOM, blanks and comments), for one without .html.
_HTML_START = re.compile(
    rb"^(?:\xef\xbb\xbf)?\s*(?:<!--.*?-->\s*)*<(?:!doctype\s+html|html|head)\b",
    re.IGNORECASE | re.DOTALL)


@dataclass(frozen=True)
class ExportPage:
    page: Page
    folder: Path
    attachments: tuple[tuple[str, str], ...]  # (file name, href relative to the folder)
    names: Mapping[str, str] = field(default_factory=dict)  # file path -> attachment name

    def resource(self, relative: str) -> Resource | None:
        """A file of the export, named as the attachment it is (``build-times.png``, not the
        ``98501.png`` of the export), as ``--attachments`` names it."""
        return read_resource(self.folder, relative, self.names.get(_key(relative)))


def _key(href: str) -> str:
    return unquote(urlsplit(href).path)


def _read(path: Path, what: str) -> bytes:
    try:
        if path.stat().st_size > MAX_FILE:
            raise UsageError(f"The {what} {path} is larger than 50 MB", "Is it the right file?")
        return path.read_bytes()
    except OSError as exc:
        raise UsageError(f"Cannot read the {what} {path} ({exc.strerror})",
                         "Check the path.") from exc


def _page_id(path: Path, soup: BeautifulSoup) -> str | None:
    if match := _PAGE_FILE.search(path.name):
        return match[1]
    for link in soup.select('a[href^="attachments/"]'):
        parts = str(link["href"]).split("/")
        if len(parts) > 2 and parts[1].isdigit():
            return parts[1]
    return None


def _attachment_name(link: Tag, match: re.Match[str]) -> str | None:
    """The name an exported attachment has on the site: exports name the file by its id
    (``456.pdf``) and keep the name in the link."""
    if alias := str(link.get("data-linked-resource-default-alias") or "").strip():
        return alias
    name = unquote(match[2])
    return None if name.partition(".")[0].isdigit() else name


def load(path: Path, site_url: str | None) -> ExportPage:
    """Parse the export page; ``site_url`` (if configured) makes its page links absolute."""
    from bs4 import BeautifulSoup  # noqa: PLC0415 - slow to load, and only exports need it here

    data = _read(path, "page")
    if path.suffix.lower() not in (".html", ".htm") and not _HTML_START.match(data[:4096]):
        raise UsageError(f"{path} is not an HTML page",
                         "Give a page of a Confluence HTML export (Space tools > Export > HTML),"
                         " a page id or a page URL; other files are not rendered.")
    soup = BeautifulSoup(data.decode("utf-8", "replace"), "html.parser")
    heading = soup.select_one("#title-text") or soup.find("title")
    full_title = " ".join(heading.get_text().split()) if heading else path.stem
    space, sep, title = full_title.partition(" : ")
    if not sep:
        space, title = "", full_title
    body = soup.select_one("#main-content") or soup.body or soup
    page_id = _page_id(path, soup)
    site = site_url.rstrip("/") if site_url else None
    for link in body.find_all("a", href=True) if site else ():
        href = str(link["href"])
        if urlsplit(href).scheme:
            continue
        if match := _PAGE_FILE.search(href.split("#", maxsplit=1)[0]):
            link["href"] = f"{site}/pages/viewpage.action?pageId={match[1]}"
        elif href.startswith("/"):
            link["href"] = urljoin(f"{site}/", href)
        elif (match := _ATTACHMENT.fullmatch(href)) and (name := _attachment_name(link, match)):
            link["href"] = f"{site}/download/attachments/{match[1]}/{quote(name, safe='')}"
    attachments = tuple(
        (link.get_text().strip() or unquote(Path(str(link["href"])).name), str(link["href"]))
        for link in soup.select('.pageSection a[href^="attachments/"]')
    )
    url = f"{site}/pages/viewpage.action?pageId={page_id}" if site and page_id else None
    page = Page(
        title=title.strip() or path.stem,
        html=body.decode_contents(),
        id=page_id,
        space=space.strip() or None,
        url=url,
        base_url=None,  # its relative images and links are files beside it
    )
    names = {_key(href): name for name, href in attachments}
    for tag in body.select("[data-linked-resource-default-alias]"):
        alias = str(tag["data-linked-resource-default-alias"]).strip()
        if alias and (href := str(tag.get("src") or tag.get("href") or "")):
            names.setdefault(_key(href), alias)
    return ExportPage(page, path.parent, attachments, names)


def read_resource(folder: Path, relative: str, filename: str | None = None) -> Resource | None:
    """A file of the export by its (URL-encoded) href; ``None`` if missing or outside the
    export's folder."""
    relative = unquote(urlsplit(relative).path)
    target = (folder / relative).resolve()
    if not target.is_relative_to(folder.resolve()) or not target.is_file():
        return None
    name = filename or target.name
    content_type = mimetypes.guess_type(name)[0] or mimetypes.guess_type(target.name)[0]
    return Resource(name, content_type or "application/octet-stream", _read(target, "file"))


def read_file(text: str) -> Resource:
    """A local file to attach (``--attach-file``), named as on disk, typed by its name."""
    path = Path(text).expanduser()
    if not path.is_file():
        raise UsageError(f"--attach-file {text}: no such file", "Check the path.")
    content_type = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
    return Resource(clean_text(path.name) or "attachment", content_type, _read(path, "file"))
