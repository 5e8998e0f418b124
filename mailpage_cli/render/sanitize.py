"""The page's HTML, made safe: structure, text and Confluence's classes stay; anything
active (scripts, handlers, forms, frames) or remote (stylesheets, fonts, url() in styles)
goes. Runs first, on the raw page, so that nothing after it sees hostile markup."""

from __future__ import annotations

import re

import nh3

LINK_SCHEMES = {"http", "https", "mailto"}
# Their content goes too, not only the tag: none of it is readable text.
DROP_WITH_CONTENT = {
    "script", "style", "template", "noscript", "iframe", "object", "embed", "svg", "math",
    "head", "title", "select", "textarea", "button", "canvas", "audio", "video",
}
TAGS = (set(nh3.ALLOWED_TAGS) - {"area", "map"}) | {"tfoot", "section", "main"}
ATTRIBUTES = {
    **{tag: set(attrs) for tag, attrs in nh3.ALLOWED_ATTRIBUTES.items()},
    "*": {"class", "title", "dir", "lang", "style", "align", "valign", "width", "height"},
    "img": {"src", "alt", "width", "height", "align"},
    "td": {"colspan", "rowspan", "align", "valign", "width", "headers"},
    "th": {"colspan", "rowspan", "align", "valign", "width", "scope", "headers"},
    "a": {"href", "hreflang"},
    "time": {"datetime"},
}
# No url() can hide in these: a remote fetch (a tracking pixel) needs a property that takes one.
STYLE_PROPERTIES = {
    "color", "background-color", "text-align", "vertical-align", "font-weight", "font-style",
    "font-size", "font-family", "text-decoration", "white-space", "width", "max-width",
    "height", "border", "border-color", "border-style", "border-width", "border-collapse",
    "padding", "padding-left", "padding-right", "padding-top", "padding-bottom", "margin",
    "margin-left", "margin-right", "margin-top", "margin-bottom", "list-style-type",
}


# Deeper than any page needs (nesting.MAX_DEPTH cuts at 64 later, with a warning), shallow
# enough that the parser inside nh3, whose time grows with depth times elements, stays fast,
# and below the 255 levels past which libxml2 (the tree parser) drops the text.
MAX_SOURCE_DEPTH = 128
_TAG = re.compile(r"<(/?)([a-zA-Z][a-zA-Z0-9:-]*)\b[^>]*?(/?)>")
_VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source",
         "track", "wbr"}


def shallow(html: str, limit: int = MAX_SOURCE_DEPTH) -> str:
    """Tags nested deeper than ``limit`` removed, their text kept: 50,000 nested lists took
    the sanitiser 43 s. One linear scan; a page within the limit comes back as it was."""
    kept: list[str] = []
    depth = start = 0
    for tag in _TAG.finditer(html):
        closing, name, self_closing = tag.groups()
        if name.lower() in _VOID or self_closing:
            deep = depth >= limit
        elif closing:
            deep, depth = depth > limit, max(0, depth - 1)
        else:
            depth += 1
            deep = depth > limit
        if deep:
            kept.append(html[start:tag.start()])
            start = tag.end()
    return "".join(kept) + html[start:] if kept else html


def sanitize(html: str) -> str:
    return nh3.clean(
        shallow(html),
        tags=TAGS,
        clean_content_tags=DROP_WITH_CONTENT,
        attributes=ATTRIBUTES,
        generic_attribute_prefixes={"data-"},
        url_schemes=LINK_SCHEMES,
        filter_style_properties=STYLE_PROPERTIES,
        link_rel=None,
    )
