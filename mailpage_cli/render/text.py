"""The plain-text alternative: Markdown a person can read, with the links, never empty.

A simplified copy of the rendered page is written as Markdown bottom-up, in the form
markdownify would give: code, inline formatting, plain paragraphs, headings, lists, boxes
and, last, tables become opaque ``mp-text`` nodes (images become their alt text, statuses
``[DONE]``; wrappers that mean nothing in text are gone). markdownify (``walk``) converts
whatever is left, so its tree walk, the slow part of a text alternative, is kept to the
markup that needs it, and a page written through does without it (and without loading bs4).

No two words run together: spaces at the edges of emphasis go outside its marks, and every
block boundary ends a line. A table whose cells are one line each is a Markdown table; one
with a cell of paragraphs, lists or code is a list of rows, each cell a ``Header: words``
line or its header over its indented lines.
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
_STRUCTURED = re.compile(r"(?:[-*+]|\d+\.) |```|\|")  # a list, a fence or a table starts
# Simple inline formatting (no elements inside) is written as Markdown before markdownify
# walks the tree: the same marks it would write, without a node each.
_INLINE_MARKS = {"strong": "**", "b": "**", "em": "*", "i": "*", "code": "`", "s": "~~",
                 "del": "~~", "strike": "~~"}
_INLINE_TAGS = ("a", *_INLINE_MARKS)
# Inline tags that mean nothing in text (markdownify writes their words alone).
_PLAIN_TAGS = ("span", "font", "u", "time", "section", "sub", "sup", "mark", "ins", "small",
               "abbr", "cite", "wbr")
_HEADINGS = ("h1", "h2", "h3", "h4", "h5", "h6")
_BLOCK_TAGS = ("p", *_HEADINGS)
# What starts a line of its own; anything else runs on with the text around it.
_BLOCKS = frozenset({*_BLOCK_TAGS, "div", "ul", "ol", "li", "dl", "dt", "dd", "table", "tr",
                     "td", "th", "pre", "blockquote", "hr", "mp-text"})


def _blocks(element: Element) -> list[str]:
    """What ``element`` holds as Markdown blocks, in order: the pieces written already
    (paragraphs, lists, code, inner tables) and, for anything left, its lines of words.
    Nothing is glued: a block boundary or a ``<br>`` ends a line."""
    blocks: list[str] = []
    line = [element.text or ""]

    def end_line() -> None:
        words = " ".join("".join(line).split())
        if words:
            blocks.append(words)
        line.clear()

    for child in element:
        if child.tag == "mp-text":
            end_line()
            blocks.append(str(child.get("data-text")))
        elif child.tag in ("ul", "ol"):
            end_line()
            blocks.append(_plain_list(child))
        elif child.tag in _BLOCKS or child.tag == "br":
            end_line()
            blocks.extend(_blocks(child))
        else:  # inline: its words, its edges' spaces kept
            text = text_content(child)
            line.append((" " if text[:1].isspace() else "") + " ".join(_blocks(child))
                        + (" " if text[-1:].isspace() else ""))
        line.append(child.tail or "")
    end_line()
    return [block for block in blocks if block.strip()]


def _plain_list(listing: Element) -> str:
    """A list Markdown could not be written for beforehand, item by item."""
    items: list[str] = []
    for item in listing.iterchildren("li"):
        bullet = f"{len(items) + 1}. " if listing.tag == "ol" else "- "
        content = "\n".join(_blocks(item))
        items.append(bullet + _indented(content, " " * len(bullet))[len(bullet):])
    return "\n".join(items)


def _span(cell: Element, attribute: str) -> int:
    value = cell.get(attribute)
    if value is None:
        return 1
    return min(int(value), 1000) if value.isdigit() and int(value) > 0 else 1


def _rows(table: Element) -> list[list[tuple[int, Element]]]:
    """Each row's cells, with the column each cell starts in (merged cells counted)."""
    rows = []
    spanned: dict[int, int] = {}  # column -> rows below still covered by a cell above
    for row in table.iter("tr"):
        cells: list[tuple[int, Element]] = []
        column, covering = 0, dict(spanned)
        spanned = {c: n - 1 for c, n in spanned.items() if n > 1}
        for cell in row.iterchildren("td", "th"):
            while column in covering:
                column += 1
            cells.append((column, cell))
            width, height = _span(cell, "colspan"), _span(cell, "rowspan")
            if height > 1:
                spanned.update(dict.fromkeys(range(column, column + width), height - 1))
            column += width
        if cells:
            rows.append(cells)
    return rows


