"""markdownify's walk, for what of the page could not be written as Markdown beforehand
(see ``text``). Loaded only then: bs4 takes a tenth of a second to import."""

from __future__ import annotations

from typing import Any

from bs4 import BeautifulSoup, Tag
from markdownify import MarkdownConverter

_OPTIONS: dict[str, Any] = {
    "heading_style": "ATX", "bullets": "-", "escape_asterisks": False,
    "escape_underscores": False, "escape_misc": False,
}


def markdown(html: str) -> str:
    soup = BeautifulSoup(html, "lxml", element_classes={Tag: _Tag})
    return str(_Converter(**_OPTIONS).convert_soup(soup))


class _Tag(Tag):
    """bs4's Tag, whose ``find_parent(name)`` is a plain walk up the tree. markdownify asks
    it of every element (am I inside a ``<pre>``?); bs4's general matching machinery made
    that question cost almost half of the conversion."""

    def find_parent(self, name: Any = None, attrs: Any = None, **kwargs: Any) -> Any:
        if isinstance(name, str) and not attrs and not kwargs:
            parent = self.parent
            while parent is not None and parent.name != name:
                parent = parent.parent
            return parent
        return super().find_parent(name, attrs or {}, **kwargs)


class _Converter(MarkdownConverter):
    """markdownify, with boxes quoted, pre-written Markdown kept as it is, and no escaping
    noise."""

    # markdownify's stub omits its convert_* methods, hence the ignores below.
    def convert_div(self, el: Tag, text: str, parent_tags: set[str]) -> str:
        if el.get("data-mp-box") not in (None, "code"):
            return str(self.convert_blockquote(el, text, parent_tags))  # type: ignore[attr-defined]
        return str(super().convert_div(el, text, parent_tags))  # type: ignore[misc]

    def convert_mp_text(self, el: Tag, text: str, parent_tags: set[str]) -> str:  # noqa: ARG002
        return f"\n\n{el.get('data-text', '')}\n\n"
