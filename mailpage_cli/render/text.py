"""The plain-text alternative: Markdown a person can read, with the links, never empty.

A simplified copy of the rendered page is written as Markdown bottom-up, in the form
markdownify would give: tables, code, inline formatting, plain paragraphs, headings, lists
and boxes become opaque ``mp-text`` nodes (images become their alt text, statuses
``[DONE]``; wrappers that mean nothing in text are gone). markdownify (``walk``) converts
whatever is left, so its tree walk, the slow part of a text alternative, is kept to the
markup that needs it, and a page written through does without it (and without loading bs4).
"""

from __future__ import annotations

import copy
import re

from lxml import etree

from mailpage_cli.render.images import alt_text
from mailpage_cli.render.tree import (
    Element,
    new,
    remove,
    replace,
    replace_with_text,
    serialize,
    text_content,
    unwrap,
)

_BLANK_LINES = re.compile(r"\n{3,}")
_NEWLINE = re.compile(r"[\t \r\n]*[\r\n][\t \r\n]*")
_SPACES = re.compile(r"[\t ]+")
_LINE = re.compile(r"^(.*)", re.MULTILINE)
# Simple inline formatting (no elements inside) is written as Markdown before markdownify
# walks the tree: the same marks it would write, without a node each.
_INLINE_MARKS = {"strong": "**", "b": "**", "em": "*", "i": "*", "code": "`"}
_INLINE_TAGS = ("strong", "b", "em", "i", "code", "a")
_BLOCK_TAGS = ("p", "h1", "h2", "h3", "h4", "h5", "h6")


def _inline(element: Element) -> str:
    """A table cell's content as one line of Markdown: its text, links kept."""
    parts = [element.text or ""]
    for child in element:
        if child.tag == "a" and child.get("href"):
            parts.append(f"[{' '.join(text_content(child).split())}]({child.get('href')})")
        elif child.tag == "img":
            parts.append(alt_text(child))
        elif child.tag in ("br", "p", "li", "div") and len(parts) > 1:
            parts.append(" " + _inline(child))
        else:
            parts.append(_inline(child))
        parts.append(child.tail or "")
    return " ".join("".join(parts).split())


def _table(table: Element) -> str:
    # Inner tables are Markdown already (the caller goes innermost first): every row here
    # is this table's.
    rows = [[_inline(cell).replace("|", "\\|") for cell in row.iterchildren("td", "th")]
            for row in table.iter("tr")]
    rows = [row for row in rows if row]
    if not rows:
        return ""
    width = max(len(row) for row in rows)
    lines = ["| " + " | ".join(row + [""] * (width - len(row))) + " |" for row in rows]
    lines.insert(1, "| " + " | ".join(["---"] * width) + " |")
    return "\n".join(lines)


def _opaque(element: Element, markdown: str) -> None:
    replace(element, new("mp-text", data_text=markdown))


def _inline_leaf(element: Element) -> str:
    """An inline element holding only text, as the Markdown markdownify would write."""
    words = " ".join((element.text or "").split())
    if element.tag == "a":
        href = str(element.get("href") or "")
        if not href:
            return words
        return f"<{href}>" if words == href else f"[{words}]({href})"
    mark = _INLINE_MARKS[element.tag]
    return f"{mark}{words}{mark}" if words else ""


def _words(text: str | None) -> str:
    """Text with its whitespace collapsed as markdownify collapses it."""
    return _SPACES.sub(" ", _NEWLINE.sub("\n", text or ""))


def _list(listing: Element) -> str | None:
    """A list holding only text, written Markdown and lists like it, as markdownify writes
    it; ``None`` for any other list, which markdownify then walks."""
    if (listing.text or "").strip():
        return None
    start = str(listing.get("start") or "")
    number = int(start) if start.isdigit() else 1
    items: list[str] = []
    for item in listing:
        if item.tag != "li" or (item.tail or "").strip():
            return None
        pieces = [_words(item.text)]
        for child in item:
            pieces[-1] = pieces[-1].rstrip()  # markdownify trims text beside a block
            if child.tag == "mp-text":
                pieces.append(f"\n\n{child.get('data-text')}\n\n")
            elif child.tag in ("ul", "ol") and (inner := _list(child)) is not None:
                pieces.append("\n" + inner)
            else:
                return None
            pieces.append(_words(child.tail).lstrip())
        content = _BLANK_LINES.sub("\n\n", "".join(pieces).strip())
        if not content:
            return None
        bullet = f"{number + len(items)}. " if listing.tag == "ol" else "- "
        items.append(bullet + _indented(content, " " * len(bullet))[len(bullet):])
    return "\n".join(items) if items else None


def _indented(text: str, prefix: str, empty: str = "") -> str:
    """Every line of ``text`` after ``prefix``; empty lines become ``empty``."""
    return _LINE.sub(lambda line: prefix + line[1] if line[1] else empty, text)


