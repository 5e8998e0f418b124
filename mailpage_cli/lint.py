"""Checks of a rendered mail against what mail clients and readers need.

Errors (the mail fails someone): an image without alt text, text below 4.5:1 contrast (3:1
for large text), a layout table that screen readers announce as data, content without
``lang``/``dir`` where Gmail drops the ``<html>`` element. Warnings (the mail degrades): an
HTML part past Gmail's clipping budget (encoded, as it travels), an image taller than
Outlook's 1728 px page break, CSS that classic Outlook or Gmail ignores with no fallback.

What each client ignores comes from Can I email (https://www.caniemail.com, MIT licence),
vendored as ``data/caniemail.json`` by ``tools/caniemail.py``: nothing is fetched at run time.
"""

from __future__ import annotations

import binascii
import json
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import TYPE_CHECKING

from mailpage_cli import contrast
from mailpage_cli.choices import Severity
from mailpage_cli.models import RenderedPage
from mailpage_cli.render.colours import declarations
from mailpage_cli.render.images import dimensions, pixels
from mailpage_cli.wording import count

if TYPE_CHECKING:
    from lxml.html import HtmlElement

GMAIL_CLIP = 102_000  # bytes of the encoded HTML part Gmail shows before "[Message clipped]"
OUTLOOK_PAGE = 1728  # px: classic Outlook (Word) cuts taller images at its page break
CLIENTS = {"outlook": "classic Outlook", "gmail": "Gmail"}
# Ignored, they only make the mail plainer: the text stays readable without them.
DECORATIVE = frozenset({
    "border-radius", "box-shadow", "text-shadow", "opacity", "transition", "animation",
    "outline", "text-decoration-color", "text-decoration-style", "text-decoration-thickness",
    "text-underline-offset", "font-kerning", "hyphens", "overflow-wrap", "word-break", "word-wrap",
    "white-space", "tab-size", "cursor", "text-overflow", "box-sizing", "border-spacing",
    "min-width", "min-height", "max-height", "overflow", "overflow-x", "overflow-y",
    "list-style-position", "caption-side", "empty-cells", "table-layout", "clear",
    "background-clip", "background-origin", "background-repeat", "background-position",
    "background-size",
})


@dataclass(frozen=True)
class Finding:
    severity: Severity
    rule: str
    message: str

    def as_dict(self) -> dict[str, str]:
        return {"severity": self.severity, "rule": self.rule, "message": self.message}


def check(rendered: RenderedPage) -> list[Finding]:
    """Every finding for the mail's HTML part, errors first."""
    from lxml import html as lxml_html  # noqa: PLC0415 - lint and send load it anyway

    root = lxml_html.document_fromstring(rendered.html)
    sizes = {image.cid: dimensions(image.image.data) for image in rendered.images}
    names = {image.cid: image.image.filename for image in rendered.images}
    findings = [*_clipping(rendered.html), *_language(root), *_images(root, sizes, names),
                *_layout_tables(root), *_contrast(root), *_css(root)]
    return sorted(findings, key=lambda f: f.severity != "error")


def _clipping(html: str) -> list[Finding]:
    encoded = len(binascii.b2a_qp(html.encode("utf-8"), istext=True))
    if encoded <= GMAIL_CLIP:
        return []
    return [Finding("warning", "gmail-clipping",
                    f"the HTML part is {encoded // 1000} KB as sent: Gmail shows the first"
                    f" {GMAIL_CLIP // 1000} KB and clips the rest")]


def _language(root: HtmlElement) -> list[Finding]:
    body = root.find("body")
    children = [c for c in (body if body is not None else []) if isinstance(c.tag, str)]
    missing = [c.tag for c in children if not (c.get("lang") and c.get("dir"))]
    if not missing:
        return []
    return [Finding("error", "lang-dir",
                    f"{count(len(missing), 'element')} directly in <body>"
                    f" {'lacks' if len(missing) == 1 else 'lack'} lang and dir: Gmail"
                    " drops <html> and its attributes, so screen readers guess the language")]


def _images(root: HtmlElement, sizes: dict[str, tuple[int, int] | None],
            names: dict[str, str]) -> list[Finding]:
    """Alt text and height; an embedded image is named by its file, not its Content-ID."""
    found = []
    for image in root.iter("img"):
        cid = (image.get("src") or "").removeprefix("cid:")
        name = names.get(cid, cid)
        if image.get("alt") is None:
            found.append(Finding("error", "img-alt",
                                 f"an image ({_short(name)}) has no alt text"))
        size = sizes.get(cid)
        height = pixels(image.get("height"))
        if height is None and size:
            width = pixels(image.get("width"))
            height = round(size[1] * width / size[0]) if width and size[0] else size[1]
        if height and height > OUTLOOK_PAGE:
            found.append(Finding("warning", "tall-image",
                                 f"an image ({_short(name)}) is {height} px tall: classic"
                                 f" Outlook cuts it at its {OUTLOOK_PAGE} px page break"))
    return found