def _bare(text: str) -> str:
    """A header cell's words without the bold every header cell of a Cloud page has."""
    inner = text[2:-2]
    return inner if text.startswith("**") and text.endswith("**") and "**" not in inner else text


def _table(table: Element) -> str:
    """A table as Markdown. Cells of one line each make a Markdown table; a table with a
    cell of paragraphs, lists or code becomes a list of rows, each cell under its column's
    header, so that no cell's lines run together."""
    # Inner tables are Markdown already (the caller goes innermost first): every row here
    # is this table's.
    rows = [[(column, cell, _blocks(cell)) for column, cell in row] for row in _rows(table)]
    if not rows:
        return ""
    if all(len(blocks) <= 1 and "\n" not in "".join(blocks) for row in rows for *_, blocks in row):
        return _grid(rows)
    header = rows[0] if len(rows) > 1 and all(cell.tag == "th" for _, cell, _ in rows[0]) else []
    labels = {column: _bare(" ".join(blocks)) for column, _, blocks in header}
    items = []
    for row in rows[1:] if header else rows:
        lines = [_cell_lines(labels.get(column, ""), blocks) for column, _, blocks in row if blocks]
        if lines:
            items.append("- " + _indented("\n".join(lines), "  ")[2:])
    return "\n\n".join(items)


def _grid(rows: list[list[tuple[int, Element, list[str]]]]) -> str:
    lines = [[(_bare(text) if cell.tag == "th" else text).replace("|", "\\|")
              for _, cell, blocks in row for text in blocks or [""]] for row in rows]
    width = max(len(line) for line in lines)
    table = ["| " + " | ".join(line + [""] * (width - len(line))) + " |" for line in lines]
    table.insert(1, "| " + " | ".join(["---"] * width) + " |")
    return "\n".join(table)


def _cell_lines(label: str, blocks: list[str]) -> str:
    """One cell of a table written as a list of rows: ``Label: words``, or the label on a
    line of its own over the cell's blocks; without a label, the cell's lines after the
    first are indented under it."""
    text = "\n".join(blocks)
    if "\n" not in text:
        return f"{label}: {text}" if label else text
    if label:
        return f"{label}:\n" + _indented(text, "  ")
    if "\n" in blocks[0] or _STRUCTURED.match(blocks[0]):
        return text  # a list, code or a table: its own marks show where the cell starts
    return blocks[0] + "\n" + _indented("\n".join(blocks[1:]), "  ")


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


def _edges(element: Element, markdown: str) -> str:
    """``markdown`` with the spaces at the edges of ``element``'s text outside it: the marks
    of ``Feels <strong>very comfortable </strong>playing`` close on a word, and the words
    stay apart."""
    text = element.text or ""
    if not markdown:
        return " " if text and text.isspace() else ""
    return ((" " if text[:1].isspace() else "") + markdown
            + (" " if text[-1:].isspace() else ""))


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
        replace_with_text(img, f" {alt_text(img)} ")  # never glued to its neighbours
    for status in [s for s in page.iter("span") if s.get("data-status")]:
        replace_with_text(status, f"[{status.get('data-status')}]")
    for pre in list(page.iter("pre")):
        fence = "```" + str(pre.get("data-language") or "")
        _opaque(pre, f"{fence}\n{text_content(pre).rstrip()}\n```")
    etree.strip_tags(page, *_PLAIN_TAGS, "colgroup", "col")
    for div in [d for d in page.iterdescendants("div") if d.get("data-mp-box") in (None, "code")]:
        _unwrap_div(div)
    lift_out_of_headings(page)
    _write_leaves(page)
    _write_blocks(page)
    # Tables last, innermost first, so that their cells hold Markdown: lists stay lists.
    tables = list(page.iter("table"))
    outer = {ancestor for table in tables for ancestor in table.iterancestors("table")}
    for table in reversed(tables):
        if table in outer:  # what held an inner table can be written now
            for cell in table.iter("td", "th"):
                _write_blocks(cell)
        _opaque(table, _table(table))
    _write_blocks(page)
    # What markdownify never reads, it need not parse (data-* stay: cheaper than a walk).
    etree.strip_attributes(page, "class", "style", "id", "width", "height", "title", "dir",
                           "lang", "align", "valign", "colspan", "rowspan", "bgcolor")
    return page


