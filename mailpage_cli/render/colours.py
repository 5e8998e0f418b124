"""The page's own colours: a background set without a text colour gets the text colour too,
so that a client darkening the mail cannot leave dark text on a light patch turned dark."""

from __future__ import annotations

from mailpage_cli.render.styles import PAGE
from mailpage_cli.render.tree import Element, find


def _declares(style: str, prop: str) -> bool:
    return any(d.split(":")[0].strip().lower() == prop for d in style.split(";") if ":" in d)


def render(root: Element) -> None:
    for element in find(root, "descendant::*[contains(@style, 'background')]"):
        style = str(element.get("style")).strip().rstrip(";")
        if _declares(style, "background-color") and not _declares(style, "color"):
            element.set("style", f"{style}; color: {PAGE.text}")
