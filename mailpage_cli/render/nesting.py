"""Absurdly deep markup (a table in a table, a thousand times) is cut below a sane depth, its
text kept: the text alternative walks the tree recursively, and no page needs more levels."""

from __future__ import annotations

from mailpage_cli.render.tree import Element, find, replace_with_text, text_of

MAX_DEPTH = 64


def flatten(root: Element, limit: int = MAX_DEPTH) -> int:
    """Replace each element deeper than ``limit`` by its text; returns how many were."""
    too_deep = find(root, "/".join(["*"] * (limit + 1)))  # exactly one level too deep
    for element in too_deep:
        replace_with_text(element, text_of(element))
    return len(too_deep)
