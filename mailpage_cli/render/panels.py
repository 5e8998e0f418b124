"""Info, note, warning, tip and Cloud ``panel`` macros -> boxes in their colours."""

from __future__ import annotations

import re

from bs4 import BeautifulSoup, Tag

from mailpage_cli.render.boxes import box

_KINDS = {
    "confluence-information-macro-information": "info",
    "confluence-information-macro-note": "note",
    "confluence-information-macro-warning": "warning",
    "confluence-information-macro-tip": "tip",
}
_COLOUR = re.compile(r"#[0-9a-fA-F]{3,8}|rgba?\([\d\s.,%]+\)")


def _kind(element: Tag) -> str | None:
    classes: list[str] = list(element.get("class") or [])
    for css, kind in _KINDS.items():
        if css in classes:
            return kind
    if "confluence-information-macro" in classes:
        return "info"
    name = str(element.get("data-macro-name") or "")
    if name in ("info", "note", "warning", "tip"):
        return name
    if name == "panel" or ("panel" in classes and not name):
        return "panel"
    return None


def _take_title(element: Tag) -> str:
    for selector in ("p.title", ".panelHeader", ".confluence-information-macro-title"):
        if (found := element.select_one(selector)) is not None:
            text = " ".join(found.get_text(" ").split())
            found.decompose()
            return text
    return ""


def _background(element: Tag) -> str | None:
    for candidate in (element, element.select_one(".panelContent")):
        if candidate is None:
            continue
        for key in ("data-panel-bg-color", "data-bg-color"):
            value = str(candidate.get(key) or "")
            if _COLOUR.fullmatch(value):
                return value
        for declaration in str(candidate.get("style") or "").split(";"):
            name, _, value = declaration.partition(":")
            if name.strip().lower() == "background-color" and _COLOUR.fullmatch(value.strip()):
                return value.strip()
    return None


def render(soup: BeautifulSoup) -> None:
    for element in reversed(soup.find_all("div")):  # innermost first
        kind = _kind(element)
        if kind is None:
            continue
        for icon in element.select(".confluence-information-macro-icon, .panelIcon"):
            icon.decompose()
        marked = box(soup, kind, _take_title(element))
        if kind == "panel" and (background := _background(element)):
            marked["data-mp-background"] = background
        body = element.select_one(".confluence-information-macro-body, .panelContent")
        for child in list((body or element).contents):
            marked.append(child.extract())
        element.replace_with(marked)
