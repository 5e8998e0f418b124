"""The page as an lxml tree, and the few moves the macro modules make on it. lxml parses,
searches (compiled XPath) and serializes in C; a megabyte page takes milliseconds. Plain
``lxml.etree`` elements, not ``lxml.html``'s: those look up a Python class for every node."""

from __future__ import annotations

import functools
from typing import Any, TypeAlias

from lxml import etree
from lxml import html as lxml_html

from mailpage_cli.errors import PolicyError

# lxml ships no type information: to mypy an element is Any.
Element: TypeAlias = Any

_PARSER = etree.HTMLParser(remove_comments=True, remove_pis=True)


def parse(fragment: str, what: str = "page") -> Element:
    """The (sanitized) page body inside one ``<div>``. A text run libxml2 will not hold (over
    10 MB without markup) is refused: it would drop it, and all after it, without a word."""
    root = etree.Element("div")
    if fragment.strip():
        document = lxml_html.document_fromstring(fragment, parser=_PARSER,
                                                 ensure_head_body=True)
        if any(error.type_name == "ERR_RESOURCE_LIMIT" and "depth" not in error.message.lower()
               for error in _PARSER.error_log):  # too deep is flattened (``nesting``)
            raise PolicyError(f"The {what} holds more than 10 MB of text in one piece, more"
                              " than the HTML parser takes",
                              f"Shorten the {what}, or break it into paragraphs.")
        body = document.find("body")
        root.text = body.text
        root.extend(body)
    return root


def serialize(root: Element) -> str:
    """The children of ``root`` (not ``root`` itself) as HTML."""
    from html import escape  # noqa: PLC0415

    inner = [escape(root.text, quote=False)] if root.text else []
    inner += [etree.tostring(child, method="html", encoding="unicode") for child in root]
    return "".join(inner)


@functools.cache
def _compiled(expression: str) -> etree.XPath:
    return etree.XPath(expression)


def find(element: Element, expression: str) -> list[Element]:
    """XPath from ``element``, compiled once per expression."""
    return _compiled(expression)(element)  # type: ignore[no-any-return]


def has_class(name: str) -> str:
    """An XPath predicate: the class list has ``name`` (a whole word, not a part). The plain
    ``contains`` first rules out most elements cheaply."""
    return (f"(contains(@class, '{name}') and"
            f" contains(concat(' ', normalize-space(@class), ' '), ' {name} '))")


def with_class(root: Element, name: str, tag: str = "*", axis: str = "descendant") -> list[Element]:
    """Elements on ``axis`` of ``root`` whose class list has ``name``, in document order."""
    return find(root, f"{axis}::{tag}[{has_class(name)}]")


def classes(element: Element) -> list[str]:
    return str(element.get("class") or "").split()


def text_content(element: Element) -> str:
    return "".join(element.itertext())


def text_of(element: Element) -> str:
    return " ".join(text_content(element).split())


def new(tag: str, text: str | None = None, **attributes: str) -> Element:
    element = etree.Element(tag, {k.replace("_", "-"): v for k, v in attributes.items()})
    element.text = text
    return element


def _append_text(element: Element, text: str) -> None:
    """Add ``text`` right where ``element`` stands (after its previous sibling)."""
    previous = element.getprevious()
    if previous is not None:
        previous.tail = (previous.tail or "") + text
    else:
        parent = element.getparent()
        parent.text = (parent.text or "") + text


def replace(old: Element, new_element: Element) -> None:
    """Put ``new_element`` where ``old`` was; the text after ``old`` stays in place."""
    new_element.tail = old.tail
    old.tail = None
    parent = old.getparent()
    if parent is not None:
        parent.replace(old, new_element)


def replace_with_text(element: Element, text: str) -> None:
    """Put plain ``text`` where ``element`` was."""
    if element.getparent() is None:
        return
    _append_text(element, text + (element.tail or ""))
    element.getparent().remove(element)


def remove(element: Element) -> None:
    """Take ``element`` and everything in it out; the text after it stays."""
    replace_with_text(element, "")


def unwrap(element: Element) -> None:
    """Keep what ``element`` holds, in its place, without the element."""
    parent = element.getparent()
    if parent is None:
        return
    if element.text:
        _append_text(element, element.text)
    if element.tail:
        if len(element):
            element[-1].tail = (element[-1].tail or "") + element.tail
        else:
            _append_text(element, element.tail)
    index = parent.index(element)
    parent[index:index + 1] = list(element)


def move_children(source: Element, target: Element) -> None:
    """``source``'s text and children, appended to ``target``."""
    if source.text:
        if len(target):
            target[-1].tail = (target[-1].tail or "") + source.text
        else:
            target.text = (target.text or "") + source.text
        source.text = None
    for child in list(source):
        target.append(child)
