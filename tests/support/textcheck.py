"""Judging a text alternative against the HTML it was written from.

A *glued pair* is two neighbouring words of the HTML's visible text, with white space (a
space, a line break, a block boundary) between them there, that the text part writes as one
word (``comfortable playing`` -> ``comfortableplaying``), Markdown's emphasis marks and
symbols aside (``The**4 testers``, ``Plan☑Announcement``). Reading the HTML as a browser shows it
is done here with lxml, independently of the renderer: inline elements join their
neighbours' text as it is, every other element (and ``<br>``) starts a new line.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterator
from itertools import pairwise

from lxml import etree
from lxml import html as lxml_html

# The tags that flow with the text around them; anything else is a block, a line of its own.
INLINE = {
    "a", "abbr", "b", "bdi", "bdo", "cite", "code", "data", "del", "dfn", "em", "font", "i",
    "img", "ins", "kbd", "mark", "q", "s", "samp", "small", "span", "strike", "strong",
    "sub", "sup", "time", "tt", "u", "var", "wbr",
}
INVISIBLE = {"script", "style", "template", "head", "title", "noscript"}
# A word: letters and digits; each CJK ideograph or kana is a word of its own.
_CJK = r"\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
_WORD = re.compile(rf"[{_CJK}]|[^\W_{_CJK}]+")
_URL = re.compile(r"(?:https?://|mailto:)[^\s)>\]]+")
_MARKS = re.compile(r"[*`~]")


def visible_text(html: str) -> str:
    """The text a browser shows for ``html``: blocks and line breaks become newlines."""
    document = lxml_html.document_fromstring(f"<div>{html}</div>")
    pieces: list[str] = []

    def walk(element: etree._Element) -> None:
        tag = element.tag if isinstance(element.tag, str) else ""
        if tag in INVISIBLE:
            pieces.append(element.tail or "")
            return
        block = tag not in INLINE
        if block:
            pieces.append("\n")
        pieces.append(element.text or "")
        for child in element:
            walk(child)
        if block:
            pieces.append("\n")
        pieces.append(element.tail or "")

    body = document.find("body")
    walk(body if body is not None else document)
    return "".join(pieces)


def _words(text: str) -> Iterator[re.Match[str]]:
    return _WORD.finditer(text)


def _text_words(text: str) -> set[str]:
    """The words of a text part, links' targets left out and emphasis marks and symbols (☑,
    emoji) taken as nothing: ``The**4`` and ``Plan☑Announcement`` count as one word each."""
    text = _MARKS.sub("", _URL.sub(" ", text))
    text = "".join(c for c in text if unicodedata.category(c) != "So")
    return {match[0].casefold() for match in _words(text)}


def glued_pairs(html: str, text: str) -> list[tuple[str, str]]:
    """The neighbouring words of ``html``'s visible text that ``text`` writes as one."""
    visible = visible_text(html)
    matches = list(_words(visible))
    known = {match[0].casefold() for match in matches}
    written = _text_words(text)
    glued = []
    for first, second in pairwise(matches):
        if not any(c.isspace() for c in visible[first.end():second.start()]):
            continue  # one term in the HTML too: "data_path", "2*3", CJK characters
        joined = (first[0] + second[0]).casefold()
        if joined in written and joined not in known:
            glued.append((first[0], second[0]))
    return glued
