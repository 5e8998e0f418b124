"""Boxes (panels, expands, code, placeholders). The macro modules mark a box as
``<div data-mp-box="KIND">``; the text alternative quotes it; for the HTML, :func:`to_tables`
turns each into a one-cell table with its colours on the cell: Word, which renders Outlook's
mail, ignores most CSS on a div but honours a cell's ``bgcolor`` and border."""

from __future__ import annotations

from mailpage_cli.render.styles import PANELS
from mailpage_cli.render.tree import Element, find, move_children, new, replace


def box(kind: str, title: str = "") -> Element:
    """An empty marked box, with its title if any; fill it and put it in place."""
    div = new("div", data_mp_box=kind)
    if title:
        heading = new("p", **{"class": "mp-box-title"})
        heading.append(new("strong", title))
        div.append(heading)
    return div


def to_tables(root: Element) -> None:
    for marked in reversed(find(root, "descendant::div[@data-mp-box]")):  # innermost first
        kind = str(marked.get("data-mp-box"))
        colours = PANELS.get(kind)
        table = new("table", role="presentation", width="100%", cellpadding="0",
                    cellspacing="0", style="border-collapse: collapse; margin: 8px 0;")
        row = new("tr")
        cell = new("td", **{"class": "mp-code" if kind == "code" else f"mp-box mp-box-{kind}"})
        if colours:
            cell.set("bgcolor", colours.background)
        if background := marked.get("data-mp-background"):
            text = colours.text if colours else PANELS["panel"].text
            cell.set("bgcolor", background)
            cell.set("style", f"background-color: {background}; color: {text};")
        table.append(row)
        row.append(cell)
        move_children(marked, cell)
        replace(marked, table)
