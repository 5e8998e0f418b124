"""Macros that cannot render in mail (tables of contents that need JavaScript, app macros,
diagrams, page trees) -> a short placeholder linking to the page in Confluence."""

from __future__ import annotations

from mailpage_cli.models import Page
from mailpage_cli.render.boxes import box
from mailpage_cli.render.tree import Element, find, new, remove, replace, text_content

# Their content is a live view of something else: a placeholder even when they rendered.
ALWAYS = {"drawio", "gliffy", "roadmap", "jirachart", "chart", "livesearch", "pagetree",
          "pagetreesearch", "create-from-template", "viewpdf", "widget", "multimedia",
          "iframe", "html"}
NAMES = {"toc": "Table of contents", "children": "Child pages", "drawio": "Diagram",
         "gliffy": "Diagram", "recently-updated": "Recently updated pages",
         "roadmap": "Roadmap", "jirachart": "Jira chart", "pagetree": "Page tree",
         "blog-posts": "Blog posts", "widget": "Embedded content", "html": "HTML"}


def _empty(element: Element) -> bool:
    return not text_content(element).strip() and not find(element, "descendant::img")


def render(root: Element, page: Page) -> None:
    macros = find(root, "descendant::*[@data-macro-name or contains(@class, 'toc-macro')]")
    for macro in macros:
        if not any(ancestor is root for ancestor in macro.iterancestors()):
            continue  # inside a macro already replaced
        name = str(macro.get("data-macro-name") or "toc")
        empty = _empty(macro)
        if name in ALWAYS or (empty and macro.tag != "span"):
            replace(macro, _placeholder(name, page))
        elif empty:
            remove(macro)  # an empty inline macro (an anchor): nothing to say


def _placeholder(name: str, page: Page) -> Element:
    label = NAMES.get(name, f"{name.replace('-', ' ').capitalize()} macro")
    marked = box("placeholder")
    paragraph = new("p", f"{label}: shown in Confluence only.",
                    **{"class": "mp-placeholder", "style": "margin: 0;"})
    if page.url:
        link = new("a", "Open the page", href=page.url)
        link.tail = None
        paragraph.text += " "
        paragraph.append(link)
    marked.append(paragraph)
    return marked
