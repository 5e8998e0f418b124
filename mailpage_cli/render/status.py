"""Status macros -> coloured inline spans (in the text alternative: ``[DONE]``)."""

from __future__ import annotations

from bs4 import BeautifulSoup

from mailpage_cli.render.styles import LOZENGES


def render(soup: BeautifulSoup) -> None:
    for lozenge in soup.select(".status-macro, .aui-lozenge"):
        classes: list[str] = list(lozenge.get("class") or [])
        colour = next((c.removeprefix("aui-lozenge-") for c in classes
                       if c.startswith("aui-lozenge-") and c.removeprefix("aui-lozenge-")
                       in LOZENGES), "")
        css = ["mp-lozenge", f"mp-lozenge-{colour or 'default'}"]
        if "aui-lozenge-subtle" in classes:
            css.append("mp-subtle")
        text = " ".join(lozenge.get_text(" ").split()).upper()
        span = soup.new_tag("span", attrs={"class": " ".join(css), "data-status": text})
        span.string = text
        lozenge.replace_with(span)
