"""Page layouts (columns, sidebars) -> stacked sections: columns squeeze badly on a phone and
Outlook cannot float them."""

from __future__ import annotations

from mailpage_cli.render.tree import Element, classes, unwrap

_WRAPPERS = {"contentLayout2", "contentLayout", "columnLayout", "innerCell"}


def render(root: Element) -> None:
    wrappers = []
    for div in root.iter("div"):
        names = classes(div)
        if "cell" in names and "columnLayout" in classes(div.getparent()):
            div.attrib.clear()
            div.set("class", "mp-column")
        elif _WRAPPERS.intersection(names):
            wrappers.append(div)
    for wrapper in wrappers:
        unwrap(wrapper)
