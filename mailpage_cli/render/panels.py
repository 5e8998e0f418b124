"""Info, note, warning, tip and Cloud ``panel`` macros -> boxes in their colours. Confluence
5.x wrote the first four as AUI messages (``aui-message hint|warning|problem|success``, an
``aui-icon`` reading "Icon", a ``message-content`` body): the same boxes."""

from __future__ import annotations

from dataclasses import dataclass, field

from mailpage_cli.render.boxes import box
from mailpage_cli.render.styles import COLOUR
from mailpage_cli.render.tree import Element, classes, find, move_children, remove, replace, text_of

_KINDS = {
    "confluence-information-macro-information": "info",
    "confluence-information-macro-note": "note",
    "confluence-information-macro-warning": "warning",
    "confluence-information-macro-tip": "tip",
}
# AUI message types -> the macro that wrote them (5.x: note is "warning", warning "problem").
_AUI_KINDS = {"hint": "info", "info": "info", "success": "tip", "warning": "note",
              "problem": "warning", "error": "warning", "note": "note"}
_CANDIDATES = ("descendant::div[@data-macro-name or contains(@class, 'panel')"
               " or contains(@class, 'confluence-information-macro')"
               " or contains(@class, 'aui-message')]")


def _kind(element: Element) -> str | None:
    names = classes(element)
    for css, kind in _KINDS.items():
        if css in names:
            return kind
    if "confluence-information-macro" in names:
        return "info"
    if "aui-message" in names:
        types = (n.removeprefix("aui-message-") for n in names)  # AUI 5.8+: aui-message-info
        return next((_AUI_KINDS[t] for t in types if t in _AUI_KINDS), "info")
    name = str(element.get("data-macro-name") or "")
    if name in ("info", "note", "warning", "tip"):
        return name
    if name == "panel" or ("panel" in names and not name):
        return "panel"
    return None


_TITLES = {"panelHeader", "confluence-information-macro-title"}
_ICONS = {"confluence-information-macro-icon", "panelIcon"}
_BODIES = {"confluence-information-macro-body", "panelContent", "message-content"}


@dataclass
class _Parts:
    """What a panel holds, found in one walk over it."""

    title: Element | None = None
    body: Element | None = None
    icons: list[Element] = field(default_factory=list)


def _parts(element: Element) -> _Parts:
    parts = _Parts()
    for inner in element.iterdescendants():
        names = classes(inner)
        if not names:
            continue
        if _ICONS.intersection(names) or ("aui-icon" in names
                                          and inner.getparent() is element):
            parts.icons.append(inner)
        elif parts.body is None and _BODIES.intersection(names):
            parts.body = inner
        elif parts.title is None and (("title" in names and inner.tag == "p")
                                      or _TITLES.intersection(names)):
            parts.title = inner
    return parts


def _background(element: Element, body: Element | None) -> str | None:
    for candidate in (element, body):
        if candidate is None:
            continue
        for key in ("data-panel-bg-color", "data-bg-color"):
            value = str(candidate.get(key) or "")
            if COLOUR.fullmatch(value):
                return value
        for declaration in str(candidate.get("style") or "").split(";"):
            name, _, value = declaration.partition(":")
            if name.strip().lower() == "background-color" and COLOUR.fullmatch(value.strip()):
                return value.strip()
    return None


def render(root: Element) -> None:
    for element in reversed(find(root, _CANDIDATES)):  # innermost first
        kind = _kind(element)
        if kind is None:
            continue
        parts = _parts(element)
        background = _background(element, parts.body) if kind == "panel" else None
        for icon in parts.icons:
            remove(icon)
        title = ""
        if parts.title is not None:
            title = text_of(parts.title)
            remove(parts.title)
        marked = box(kind, title)
        if background:
            marked.set("data-mp-background", background)
        move_children(parts.body if parts.body is not None else element, marked)
        replace(element, marked)
