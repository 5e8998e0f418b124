"""Absurdly deep markup (a table in a table, a thousand times) is cut below a sane depth, its
text kept: the rest of the pipeline walks the tree recursively, and no page needs more levels."""

from __future__ import annotations

from bs4 import BeautifulSoup, Tag

MAX_DEPTH = 64


def flatten(soup: BeautifulSoup, limit: int = MAX_DEPTH) -> int:
    """Replace each element deeper than ``limit`` by its text; returns how many were."""
    too_deep: list[Tag] = []
    stack: list[tuple[Tag, int]] = [(soup, 0)]
    while stack:  # iterative: the tree may be deeper than Python's recursion limit
        element, depth = stack.pop()
        for child in element.children:
            if not isinstance(child, Tag):
                continue
            if depth + 1 > limit:
                too_deep.append(child)  # not descended into: its text goes as a whole
            else:
                stack.append((child, depth + 1))
    for element in too_deep:
        element.replace_with(" ".join(element.get_text(" ").split()))
    return len(too_deep)
