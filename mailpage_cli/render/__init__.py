"""Page HTML -> mail HTML with inline images, and its text alternative. Pure: no I/O.

Two steps, one parse: :func:`prepare` sanitizes the page, parses it (lxml), makes its links
absolute, rewrites Confluence's macros into what mail clients can show (one module per
family) and says which images it needs; the caller fetches them; :func:`finish` writes the
text alternative, draws the boxes as tables, embeds the images by Content-ID, wraps the page
with its header and footer and inlines the CSS.
"""

from __future__ import annotations

import base64
import html as htmllib
import re
from dataclasses import dataclass, field, replace
from urllib.parse import urljoin, urlsplit

import css_inline

from mailpage_cli.headers import clean_text
from mailpage_cli.models import InlineImage, Page, RenderedPage, Resource, Sender
from mailpage_cli.render import (
    boxes,
    code,
    colours,
    emoticons,
    expand,
    files,
    images,
    jira,
    layouts,
    lists,
    nesting,
    panels,
    people,
    placeholders,
    scaling,
    status,
    tables,
    tasks,
)
from mailpage_cli.render.images import content_id, typed
from mailpage_cli.render.sanitize import LINK_SCHEMES, sanitize
from mailpage_cli.render.styles import DARK_CSS, MAIL_CSS
from mailpage_cli.render.text import lift_out_of_headings, text_alternative
from mailpage_cli.render.tree import Element, find, parse, remove, serialize, unwrap
from mailpage_cli.wording import count

__all__ = ["PreparedPage", "content_id", "finish", "note_html", "note_images", "prepare",
           "sanitize", "typed"]



@dataclass
class PreparedPage:
    """A sanitized, parsed, macro-rewritten page waiting for its images."""

    page: Page
    root: Element
    image_sources: tuple[str, ...]
    warnings: list[str] = field(default_factory=list)


def _absolute(url: str, page: Page) -> str | None:
    """The URL made absolute against the page, or ``None`` when that cannot be done."""
    url = url.strip()
    if urlsplit(url).scheme in LINK_SCHEMES:
        return url
    if url.startswith("#"):
        return page.url + url if page.url else None
    return urljoin(page.base_url.rstrip("/") + "/", url) if page.base_url else None


# A file of an export's page (``attachments/PAGEID/FILE``): its name is the link's text, and
# --attachments attaches it; a site URL is no better a fix than that, so no warning about it.
_EXPORT_FILE = re.compile(r"(?:\./)?attachments/")


def _links(root: Element, page: Page) -> list[str]:
    """Links made absolute; those that cannot be (an export's, without a site) become their
    text, with a warning for the page links a site URL would keep."""
    unlinked = 0
    for link in find(root, "descendant::a"):
        href = str(link.get("href") or "")
        target = _absolute(href, page) if href else None
        if target:
            link.set("href", target)
        else:
            unlinked += bool(href) and not _EXPORT_FILE.match(href.strip())
            unwrap(link)
    if not unlinked:
        return []
    return [(f"{count(unlinked, 'link')} to other pages of the export became plain text"
             " (set MAILPAGE_CONFLUENCE_URL to link them to the site)")]


def _image_sources(root: Element, page: Page) -> tuple[str, ...]:
    sources: dict[str, None] = {}
    for img in find(root, "descendant::img"):
        src = str(img.get("src") or "").strip()
        if not src:
            remove(img)
            continue
        src = _absolute(src, page) or src  # unresolved: a file of a local export
        img.set("src", src)
        sources[src] = None
    return tuple(sources)


def prepare(page: Page) -> PreparedPage:
    """Sanitize and parse the page, make its links absolute, rewrite its macros, list the
    images it needs. The title, shown in <title>, the heading and the text part, is cleaned
    as the Subject is: no control characters, no bidi overrides."""
    page = replace(page, title=clean_text(page.title))
    root = parse(sanitize(page.html))
    flattened = nesting.flatten(root)
    colours.render(root, colours.page_rules(page.html))  # sanitize drops the <style> rules
    emoticons.render(root)
    people.render(root)
    files.render(root, page)  # before _links: the file links are links
    warnings = _links(root, page)
    tasks.render(root)
    jira.render(root)  # first: status would take its placeholder lozenge for a real one
    status.render(root)
    code.render(root)
    panels.render(root)
    expand.render(root)
    layouts.render(root)
    placeholders.render(root, page)
    lift_out_of_headings(root)  # a table of contents in an <h2> follows it, not bold and large
    tables.render(root)
    lists.render(root)
    if flattened:
        warnings.append(f"the page nests its markup more than {nesting.MAX_DEPTH} levels deep;"
                        " the deepest parts are kept as plain text")
    return PreparedPage(page, root, _image_sources(root, page), warnings)


def note_html(note: str) -> str:
    """The personal message, Markdown -> sanitized HTML (raw HTML in it stays text)."""
    from markdown_it import MarkdownIt  # noqa: PLC0415 - only a note needs it

    return sanitize(MarkdownIt("commonmark", {"html": False}).render(note))


def _meta_line(page: Page) -> str:
    bits = [page.space or "", f"version {page.version}" if page.version else ""]
    return " · ".join(bit for bit in bits if bit)


def _sent_by(sender: Sender) -> str:
    who = f"{sender.name} <{sender.address}>" if sender.name else sender.address
    return f"Sent by {who} with mailpage."