def _write_blocks(root: Element) -> None:
    """Lists and boxes holding only Markdown, written as Markdown."""
    _write_lists(root)
    _merge_runs(root)
    _write_boxes(root)
    _merge_runs(root)


def _unwrap_div(div: Element) -> None:
    """A ``<div>`` means nothing in text, but its words must not run into those beside it:
    one holding only text is a paragraph, one holding blocks starts and ends a line."""
    if not any(child.tag in _BLOCKS for child in div):
        div.tag = "p"
        return
    div.text = "\n" + (div.text or "")
    div.tail = "\n" + (div.tail or "")
    unwrap(div)


def lift_out_of_headings(page: Element) -> None:
    """Lists, tables and boxes inside a heading (old pages put their table of contents in an
    ``<h2>``) follow it instead: a heading is one short line. Paragraphs in it are words."""
    for heading in [h for h in page.iter(*_HEADINGS) if any(c.tag in _BLOCKS for c in h)]:
        for paragraph in [c for c in heading if c.tag == "p"]:
            paragraph.text = " " + (paragraph.text or "")
            paragraph.tail = " " + (paragraph.tail or "")
            unwrap(paragraph)
        anchor, tail, heading.tail = heading, heading.tail, None
        for block in [c for c in heading if c.tag in _BLOCKS]:
            if block.tail:  # the heading's words after the block stay in the heading
                previous = block.getprevious()
                if previous is not None:
                    previous.tail = (previous.tail or "") + block.tail
                else:
                    heading.text = (heading.text or "") + block.tail
            block.tail = None
            heading.remove(block)
            anchor.addnext(block)
            anchor = block
        anchor.tail = tail
        if not text_content(heading).strip() and not len(heading):
            remove(heading)


def _write_leaves(page: Element) -> None:
    """Inline elements and blocks holding only text, written as Markdown."""
    # Inline ones innermost first, until none is left: **bold [link](href)** takes two rounds.
    for _ in range(4):
        leaves = [e for e in page.iter(*_INLINE_TAGS) if not len(e)]
        if not leaves:
            break
        for element in reversed(leaves):
            text = _edges(element, _inline_leaf(element))
            if text.strip() and not text[-1].isspace() and (element.tail or "")[:1].isalnum():
                text += " "
            replace_with_text(element, text)
    # Blocks of plain text: a heading or paragraph with no element left inside. A table
    # cell's paragraphs need no node: the cell reads them as lines.
    for leaf in [e for e in page.iter(*_BLOCK_TAGS)
                 if not len(e) and e.getparent().tag not in ("td", "th")]:
        words = " ".join((leaf.text or "").split())
        level = int(leaf.tag[1]) if leaf.tag != "p" else 0
        _opaque(leaf, f"{'#' * level} {words}" if level else words)


def _write_lists(page: Element) -> None:
    """Outermost lists that hold only text and Markdown, written as Markdown."""
    for listing in [e for e in page.iter("ul", "ol") if not _in_list_item(e)]:
        markdown = _list(listing)
        if markdown is not None:
            _opaque(listing, markdown)


def _in_list_item(element: Element) -> bool:
    """Inside a list item; a list in a table cell is the cell's own, whatever the table is
    in."""
    for ancestor in element.iterancestors("li", "td", "th"):
        return bool(ancestor.tag == "li")
    return False


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
    # A table cell's pieces stay apart: the cell writes them line by line.
    for run_start in [e for e in page.iter("mp-text")
                      if ((p := e.getprevious()) is None or p.tag != "mp-text"
                          or (p.tail or "").strip()) and e.getparent().tag not in ("td", "th")]:
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
