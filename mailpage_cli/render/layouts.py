"""Page layouts (columns, sidebars) -> stacked sections: columns squeeze badly on a phone and
Outlook cannot float them."""

from __future__ import annotations

from bs4 import BeautifulSoup


def render(soup: BeautifulSoup) -> None:
    for cell in soup.select(".columnLayout > .cell"):
        cell.name = "div"
        cell["class"] = "mp-column"
        for inner in cell.select(".innerCell"):
            inner.unwrap()
    for wrapper in soup.select(".contentLayout2, .contentLayout, .columnLayout"):
        wrapper.unwrap()
