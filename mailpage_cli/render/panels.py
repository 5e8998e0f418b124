"""Info, note, warning, tip and Cloud ``panel`` macros -> boxes in their colours."""

from __future__ import annotations

import re

from mailpage_cli.render.boxes import box
from mailpage_cli.render.tree import Element, classes, find, move_children, remove, replace, text_of

_KINDS = {
    "confluence-information-macro-information": "info",
    "confluence-information-macro-note": "note",
    "confluence-information-macro-warning": "warning",
    "confluence-information-macro-tip": "tip",
}
_COLOUR = re.compile(r"#[0-9a-fA-F]{3,8}|rgba?\([\d\s.,%]+\)")
_CANDIDATES = ("descendant::div[@data-macro-name or contains(@class, 'panel')"
               " or contains(@class, 'confluence-information-macro')]")


def _kind(element: Element) -> str | None:
    names = classes(element)
    for css, kind in _KINDS.items():
        if css in names:
            return kind
    if "confluence-information-macro" in names:
        return "info"
    name = str(element.get("data-macro-name") or "")
    if name in ("info", "note", "warning", "tip"):
        return name
    if name == "panel" or ("panel" in names and not name):
        return "panel"
    return None


def _first(element: Element, xpath: str) -> Element | None:
    found = find(element, xpath)
    return found[0] if found else None


def _take_title(element: Element) -> str:
    for xpath in ("descendant::p[contains(concat(' ', @class, ' '), ' title ')]",
                  "descendant::*[contains(@class, 'panelHeader')]",
                  "descendant::*[contains(@class, 'confluence-information-macro-title')]"):
        if (found := _first(element, xpath)) is not None:
            title = text_of(found)
            remove(found)
            return title
    return ""


def _background(element: Element) -> str | None:
    content = _first(element, "descendant::*[contains(@class, 'panelContent')]")
    for candidate in (element, content):
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


def render(root: Element) -> None:
    for element in reversed(find(root, _CANDIDATES)):  # innermost first
        kind = _kind(element)
        if kind is None:
            continue
        for icon in find(element, "descendant::*[contains(@class, 'confluence-information-"
                                  "macro-icon') or contains(@class, 'panelIcon')]"):
            remove(icon)
        marked = box(kind, _take_title(element))
        if kind == "panel" and (background := _background(element)):
            marked.set("data-mp-background", background)
        body = _first(element, "descendant::*[contains(@class, 'confluence-information-macro-"
                               "body') or contains(@class, 'panelContent')]")
        move_children(body if body is not None else element, marked)
        replace(element, marked)
