"""Macros that cannot render in mail (tables of contents that need JavaScript, app macros,
diagrams, page trees) -> a short placeholder linking to the page in Confluence."""

from __future__ import annotations

from bs4 import BeautifulSoup, Tag

from mailpage_cli.models import Page
from mailpage_cli.render.boxes import box

# Their content is a live view of something else: a placeholder even when they rendered.
ALWAYS = {"drawio", "gliffy", "roadmap", "jirachart", "chart", "livesearch", "pagetree",
          "pagetreesearch", "create-from-template", "viewpdf", "widget", "multimedia",
          "iframe", "html"}
NAMES = {"toc": "Table of contents", "children": "Child pages", "drawio": "Diagram",
         "gliffy": "Diagram", "recently-updated": "Recently updated pages",
         "roadmap": "Roadmap", "jirachart": "Jira chart", "pagetree": "Page tree",
         "blog-posts": "Blog posts", "widget": "Embedded content", "html": "HTML"}


def _empty(element: Tag) -> bool:
    return not element.get_text(strip=True) and element.find("img") is None


def render(soup: BeautifulSoup, page: Page) -> None:
    for macro in soup.select("[data-macro-name], .toc-macro, .client-side-toc-macro"):
        if not any(parent is soup for parent in macro.parents):
            continue  # inside a macro already replaced
        name = str(macro.get("data-macro-name") or "toc")
        empty = _empty(macro)
        if name in ALWAYS or (empty and macro.name != "span"):
            macro.replace_with(_placeholder(soup, name, page))
        elif empty:
            macro.decompose()  # an empty inline macro (an anchor): nothing to say


def _placeholder(soup: BeautifulSoup, name: str, page: Page) -> Tag:
    label = NAMES.get(name, f"{name.replace('-', ' ').capitalize()} macro")
    marked = box(soup, "placeholder")
    paragraph = soup.new_tag("p", attrs={"class": "mp-placeholder", "style": "margin: 0;"})
    paragraph.append(f"{label}: shown in Confluence only.")
    if page.url:
        paragraph.append(" ")
        link = soup.new_tag("a", href=page.url)
        link.string = "Open the page"
        paragraph.append(link)
    marked.append(paragraph)
    return marked
