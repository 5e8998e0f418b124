"""Page HTML -> mail HTML with inline images, and its text alternative. Pure: no I/O.

Two steps, one parse: :func:`prepare` sanitizes the page, makes its links absolute and says
which images it needs; the caller fetches them; :func:`finish` embeds them by Content-ID,
wraps the page with its header and footer, inlines the CSS and writes the text alternative.
"""

from __future__ import annotations

import hashlib
import html as htmllib
import re
from dataclasses import dataclass, field
from urllib.parse import urljoin, urlsplit

import css_inline
import nh3
from bs4 import BeautifulSoup, Tag
from markdown_it import MarkdownIt
from markdownify import MarkdownConverter

from mailpage_cli.models import InlineImage, Page, RenderedPage, Resource, Sender

LINK_SCHEMES = {"http", "https", "mailto"}
_BLANK_LINES = re.compile(r"\n{3,}")
# Their content goes too, not only the tag: none of it is readable text.
DROP_WITH_CONTENT = {"script", "style", "template", "noscript", "iframe", "object", "embed", "svg",
                     "math", "head", "title", "select", "textarea", "button"}
TAGS = (set(nh3.ALLOWED_TAGS) - {"area", "map"}) | {"tfoot", "section", "main"}
ATTRIBUTES = {
    **{tag: set(attrs) for tag, attrs in nh3.ALLOWED_ATTRIBUTES.items()},
    "*": {"class", "title", "dir", "lang", "style", "align", "valign", "width", "height"},
    "img": {"src", "alt", "width", "height", "align"},
    "td": {"colspan", "rowspan", "align", "valign", "width", "headers"},
    "th": {"colspan", "rowspan", "align", "valign", "width", "scope", "headers"},
    "a": {"href", "hreflang"},
}
# No url() can hide in these: remote fetches (tracking) happen only in properties that take one.
STYLE_PROPERTIES = {
    "color", "background-color", "text-align", "vertical-align", "font-weight", "font-style",
    "font-size", "font-family", "text-decoration", "white-space", "width", "max-width",
    "height", "border", "border-color", "border-style", "border-width", "border-collapse",
    "padding", "padding-left", "padding-right", "padding-top", "padding-bottom", "margin",
    "margin-left", "margin-right", "margin-top", "margin-bottom", "list-style-type",
}
EMOTICONS = {
    "smile": "🙂", "sad": "🙁", "cheeky": "😛", "laugh": "😀", "wink": "😉", "thumbs-up": "👍",
    "thumbs-down": "👎", "information": "ℹ️", "tick": "✅", "cross": "❌", "warning": "⚠️",
    "plus": "➕", "minus": "➖", "question": "❓", "light-on": "💡", "light-off": "💡",
    "yellow-star": "⭐", "red-star": "⭐", "green-star": "⭐", "blue-star": "⭐", "heart": "❤️",
    "broken-heart": "💔",
}
MAIL_CSS = """
body { margin: 0; padding: 0; background-color: #ffffff; color: #172b4d;
  font-family: -apple-system, 'Segoe UI', Roboto, Helvetica, Arial, sans-serif;
  font-size: 14px; line-height: 1.5; }
.mp-frame { width: 100%; background-color: #ffffff; color: #172b4d; }
.mp-main { max-width: 760px; padding: 16px 20px; }
.mp-title { font-size: 24px; line-height: 1.25; margin: 0 0 4px 0; color: #172b4d; }
.mp-meta { font-size: 12px; color: #5e6c84; margin: 0 0 12px 0; }
.mp-note { border-left: 3px solid #0052cc; background-color: #f4f5f7; color: #172b4d;
  padding: 8px 12px; margin: 0 0 12px 0; }
.mp-view { margin: 0 0 16px 0; }
.mp-view a { color: #0052cc; font-weight: bold; }
.mp-page { border-top: 1px solid #dfe1e6; padding-top: 12px; }
.mp-footer { border-top: 1px solid #dfe1e6; margin-top: 24px; padding-top: 8px;
  font-size: 12px; color: #5e6c84; }
a { color: #0052cc; }
h1 { font-size: 22px; } h2 { font-size: 19px; } h3 { font-size: 16px; }
h1, h2, h3, h4, h5, h6 { color: #172b4d; line-height: 1.3; margin: 20px 0 8px 0; }
img { max-width: 100%; height: auto; border: 0; }
.mp-page table { border-collapse: collapse; }
.mp-page th, .mp-page td { border: 1px solid #c1c7d0; padding: 6px 10px; vertical-align: top;
  text-align: left; }
.mp-page th { background-color: #f4f5f7; color: #172b4d; font-weight: bold; }
pre { font-family: Consolas, 'SFMono-Regular', 'Liberation Mono', Menlo, monospace;
  font-size: 12px; white-space: pre-wrap; word-wrap: break-word; background-color: #f4f5f7;
  color: #172b4d; border: 1px solid #dfe1e6; padding: 8px 12px; margin: 8px 0; }
code { font-family: Consolas, 'SFMono-Regular', 'Liberation Mono', Menlo, monospace;
  background-color: #f4f5f7; color: #172b4d; }
.code-title { display: block; font-size: 12px; color: #172b4d; background-color: #ebecf0;
  padding: 4px 12px; }
.confluence-information-macro { padding: 8px 12px; margin: 8px 0; border-left: 4px solid #0052cc;
  background-color: #deebff; color: #172b4d; }
.confluence-information-macro-note { border-left-color: #ff991f; background-color: #fffae6; }
.confluence-information-macro-warning { border-left-color: #de350b; background-color: #ffebe6; }
.confluence-information-macro-tip { border-left-color: #00875a; background-color: #e3fcef; }
.confluence-information-macro .title { font-weight: bold; margin: 0 0 4px 0; }
"""


