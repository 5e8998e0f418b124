"""Boxes (panels, expands, code, placeholders). The macro modules mark a box as
``<div data-mp-box="KIND">``; the text alternative quotes it; for the HTML, :func:`to_tables`
turns each into a one-cell table with its colours on the cell: Word, which renders Outlook's
mail, ignores most CSS on a div but honours a cell's ``bgcolor`` and border."""

from __future__ import annotations

from bs4 import BeautifulSoup, Tag

from mailpage_cli.render.styles import PANELS


def box(soup: BeautifulSoup, kind: str, title: str = "") -> Tag:
    """An empty marked box, with its title if any; fill it and put it in place."""
    div = soup.new_tag("div", attrs={"data-mp-box": kind})
    if title:
        heading = soup.new_tag("p", attrs={"class": "mp-box-title"})
        strong = soup.new_tag("strong")
        strong.string = title
        heading.append(strong)
        div.append(heading)
    return div


def to_tables(soup: BeautifulSoup) -> None:
    for marked in reversed(soup.select("div[data-mp-box]")):  # innermost first
        kind = str(marked["data-mp-box"])
        colours = PANELS.get(kind)
        table = soup.new_tag("table", attrs={
            "role": "presentation", "width": "100%", "cellpadding": "0", "cellspacing": "0",
            "style": "border-collapse: collapse; margin: 8px 0;",
        })
        row = soup.new_tag("tr")
        css = "mp-code" if kind == "code" else f"mp-box mp-box-{kind}"
        cell = soup.new_tag("td", attrs={"class": css})
        if colours:
            cell["bgcolor"] = colours.background
        if background := marked.get("data-mp-background"):
            text = colours.text if colours else PANELS["panel"].text
            cell["bgcolor"] = str(background)
            cell["style"] = f"background-color: {background}; color: {text};"
        table.append(row)
        row.append(cell)
        for child in list(marked.contents):
            cell.append(child.extract())
        marked.replace_with(table)
