"""Status macros -> coloured inline spans (in the text alternative: ``[DONE]``)."""

from __future__ import annotations

from mailpage_cli.render.styles import LOZENGES
from mailpage_cli.render.tree import Element, classes, new, replace, text_of


def render(root: Element) -> None:
    lozenges = [e for e in root.iter("span", "div")
                if "status-macro" in (names := classes(e)) or "aui-lozenge" in names]
    for lozenge in lozenges:
        names = classes(lozenge)
        colour = next((c.removeprefix("aui-lozenge-") for c in names
                       if c.startswith("aui-lozenge-")
                       and c.removeprefix("aui-lozenge-") in LOZENGES), "")
        css = ["mp-lozenge", f"mp-lozenge-{colour or 'default'}"]
        if "aui-lozenge-subtle" in names:
            css.append("mp-subtle")
        text = text_of(lozenge).upper()
        replace(lozenge, new("span", text, **{"class": " ".join(css), "data-status": text}))
