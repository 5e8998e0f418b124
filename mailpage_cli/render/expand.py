"""Expand macros, which need JavaScript to open, are shown open under their title."""

from __future__ import annotations

from bs4 import BeautifulSoup

from mailpage_cli.render.boxes import box


def render(soup: BeautifulSoup) -> None:
    for container in reversed(soup.select(".expand-container")):  # innermost first
        control = container.select_one(".expand-control")
        label = container.select_one(".expand-control-text")
        title = " ".join(label.get_text(" ").split()) if label else ""
        content = container.select_one(".expand-content")
        if control is not None:
            control.decompose()
        marked = box(soup, "expand", f"▾ {title or 'Details'}")
        for child in list((content or container).contents):
            marked.append(child.extract())
        container.replace_with(marked)
