"""Confluence tables: borders and padding as attributes too (Outlook), highlighted cells with
both colours set, and widths that fit the mail column.

A page's tables are laid out for a wiki page (a 981 px colgroup, a 1,278 px relative table);
the mail column is 760 px. Fixed widths wider than the column become percentages of the
same proportions, percentages stay, and every width is written both as CSS and as the
``width`` attribute that Outlook's Word engine reads, the two saying the same. Long tokens
(paths, identifiers) get break opportunities, so a column can be as narrow as its longest
word. The horizontal scroll wrapper stays for what still cannot fit (fifteen columns).
"""

from __future__ import annotations

import re

from mailpage_cli.render.styles import COLOUR, HEADER_CELL, PAGE
from mailpage_cli.render.tree import Element, classes, new

COLUMN = 720  # px: the mail column (760 px) less its padding
MANY_COLUMNS = 8  # from this many on, cells get less padding:
CROWDED_PADDING = 4  # px
LONG_WORD = 20  # characters: a token longer than this may break

_HIGHLIGHTS = {
    "grey": "#f4f5f7", "red": "#ffebe6", "green": "#e3fcef", "blue": "#deebff",
    "yellow": "#fffae6", "purple": "#eae6ff", "teal": "#e6fcff",
}
_WIDTH = re.compile(r"(?:^|;)\s*width\s*:\s*([\d.]+)\s*(px|%)?\s*(?:;|$)", re.IGNORECASE)
_WIDTH_DECLARATION = re.compile(r"(?:^|;)\s*width\s*:[^;]*", re.IGNORECASE)
_LONG = re.compile(rf"\S{{{LONG_WORD + 1},}}")
# Where a long token may break: after a separator, or between a lower-case letter and a
# capital (CamelCase); a piece still long breaks every 12 characters.
_JOINT = re.compile(r"(?<=[/_.:=&?,;\\-])(?=.)|(?<=[a-z])(?=[A-Z])")
_PIECE = 12


def render(root: Element) -> None:
    for table in list(root.iter("table")):  # the loop adds <wbr> elements
        wrapper = table.getparent()
        wrapped = wrapper is not None and "table-wrap" in classes(wrapper)
        if not wrapped and "confluenceTable" not in classes(table):
            continue
        table.set("border", "1")
        crowded = _columns(table) >= MANY_COLUMNS
        table.set("cellpadding", str(CROWDED_PADDING if crowded else 6))
        table.set("cellspacing", "0")
        if wrapped:
            wrapper.set("class", "mp-wide")
            # A scroll box whose content does not widen the mail column: what still cannot
            # fit scrolls on its own instead of making the whole mail scroll (where
            # containment is known; elsewhere it is ignored, and nothing is lost).
            wrapper.set("style", "overflow-x: auto; contain: inline-size;")
        _fit(table)
        for cell in _own_cells(table):
            _style(cell, crowded)
            _break_long_words(cell)


def _own_cells(table: Element) -> list[Element]:
    """The table's cells, not those of the tables inside it."""
    return [cell for row in table.iter("tr") if _table_of(row) is table
            for cell in row.iterchildren("td", "th")]


def _table_of(element: Element) -> Element:
    return next(element.iterancestors("table"))


def _columns(table: Element) -> int:
    rows = [row for row in table.iter("tr") if _table_of(row) is table]
    return max((sum(int(c.get("colspan") or 1) if str(c.get("colspan") or "1").isdigit() else 1
                    for c in row.iterchildren("td", "th")) for row in rows), default=0)


def _width(element: Element) -> tuple[float, str] | None:
    """The element's width, from its style or else its ``width`` attribute: (value, unit)."""
    match = _WIDTH.search(str(element.get("style") or ""))
    if match:
        return float(match[1]), match[2] or "px"
    attribute = str(element.get("width") or "").strip()
    found = re.fullmatch(r"([\d.]+)\s*(px|%)?", attribute)
    return (float(found[1]), found[2] or "px") if found else None


