"""The page's own colours: a background set without a text colour gets the text colour too,
so that a client darkening the mail cannot leave dark text on a light patch turned dark.
Cloud writes text colours as page ``<style>`` rules keyed by ``data-colorid``; the sanitizer
drops ``<style>``, so :func:`page_rules` reads them first and :func:`render` inlines them."""

from __future__ import annotations

import re

from mailpage_cli import contrast
from mailpage_cli.render.styles import COLOUR, PAGE
from mailpage_cli.render.tree import Element, find

# Only a bare attribute selector: the dark-mode copies (html[data-color-mode=dark] [...])
# are left out, as inline colours have no dark variant either.
_COLOR_ID = re.compile(r"""\[data-colorid=["']?([\w-]+)["']?\]""")
_PROPERTIES = ("color", "background-color")
_OPEN = re.compile("<style", re.IGNORECASE)
_CLOSE = re.compile("</style", re.IGNORECASE)


def declarations(style: str) -> dict[str, str]:
    """A ``style`` attribute's properties (lower case) and values; the first one counts."""
    found: dict[str, str] = {}
    for declaration in style.split(";"):
        name, colon, value = declaration.partition(":")
        if colon:
            found.setdefault(name.strip().lower(), value.strip())
    return found


def _declares(style: str, prop: str) -> bool:
    return prop in declarations(style)


def _style_sheets(html: str) -> list[str]:
    """The text of each ``<style>`` element: a scan from tag to tag, linear on any input."""
    sheets = []
    start = _OPEN.search(html)
    while start:
        opened = html.find(">", start.end())
        closed = _CLOSE.search(html, opened) if opened != -1 else None
        if closed is None:
            break
        sheets.append(html[opened + 1:closed.start()])
        start = _OPEN.search(html, closed.end())
    return sheets


def page_rules(html: str) -> dict[str, dict[str, str]]:
    """``data-colorid`` -> its light-mode colours, from the raw page's ``<style>`` elements.
    Only values that are plain colours are kept (no ``url()`` can come through)."""
    rules: dict[str, dict[str, str]] = {}
    for sheet in _style_sheets(html):
        for rule in sheet.split("}"):  # a split, not a regex: linear on any input
            selectors, _, body = rule.partition("{")
            colours = {prop: value.removesuffix("!important").strip()
                       for prop, value in declarations(body).items() if prop in _PROPERTIES}
            colours = {p: v for p, v in colours.items() if COLOUR.fullmatch(v)}
            if not colours:
                continue
            for selector in selectors.split(","):
                if match := _COLOR_ID.fullmatch(selector.strip()):
                    rules.setdefault(match[1], {}).update(colours)
    return rules


def _inline(root: Element, rules: dict[str, dict[str, str]]) -> None:
    for element in find(root, "descendant::*[@data-colorid]"):
        colours = rules.get(str(element.get("data-colorid")), {})
        style = str(element.get("style") or "").strip().rstrip(";")
        added = [f"{prop}: {value}" for prop, value in colours.items()
                 if not _declares(style, prop)]  # the element's own style wins, as in CSS
        if added:
            element.set("style", "; ".join([style, *added] if style else added))


def render(root: Element, rules: dict[str, dict[str, str]] | None = None) -> None:
    """Inline the page's ``data-colorid`` colours (``rules``), give every background its
    text colour, and darken text colours too pale to read on theirs."""
    if rules:
        _inline(root, rules)
    for element in find(root, "descendant::*[contains(@style, 'background')]"):
        style = str(element.get("style")).strip().rstrip(";")
        if _declares(style, "background-color") and not _declares(style, "color"):
            element.set("style", f"{style}; color: {PAGE.text}")
    _readable(root)


def _readable(root: Element) -> None:
    """Cloud's palette (#ff5630 red, #36b37e green, #ffc400 yellow) is below WCAG's 4.5:1 on
    white: such a colour is darkened, its hue kept, just enough to be read."""
    for element in find(root, "descendant-or-self::*[contains(@style, 'color')]"):
        declared = declarations(str(element.get("style")))
        colour = contrast.parse(declared.get("color", ""))
        if colour is None:
            continue
        background = next((found for node in (element, *element.iterancestors())
                           if (found := contrast.parse(declarations(
                               str(node.get("style") or "")).get("background-color", "")))),
                          contrast.WHITE)
        fixed = contrast.readable(colour, background)
        if fixed != colour:
            declared["color"] = contrast.to_hex(fixed)
            element.set("style", "; ".join(f"{k}: {v}" for k, v in declared.items()))
