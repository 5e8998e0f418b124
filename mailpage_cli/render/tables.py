"""Confluence tables: borders and padding as attributes too (Outlook), highlighted cells with
both colours set, wide tables scrollable."""

from __future__ import annotations

from mailpage_cli.render.styles import COLOUR, HEADER_CELL, PAGE
from mailpage_cli.render.tree import Element, classes

_HIGHLIGHTS = {
    "grey": "#f4f5f7", "red": "#ffebe6", "green": "#e3fcef", "blue": "#deebff",
    "yellow": "#fffae6", "purple": "#eae6ff", "teal": "#e6fcff",
}


def render(root: Element) -> None:
    for table in root.iter("table"):
        wrapper = table.getparent()
        wrapped = wrapper is not None and "table-wrap" in classes(wrapper)
        if not wrapped and "confluenceTable" not in classes(table):
            continue
        table.set("border", "1")
        table.set("cellpadding", "6")
        table.set("cellspacing", "0")
        if wrapped:
            wrapper.set("class", "mp-wide")
        for cell in table.iter("td", "th"):
            _style(cell)


def _style(cell: Element) -> None:
    colour = _highlight(cell)
    if colour:
        cell.set("bgcolor", colour)
        cell.set("style", f"background-color: {colour}; color: {PAGE.text};")
    elif cell.tag == "th" or "confluenceTh" in classes(cell):
        cell.set("bgcolor", HEADER_CELL.background)
        cell.set("class", "mp-th")


def _highlight(cell: Element) -> str | None:
    value = str(cell.get("data-highlight-colour") or "")
    if COLOUR.fullmatch(value):
        return value
    for css in classes(cell):
        if css.startswith("highlight-") and css.removeprefix("highlight-") in _HIGHLIGHTS:
            return _HIGHLIGHTS[css.removeprefix("highlight-")]
    return _HIGHLIGHTS.get(value)
