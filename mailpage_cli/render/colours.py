"""The page's own colours: a background set without a text colour gets the text colour too,
so that a client darkening the mail cannot leave dark text on a light patch turned dark."""

from __future__ import annotations

from bs4 import BeautifulSoup

from mailpage_cli.render.styles import PAGE


def _declares(style: str, prop: str) -> bool:
    return any(d.split(":")[0].strip().lower() == prop for d in style.split(";") if ":" in d)


def render(soup: BeautifulSoup) -> None:
    for element in soup.find_all(style=True):
        style = str(element["style"]).strip().rstrip(";")
        if _declares(style, "background-color") and not _declares(style, "color"):
            element["style"] = f"{style}; color: {PAGE.text}"
