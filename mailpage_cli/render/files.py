"""Embedded files (the view-file macro, and the PDF and Office macros before it): the preview
Confluence shows, when there is one, and always the file's name, linked to the file. A mail
never loses the fact that a file was there, even when the preview cannot be had."""

from __future__ import annotations

from urllib.parse import quote, unquote, unquote_plus, urlsplit

from mailpage_cli.models import Page
from mailpage_cli.render.images import PREVIEW
from mailpage_cli.render.tree import (
    Element,
    find,
    has_class,
    new,
    replace,
    text_of,
    with_class,
)

# Older sites name the macro after the kind of file; they show it like view-file.
MACROS = {"view-file", "viewpdf", "viewdoc", "viewxls", "viewppt"}
SYMBOL = "\N{PAPERCLIP}"


def render(root: Element, page: Page) -> None:
    for macro in find(root, "descendant::*[@data-macro-name]"):
        if macro.get("data-macro-name") not in MACROS:
            continue
        del macro.attrib["data-macro-name"]  # handled here, not as a macro shown elsewhere
        if not with_class(macro, "confluence-embedded-file", "a"):
            _named_only(macro, page)
    for link in with_class(root, "confluence-embedded-file", "a"):
        if not _is_image(link):
            shown = _embedded(link)
            replace(link, shown)
            _break_after(shown)


def _break_after(shown: Element) -> None:
    """A preview stands on lines of its own: what follows it (another file, often) starts on
    the next line."""
    if not find(shown, f"descendant::img[@{PREVIEW}]"):
        return
    outer = shown
    while (outer.getparent() is not None and outer.getparent().tag == "span"
           and len(outer.getparent()) == 1 and not (outer.getparent().text or "").strip()):
        outer = outer.getparent()
    if outer.getnext() is not None or (outer.tail or "").strip():
        shown.append(new("br"))


def _is_image(link: Element) -> bool:
    """A thumbnail of a picture, linked to the picture: an image, not a file."""
    declared = str(link.get("data-linked-resource-content-type") or link.get("data-mime-type")
                   or "")
    return declared.startswith("image/") or bool(
        find(link, f"descendant::img[{has_class('confluence-embedded-image')}]"))


def name_of(link: Element) -> str:
    """The file's name: as Confluence names it, else the last part of its address."""
    if alias := " ".join(str(link.get("data-linked-resource-default-alias") or "").split()):
        return alias
    for attribute in ("data-file-src", "href"):
        if last := unquote(urlsplit(str(link.get(attribute) or "")).path.rpartition("/")[2]):
            return last
    return text_of(link) or "file"


def _caption(name: str, href: str | None) -> Element:
    text = f"{SYMBOL} {name}"
    return new("a", text, href=href) if href else new("span", text)


def _embedded(link: Element) -> Element:
    """The preview (linked to the file) over the file's name (linked too)."""
    name, href = name_of(link), link.get("href")
    shown = new("span", **{"class": "mp-file"})
    previews = find(link, "descendant::img[@src]")
    if previews:
        preview = previews[0]
        preview.set(PREVIEW, "")
        if not str(preview.get("alt") or "").strip():
            preview.set("alt", f"Preview of {name}")
        preview.tail = None
        holder = new("a", href=href) if href else new("span")
        holder.append(preview)
        shown.append(holder)
        shown.append(new("br"))
    shown.append(_caption(name, href))
    return shown


def _named_only(macro: Element, page: Page) -> None:
    """A macro that names its attachment without rendering it: the name, linked to the
    attachment of the page (made absolute with the page's other links)."""
    named = [str(macro.get("data-attachment") or ""),
             *(str(value) for value in find(macro, "descendant::*/@data-attachment-name"))]
    name = next((unquote_plus(value) for value in named if value.strip()), "")
    if not name:
        return
    href = f"download/attachments/{page.id}/{quote(name)}" if page.id else None
    block = new("div", **{"class": "mp-file"})
    block.append(_caption(name, href))
    replace(macro, block)