@dataclass
class PreparedPage:
    """A sanitized, parsed page waiting for its images (from :func:`prepare`)."""

    page: Page
    soup: BeautifulSoup
    image_sources: tuple[str, ...]
    warnings: list[str] = field(default_factory=list)


def sanitize(html: str) -> str:
    """Keep structure and Confluence's classes; drop anything active or remote."""
    return nh3.clean(
        html,
        tags=TAGS,
        clean_content_tags=DROP_WITH_CONTENT,
        attributes=ATTRIBUTES,
        generic_attribute_prefixes={"data-"},
        url_schemes=LINK_SCHEMES,
        filter_style_properties=STYLE_PROPERTIES,
        link_rel=None,
    )


def _is_web_url(url: str) -> bool:
    return urlsplit(url).scheme in ("http", "https")


def _absolute(url: str, page: Page) -> str | None:
    """The URL made absolute against the page, or ``None`` when that cannot be done."""
    url = url.strip()
    if urlsplit(url).scheme in LINK_SCHEMES:
        return url
    if url.startswith("#"):
        return page.url + url if page.url else None
    return urljoin(page.base_url.rstrip("/") + "/", url) if page.base_url else None


def prepare(page: Page) -> PreparedPage:
    """Sanitize and parse the page, make its links absolute, list the images it needs."""
    soup = BeautifulSoup(sanitize(page.html), "html.parser")
    warnings: list[str] = []
    unlinked = 0
    for link in soup.find_all("a"):
        target = _absolute(str(link.get("href", "")), page) if link.get("href") else None
        if target:
            link["href"] = target
        else:
            unlinked += bool(link.get("href"))
            link.unwrap()
    if unlinked:
        warnings.append(
            f"{unlinked} link(s) to files of the export became plain text"
            " (set MAILPAGE_CONFLUENCE_URL to link pages to the site)"
        )
    sources: dict[str, None] = {}
    for img in soup.find_all("img"):
        name = img.get("data-emoticon-name")
        if name or "emoticon" in (img.get("class") or []):
            img.replace_with(EMOTICONS.get(str(name), str(img.get("alt", ""))))
            continue
        src = str(img.get("src", "")).strip()
        if not src:
            img.decompose()
            continue
        src = _absolute(src, page) or src  # unresolved: a file of a local export
        img["src"] = src
        sources[src] = None
    return PreparedPage(page, soup, tuple(sources), warnings)