def _layout_tables(root: HtmlElement) -> list[Finding]:
    found = 0
    for table in root.iter("table"):
        if table.get("role") == "presentation" or table.find(".//th") is not None:
            continue
        rows = [row for row in table.iter("tr") if _owner(row) is table]
        if rows and all(len([c for c in row if c.tag in ("td", "th")]) <= 1 for row in rows):
            found += 1  # one column, no header: layout, not data
    if not found:
        return []
    return [Finding("error", "layout-table",
                    f'{count(found, "layout table")} without role="presentation": screen'
                    f" readers announce {'it' if found == 1 else 'them'} as data tables")]


def _contrast(root: HtmlElement) -> list[Finding]:
    worst: dict[tuple[str, str], float] = {}
    for element in root.iter():
        if not isinstance(element.tag, str) or not (element.text or "").strip():
            continue
        colour = _inherited(element, _colour_of)
        background = _inherited(element, _background_of) or contrast.WHITE
        if colour is None:
            continue
        found = contrast.ratio(colour, background)
        large = element.tag in ("h1", "h2", "h3") or any(
            a.tag in ("h1", "h2", "h3") for a in element.iterancestors())
        if found < (contrast.LARGE if large else contrast.NORMAL):
            pair = (contrast.to_hex(colour), contrast.to_hex(background))
            worst[pair] = min(found, worst.get(pair, 99))
    return [Finding("error", "contrast",
                    f"text {colour} on {background} has a contrast of {found:.1f}:1"
                    f" (at least {contrast.NORMAL}:1 is needed)")
            for (colour, background), found in worst.items()]


def _css(root: HtmlElement) -> list[Finding]:
    support = _support()
    ignored: dict[tuple[str, str], int] = {}
    for element in root.iter():
        if not isinstance(element.tag, str) or not element.get("style"):
            continue
        style = declarations(element.get("style", ""))
        for prop, value in style.items():
            if prop in DECORATIVE or _has_fallback(element, prop, value, style):
                continue
            for client, label in CLIENTS.items():
                if support.get(_feature(prop, value), {}).get(client) == "n":
                    ignored[(prop, label)] = ignored.get((prop, label), 0) + 1
    return [Finding("warning", "css-support",
                    f"{label} ignores `{prop}` ({count} times) and the mail has no fallback for it")
            for (prop, label), count in sorted(ignored.items())]


def _has_fallback(element: HtmlElement, prop: str, value: str, style: dict[str, str]) -> bool:
    if prop in ("max-width", "width", "height"):
        return bool(element.get("width") or element.get("height")) or element.tag != "img"
    if prop in ("background-image", "background"):
        return "background-color" in style or bool(element.get("bgcolor"))
    if prop == "display":
        return value.strip() in ("block", "inline", "inline-block", "none", "table")
    return False


@cache
def _support() -> dict[str, dict[str, str]]:
    text = resources.files("mailpage_cli").joinpath("data/caniemail.json").read_text("utf-8")
    data: dict[str, dict[str, str]] = json.loads(text)["features"]
    return data


def _feature(prop: str, value: str) -> str:
    """The Can I email feature a declaration uses (``display:flex`` is its own)."""
    value = value.strip().lower()
    if prop == "display" and value in ("flex", "grid", "none"):
        return f"display-{value}"
    if "gradient(" in value:
        return "linear-gradient" if "linear" in value else "radial-gradient"
    return prop


def _inherited(element: HtmlElement,
               read: Callable[[HtmlElement], contrast.RGB | None]) -> contrast.RGB | None:
    for node in (element, *element.iterancestors()):
        if (found := read(node)) is not None:
            return found
    return None


def _colour_of(element: HtmlElement) -> contrast.RGB | None:
    style = declarations(element.get("style", ""))
    return contrast.parse(style.get("color", "")) or contrast.parse(element.get("color") or "")


def _background_of(element: HtmlElement) -> contrast.RGB | None:
    style = declarations(element.get("style", ""))
    for value in (style.get("background-color", ""), style.get("background", ""),
                  element.get("bgcolor") or ""):
        if found := contrast.parse(value):
            return found
    return None


def _owner(row: HtmlElement) -> HtmlElement | None:
    return next((a for a in row.iterancestors() if a.tag == "table"), None)


def _short(name: str) -> str:
    return name if len(name) <= 40 else name[:37] + "…"
