"""Macros that cannot render in mail (tables of contents that need JavaScript, app macros,
diagrams, page trees) -> a short placeholder linking to the page in Confluence. Diagram apps
that render in the page (PlantUML, flowcharts) leave an SVG the sanitizer drops: the same."""

from __future__ import annotations

from mailpage_cli.models import Page
from mailpage_cli.render.boxes import box
from mailpage_cli.render.tree import (
    Element,
    classes,
    find,
    has_class,
    new,
    remove,
    replace,
    text_content,
)

# Their content is a live view of something else: a placeholder even when they rendered.
DIAGRAMS = {"drawio", "drawio-sketch", "gliffy", "plantuml", "plantumlrender", "flowchart"}
ALWAYS = DIAGRAMS | {"roadmap", "jirachart", "chart", "livesearch", "pagetree",
                     "pagetreesearch", "create-from-template", "viewpdf", "widget", "multimedia",
                     "iframe", "html"}
NAMES = {"toc": "Table of contents", "children": "Child pages",
         "recently-updated": "Recently updated pages", "roadmap": "Roadmap",
         "jirachart": "Jira chart", "pagetree": "Page tree", "blog-posts": "Blog posts",
         "widget": "Embedded content", "html": "HTML", **dict.fromkeys(DIAGRAMS, "Diagram")}
# A diagram app's output without the macro around it (a page saved from the browser).
_DIAGRAM_CLASS = "plantuml-svg-image"
# Where a box (a table, in the end) may stand; anywhere else the note is a line of text.
_BLOCK_PARENTS = {"div", "li", "td", "th", "blockquote", "section", "main", "dd"}


def _empty(element: Element) -> bool:
    return not text_content(element).strip() and not find(element, "descendant::img")


def render(root: Element, page: Page) -> None:
    macros = find(root, "descendant::*[@data-macro-name or contains(@class, 'toc-macro')"
                        f" or {has_class(_DIAGRAM_CLASS)}]")
    for macro in macros:
        if not any(ancestor is root for ancestor in macro.iterancestors()):
            continue  # inside a macro already replaced
        name = str(macro.get("data-macro-name") or "")
        if not name:
            name = "plantuml" if _DIAGRAM_CLASS in classes(macro) else "toc"
        empty = _empty(macro)
        if name in ALWAYS or (empty and macro.tag != "span"):
            replace(macro, _placeholder(name, page, _inline(macro)))
        elif empty:
            remove(macro)  # an empty inline macro (an anchor): nothing to say


def _inline(macro: Element) -> bool:
    parent = macro.getparent()
    return parent is not None and parent.tag not in _BLOCK_PARENTS


def _placeholder(name: str, page: Page, inline: bool = False) -> Element:
    label = NAMES.get(name, f"{name.replace('-', ' ').capitalize()} macro")
    note = new("em" if inline else "p", f"{label}: shown in Confluence only.",
               **{"class": "mp-placeholder"})
    if not inline:
        note.set("style", "margin: 0;")
    if page.url:
        link = new("a", "Open the page", href=page.url)
        link.tail = None
        note.text += " "
        note.append(link)
    if inline:
        return note
    marked = box("placeholder")
    marked.append(note)
    return marked