class _TextConverter(MarkdownConverter):
    """markdownify, with images as their alt text and no escaping noise."""

    def convert_img(self, el: Tag, text: str, parent_tags: set[str]) -> str:  # noqa: ARG002
        alt = str(el.get("alt") or "").strip()
        return f"[image: {alt}]" if alt else "[image]"


def _text_alternative(
    prepared: PreparedPage, note: str | None, sender: Sender
) -> str:
    page = prepared.page
    body = _TextConverter(
        heading_style="ATX",
        bullets="-",
        escape_asterisks=False,
        escape_underscores=False,
        escape_misc=False,
    ).convert_soup(prepared.soup)
    body = _BLANK_LINES.sub("\n\n", "\n".join(line.rstrip() for line in body.splitlines()))
    parts = [f"# {page.title}"]
    if meta := _meta_line(page):
        parts.append(meta)
    if note:
        parts.append(note.strip())
    if page.url:
        parts.append(f"View in Confluence: {page.url}")
    parts.append(body.strip() or "(This page has no text.)")
    parts.append(f"-- \n{_sent_by(sender)}")
    return "\n\n".join(parts) + "\n"


def _meta_line(page: Page) -> str:
    bits = [page.space or "", f"version {page.version}" if page.version else ""]
    return " · ".join(bit for bit in bits if bit)


def _sent_by(sender: Sender) -> str:
    who = f"{sender.name} <{sender.address}>" if sender.name else sender.address
    return f"Sent by {who} with mailpage."


def note_html(note: str) -> str:
    """The personal message, Markdown -> sanitized HTML (raw HTML in it stays text)."""
    return sanitize(MarkdownIt("commonmark", {"html": False}).render(note))


def content_id(image: Resource, domain: str) -> str:
    """Deterministic, so the same picture twice is one part."""
    return f"{hashlib.sha256(image.data).hexdigest()[:24]}@{domain}"


def _embed_images(
    prepared: PreparedPage, images: dict[str, Resource | None], cid_domain: str
) -> tuple[InlineImage, ...]:
    embedded: dict[str, InlineImage] = {}
    missing = 0
    for img in prepared.soup.find_all("img"):
        src = str(img["src"])
        image = images.get(src)
        alt = str(img.get("alt") or "").strip()
        if image is not None:
            cid = content_id(image, cid_domain)
            embedded.setdefault(cid, InlineImage(cid, image))
            img["src"] = f"cid:{cid}"
        elif _is_web_url(src):
            link = prepared.soup.new_tag("a", href=src)
            link.string = f"[image: {alt}]" if alt else "[image]"
            img.replace_with(link)
        else:
            missing += 1
            img.replace_with(f"[image: {alt}]" if alt else "")
    if missing:
        prepared.warnings.append(f"{missing} image(s) could not be found and were left out")
    return tuple(embedded.values())


def finish(
    prepared: PreparedPage,
    images: dict[str, Resource | None],
    *,
    sender: Sender,
    note: str | None = None,
    cid_domain: str = "mailpage.invalid",
) -> RenderedPage:
    """Embed the images (``None``: not available), wrap, inline CSS, write the text part."""
    page = prepared.page
    text = _text_alternative(prepared, note, sender)
    inline = _embed_images(prepared, images, cid_domain)
    esc = htmllib.escape
    header = [f'<h1 class="mp-title">{esc(page.title)}</h1>']
    if meta := _meta_line(page):
        header.append(f'<p class="mp-meta">{esc(meta)}</p>')
    if note:
        header.append(f'<div class="mp-note">{note_html(note)}</div>')
    if page.url:
        header.append(f'<p class="mp-view"><a href="{esc(page.url)}">View in Confluence</a></p>')
    document = (
        '<!DOCTYPE html><html><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{esc(page.title)}</title><style>{MAIL_CSS}</style></head>"
        '<body><table class="mp-frame" role="presentation" width="100%" cellpadding="0" '
        'cellspacing="0"><tr><td class="mp-main">'
        + "".join(header)
        + f'<div class="mp-page">{prepared.soup}</div>'
        + f'<p class="mp-footer">{esc(_sent_by(sender))}</p>'
        + "</td></tr></table></body></html>"
    )
    html = css_inline.inline(document, load_remote_stylesheets=False)
    return RenderedPage(html, text, inline, tuple(prepared.warnings))