def _set_width(element: Element, width: str | None) -> None:
    """Write (or with ``None`` drop) the width, as CSS and as the attribute alike."""
    style = _WIDTH_DECLARATION.sub("", str(element.get("style") or "")).strip().strip(";")
    if width is None:
        element.attrib.pop("width", None)
    else:
        style = f"{style}; width: {width}" if style else f"width: {width}"
        element.set("width", width.removesuffix("px"))
    if style:
        element.set("style", style.strip().strip(";").strip() + ";")
    else:
        element.attrib.pop("style", None)


def _fit(table: Element) -> None:
    """Fixed widths wider than the mail column become percentages of the same proportions;
    percentages and widths that fit stay, written the same way as CSS and attribute."""
    columns = [col for col in table.iter("col") if _table_of(col) is table]
    fixed = [(col, width) for col in columns if (width := _width(col)) and width[1] == "px"]
    table_width = _width(table)
    total = sum(value for _, (value, _) in fixed)
    if table_width and table_width[1] == "px":
        total = max(total, table_width[0])
    too_wide = total > COLUMN
    if too_wide:
        _set_width(table, "100%")
        for col, (value, _) in fixed:
            _set_width(col, f"{100 * value / total:.1f}%")
    elif table_width:
        value, unit = table_width
        _set_width(table, f"{value:g}{unit}")
    for col in columns:
        if (width := _width(col)) and not (too_wide and width[1] == "px"):
            _set_width(col, f"{width[0]:g}{width[1]}")
    for cell in _own_cells(table):
        width = _width(cell)
        if width and width[1] == "px" and (too_wide or width[0] > COLUMN):
            _set_width(cell, None)  # the columns' percentages say it now


def _style(cell: Element, crowded: bool) -> None:
    colour = _highlight(cell)
    if colour:
        cell.set("bgcolor", colour)
        _add_style(cell, f"background-color: {colour}; color: {PAGE.text};")
    elif cell.tag == "th" or "confluenceTh" in classes(cell):
        cell.set("bgcolor", HEADER_CELL.background)
        cell.set("class", "mp-th")
    # Long words break rather than push the table wider than the column.
    _add_style(cell, "overflow-wrap: break-word; word-wrap: break-word;")
    if crowded:
        _add_style(cell, f"padding: {CROWDED_PADDING}px;")


def _add_style(element: Element, declarations: str) -> None:
    style = str(element.get("style") or "").strip()
    element.set("style", f"{style}{'' if not style or style.endswith(';') else ';'}"
                         f"{' ' if style else ''}{declarations}")


def _break_long_words(cell: Element) -> None:
    """Break opportunities (``<wbr>``) inside tokens longer than LONG_WORD characters, so
    that a path or an identifier does not set the width of its column alone."""
    for element in [cell, *cell.iterdescendants()]:
        if not isinstance(element.tag, str) or element.tag == "pre" or any(
                a.tag == "pre" for a in element.iterancestors()):
            continue
        if element.text and _LONG.search(element.text):
            pieces = _pieces(element.text)
            element.text = pieces[0]
            for index, piece in enumerate(pieces[1:]):
                element.insert(index, _wbr(piece))
        if element is not cell and element.tail and _LONG.search(element.tail):
            pieces = _pieces(element.tail)
            element.tail = pieces[0]
            for piece in reversed(pieces[1:]):
                element.addnext(_wbr(piece))


def _wbr(tail: str) -> Element:
    element = new("wbr")
    element.tail = tail
    return element


def _pieces(text: str) -> list[str]:
    """``text`` cut where its long tokens may break."""
    pieces = [""]
    position = 0
    for token in _LONG.finditer(text):
        pieces[-1] += text[position:token.start()]
        parts: list[str] = []
        for part in _JOINT.split(token[0]):
            parts += [part[i:i + _PIECE] for i in range(0, len(part), _PIECE)] or [""]
        pieces[-1] += parts[0]
        pieces += parts[1:]
        position = token.end()
    pieces[-1] += text[position:]
    return pieces


def _highlight(cell: Element) -> str | None:
    value = str(cell.get("data-highlight-colour") or "")
    if COLOUR.fullmatch(value):
        return value
    for css in classes(cell):
        if css.startswith("highlight-") and css.removeprefix("highlight-") in _HIGHLIGHTS:
            return _HIGHLIGHTS[css.removeprefix("highlight-")]
    return _HIGHLIGHTS.get(value)
