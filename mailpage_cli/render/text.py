"""The plain-text alternative: Markdown a person can read, with the links, never empty."""

from __future__ import annotations

import re
from typing import Any

from bs4 import BeautifulSoup, Tag
from markdownify import MarkdownConverter

_BLANK_LINES = re.compile(r"\n{3,}")


class _Converter(MarkdownConverter):
    """markdownify, with images as their alt text, boxes quoted, statuses bracketed and no
    escaping noise."""

    def convert_img(self, el: Tag, text: str, parent_tags: set[str]) -> str:  # noqa: ARG002
        alt = " ".join(str(el.get("alt") or "").split())
        return f"[image: {alt}]" if alt else "[image]"

    # markdownify's stub omits its convert_* methods, hence the ignores below.
    def convert_div(self, el: Tag, text: str, parent_tags: set[str]) -> str:
        if el.get("data-mp-box") not in (None, "code"):
            return str(self.convert_blockquote(el, text, parent_tags))  # type: ignore[attr-defined]
        return str(super().convert_div(el, text, parent_tags))  # type: ignore[misc]

    def convert_span(self, el: Tag, text: str, parent_tags: set[str]) -> str:  # noqa: ARG002
        return f"[{text.strip()}]" if el.get("data-status") else text


def _language(el: Tag) -> str:
    return str(el.get("data-language") or "")


def text_alternative(soup: BeautifulSoup, *, title: str, meta: str, note: str | None,
                     url: str | None, sent_by: str) -> str:
    options: dict[str, Any] = {
        "heading_style": "ATX", "bullets": "-", "escape_asterisks": False,
        "escape_underscores": False, "escape_misc": False,
        "code_language_callback": _language,
    }
    body = _Converter(**options).convert_soup(soup)
    body = _BLANK_LINES.sub("\n\n", "\n".join(line.rstrip() for line in body.splitlines()))
    parts = [f"# {title}"]
    if meta:
        parts.append(meta)
    if note:
        parts.append(note.strip())
    if url:
        parts.append(f"View in Confluence: {url}")
    parts.append(body.strip() or "(This page has no text.)")
    parts.append(f"-- \n{sent_by}")
    return "\n\n".join(parts) + "\n"