def note_images(note: str | None) -> tuple[str, ...]:
    """The web images of the note, to fetch (or not) as the page's are, by
    ``--external-images``: its other images have nothing to load and are left out."""
    if not note:
        return ()
    sources = (str(img.get("src") or "").strip()
               for img in find(parse(note_html(note), "note"), "descendant::img"))
    return tuple(dict.fromkeys(src for src in sources if urlsplit(src).scheme in ("http", "https")))


def _note(note: str, image_data: dict[str, Resource | None],
          cid_domain: str) -> tuple[str, tuple[InlineImage, ...], int]:
    """The note's HTML with its images embedded (those in ``image_data``) or linked, as the
    page's: never loaded from the web by the reader's mail client."""
    root = parse(note_html(note), "note")
    inline, missing = images.embed(root, image_data, cid_domain)
    return serialize(root), inline, missing


def _header(page: Page, note: str | None) -> str:
    """``note``: the note's HTML."""
    esc = htmllib.escape
    header = [f'<h1 class="mp-title">{esc(page.title)}</h1>']
    if meta := _meta_line(page):
        header.append(f'<p class="mp-meta">{esc(meta)}</p>')
    if note:
        header.append(f'<div data-mp-box="message">{note}</div>')
    if page.url:
        header.append(f'<p class="mp-view"><a href="{esc(page.url)}">View in Confluence</a></p>')
    root = parse("".join(header))
    boxes.to_tables(root)
    return serialize(root)


def _right_to_left(root: Element) -> bool:
    """Most of the page's blocks marked right-to-left: the page is."""
    blocks = find(root, "descendant::*[@dir][self::p or self::div or self::li or self::h1 or"
                        " self::h2 or self::h3 or self::td]")
    if not blocks:
        return False
    rtl = [b for b in blocks if str(b.get("dir")).lower() == "rtl"]
    every = find(root, "descendant::*[self::p or self::div or self::li or self::h1 or"
                       " self::h2 or self::h3 or self::td]")
    return len(rtl) * 2 > len(every)


# Scripts that name their language well enough for a screen reader's voice; else "und"
# (BCP 47: undetermined), which is honest where a guess would be wrong.
_SCRIPTS = (("he", "\u0590-\u05ff"), ("ar", "\u0600-\u06ff"), ("ja", "\u3040-\u30ff"),
            ("ko", "\uac00-\ud7af"), ("zh", "\u4e00-\u9fff"), ("el", "\u0370-\u03ff"),
            ("ru", "\u0400-\u04ff"), ("th", "\u0e00-\u0e7f"))


def _language(root: Element) -> str:
    """The page's language where its script tells it (kana before Han: Japanese uses both)."""
    text = "".join(root.itertext())[:20_000]
    letters = sum(c.isalpha() for c in text) or 1
    for language, chars in _SCRIPTS:
        if len(re.findall(f"[{chars}]", text)) * 4 > letters:
            return language
    return "und"


def _document(prepared: PreparedPage, sender: Sender, note: str | None) -> str:
    page = prepared.page
    esc = htmllib.escape
    rtl = _right_to_left(prepared.root)
    direction = ' dir="rtl"' if rtl else ""
    return (
        '<!DOCTYPE html><html><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        '<meta name="color-scheme" content="light dark">'
        '<meta name="supported-color-schemes" content="light dark">'
        f"<title>{esc(page.title)}</title><style>{MAIL_CSS}\n{DARK_CSS}</style></head>"
        f'<body><table class="mp-frame" role="presentation" lang="{_language(prepared.root)}"'
        f' dir="{"rtl" if rtl else "ltr"}" width="100%" cellpadding="0" '
        'cellspacing="0" bgcolor="#ffffff"><tr><td class="mp-main">'
        + _header(page, note)
        + f'<div class="mp-page"{direction}>{serialize(prepared.root)}</div>'
        + f'<p class="mp-footer">{esc(_sent_by(sender))}</p>'
        + "</td></tr></table></body></html>"
    )


def finish(
    prepared: PreparedPage,
    image_data: dict[str, Resource | None],
    *,
    sender: Sender,
    note: str | None = None,
    cid_domain: str = "mailpage.invalid",
) -> RenderedPage:
    """Embed the images (``None``: not available), wrap, inline CSS, write the text part."""
    page = prepared.page
    text = text_alternative(prepared.root, title=page.title, meta=_meta_line(page), note=note,
                            url=page.url, sent_by=_sent_by(sender))
    boxes.to_tables(prepared.root)
    fitted = scaling.fit(prepared.root, image_data)
    if fitted.warning:
        prepared.warnings.append(fitted.warning)
    inline, missing = images.embed(prepared.root, fitted.images, cid_domain)
    note_part, note_inline, note_missing = _note(note, image_data, cid_domain) if note else (
        None, (), 0)
    inline = tuple({i.cid: i for i in (*inline, *note_inline)}.values())
    if missing + note_missing:
        prepared.warnings.append(
            f"{count(missing + note_missing, 'image')} could not be found and"
            f" {'was' if missing + note_missing == 1 else 'were'} left out")
    html = css_inline.inline(
        _document(prepared, sender, note_part), load_remote_stylesheets=False,
        keep_at_rules=True,
    )
    return RenderedPage(html, text, inline, tuple(prepared.warnings))


def with_data_uris(rendered: RenderedPage) -> str:
    """The mail HTML with each ``cid:`` image as a ``data:`` URI, for a browser."""
    html = rendered.html
    for inline in rendered.images:
        encoded = base64.b64encode(inline.image.data).decode("ascii")
        data_uri = f"data:{inline.image.content_type};base64,{encoded}"
        html = html.replace(f"cid:{inline.cid}", data_uri)
    return html
