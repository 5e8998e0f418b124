"""Mentions -> the person's name, marked, without a link that needs a Confluence login."""

from __future__ import annotations

from mailpage_cli.render.tree import Element, classes, new, replace, text_of

_MENTION = {"confluence-userlink", "user-mention", "mention"}


def render(root: Element) -> None:
    mentions = [e for e in root.iter("a", "span")
                if _MENTION.intersection(names := classes(e)) and (e.tag == "a" or
                                                                  "mention" in names)]
    for mention in mentions:
        name = text_of(mention)
        replace(mention, new("span", name if name.startswith("@") else f"@{name}",
                             **{"class": "mp-mention"}))
