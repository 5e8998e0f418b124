"""Lists whose items are paragraphs (Cloud writes every item as ``<li><p>``) keep a list's
spacing: a paragraph's 1em margins above and below each item made such mails up to 1.7
times taller than the page."""

from __future__ import annotations

from mailpage_cli.render.tree import Element, find

# Between two paragraphs of one item: a little air, as Confluence shows it.
BETWEEN_PARAGRAPHS = "4px"


def render(root: Element) -> None:
    for paragraph in find(root, "descendant::li/p"):
        style = str(paragraph.get("style") or "").strip()
        if "margin" in style.lower():
            continue  # the page set it
        first = paragraph.getprevious() is None and not (paragraph.getparent().text or "").strip()
        margin = "0" if first else f"{BETWEEN_PARAGRAPHS} 0 0 0"
        separator = "" if not style or style.endswith(";") else ";"
        paragraph.set("style", f"{style}{separator}{' ' if style else ''}margin: {margin};")