def _simplified(root: Element) -> Element:
    """A copy of the page with all it can be written as Markdown, leaving markdownify
    only what it must walk."""
    page = copy.deepcopy(root)
    for img in list(page.iter("img")):
        replace_with_text(img, alt_text(img))
    for status in [s for s in page.iter("span") if s.get("data-status")]:
        replace_with_text(status, f"[{status.get('data-status')}]")
    for table in reversed(list(page.iter("table"))):  # innermost first
        _opaque(table, _table(table))
    for pre in list(page.iter("pre")):
        fence = "```" + str(pre.get("data-language") or "")
        _opaque(pre, f"{fence}\n{text_content(pre).rstrip()}\n```")
    etree.strip_tags(page, "span", "font", "u", "time", "colgroup", "col", "section")
    for div in [d for d in page.iter("div") if d.get("data-mp-box") in (None, "code")]:
        unwrap(div)
    _write_leaves(page)
    _write_lists(page)
    _merge_runs(page)
    _write_boxes(page)
    _merge_runs(page)
    # What markdownify never reads, it need not parse (data-* stay: cheaper than a walk).
    etree.strip_attributes(page, "class", "style", "id", "width", "height", "title", "dir",
                           "lang", "align", "valign", "colspan", "rowspan", "bgcolor")
    return page


def _write_leaves(page: Element) -> None:
    """Inline elements and blocks holding only text, written as Markdown."""
    # Inline ones innermost first, until none is left: **bold [link](href)** takes two rounds.
    for _ in range(4):
        leaves = [e for e in page.iter(*_INLINE_TAGS) if not len(e)]
        if not leaves:
            break
        for element in reversed(leaves):
            text = _inline_leaf(element)
            if text and (element.tail or "")[:1].isalnum():
                text += " "
            replace_with_text(element, text)
    # Blocks of plain text: a heading or paragraph with no element left inside.
    for leaf in [e for e in page.iter(*_BLOCK_TAGS) if not len(e)]:
        words = " ".join((leaf.text or "").split())
        level = int(leaf.tag[1]) if leaf.tag != "p" else 0
        _opaque(leaf, f"{'#' * level} {words}" if level else words)


def _write_lists(page: Element) -> None:
    """Outermost lists that hold only text and Markdown, written as Markdown."""
    for listing in [e for e in page.iter("ul", "ol") if next(e.iterancestors("li"), None) is None]:
        markdown = _list(listing)
        if markdown is not None:
            _opaque(listing, markdown)


def _write_boxes(page: Element) -> None:
    """Boxes (panels, notes) that hold only Markdown, innermost first, as quotes."""
    boxes = [d for d in page.iter("div") if d.get("data-mp-box") not in (None, "code")]
    for box in reversed(boxes):
        if not (box.text or "").strip() and all(
                child.tag == "mp-text" and not (child.tail or "").strip() for child in box):
            quoted = "\n\n".join(str(child.get("data-text")) for child in box).strip()
            if quoted:
                _opaque(box, _indented(quoted, "> ", ">"))
            else:  # nothing to quote: a lone ">" would be noise
                remove(box)


def _merge_runs(page: Element) -> None:
    """Neighbouring pieces of written Markdown become one: fewer nodes for bs4 to build and
    markdownify to walk, the same text."""
    for run_start in [e for e in page.iter("mp-text")
                      if (p := e.getprevious()) is None or p.tag != "mp-text"
                      or (p.tail or "").strip()]:
        texts = [str(run_start.get("data-text"))]
        following = run_start.getnext()
        while (following is not None and following.tag == "mp-text"
               and not (run_start.tail or "").strip()):
            texts.append(str(following.get("data-text")))
            run_start.tail = following.tail
            following.getparent().remove(following)
            following = run_start.getnext()
        run_start.set("data-text", "\n\n".join(texts))


def text_alternative(root: Element, *, title: str, meta: str, note: str | None,
                     url: str | None, sent_by: str) -> str:
    page = _simplified(root)
    if not (page.text or "").strip() and all(
            child.tag == "mp-text" and not (child.tail or "").strip() for child in page):
        body = "\n\n".join(str(child.get("data-text")) for child in page)  # all written
    else:
        from mailpage_cli.render.walk import markdown  # noqa: PLC0415 - bs4 is slow to load

        body = markdown(serialize(page))
    body = _BLANK_LINES.sub("\n\n", "\n".join(line.rstrip() for line in body.splitlines()))
    parts = [f"# {title}"]
    if meta:
        parts.append(meta)
    if note:
        parts.append(note.strip())
    if url:
        parts.append(f"View in Confluence: {url}")
    parts.append(body.strip() or "(This page has no text.)")
    parts.append(f"-- \n{sent_by}")
    return "\n\n".join(parts) + "\n"
