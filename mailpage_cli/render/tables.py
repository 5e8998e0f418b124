"""Confluence tables: borders and padding as attributes too (Outlook), highlighted cells with
both colours set, wide tables scrollable."""

from __future__ import annotations

import re

from bs4 import BeautifulSoup

from mailpage_cli.render.styles import HEADER_CELL, PAGE

_COLOUR = re.compile(r"#[0-9a-fA-F]{3,6}|rgb\(\s*\d+\s*,\s*\d+\s*,\s*\d+\s*\)")
_HIGHLIGHTS = {
    "grey": "#f4f5f7", "red": "#ffebe6", "green": "#e3fcef", "blue": "#deebff",
    "yellow": "#fffae6", "purple": "#eae6ff", "teal": "#e6fcff",
}


def render(soup: BeautifulSoup) -> None:
    for table in soup.select("table.confluenceTable, .table-wrap > table"):
        table["border"] = "1"
        table["cellpadding"] = "6"
        table["cellspacing"] = "0"
        wrapper = table.parent
        if wrapper is not None and "table-wrap" in (wrapper.get("class") or []):
            wrapper["class"] = "mp-wide"
        for cell in table.find_all(["td", "th"]):
            colour = _highlight(cell)
            if colour:
                cell["bgcolor"] = colour
                cell["style"] = f"background-color: {colour}; color: {PAGE.text};"
            elif cell.name == "th" or "confluenceTh" in (cell.get("class") or []):
                cell["bgcolor"] = HEADER_CELL.background
                cell["class"] = "mp-th"


def _highlight(cell: object) -> str | None:
    get = getattr(cell, "get", None)
    if get is None:
        return None
    value = str(get("data-highlight-colour") or "")
    if _COLOUR.fullmatch(value):
        return value
    for css in get("class") or []:
        if css.startswith("highlight-") and css.removeprefix("highlight-") in _HIGHLIGHTS:
            return _HIGHLIGHTS[css.removeprefix("highlight-")]
    return _HIGHLIGHTS.get(value)
