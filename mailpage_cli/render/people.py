"""Mentions -> the person's name, marked, without a link that needs a Confluence login."""

from __future__ import annotations

from bs4 import BeautifulSoup


def render(soup: BeautifulSoup) -> None:
    for mention in soup.select("a.confluence-userlink, a.user-mention, .mention"):
        name = " ".join(mention.get_text(" ").split())
        span = soup.new_tag("span", attrs={"class": "mp-mention"})
        span.string = name if name.startswith("@") else f"@{name}"
        mention.replace_with(span)
