"""How the messages people read say a number of things: "1 recipient", "2 recipients"."""

from __future__ import annotations


def count(number: int, singular: str, plural: str = "") -> str:
    """``number`` and the noun that agrees with it: ``count(1, "recipient")`` is "1
    recipient", ``count(0, "recipient")`` "0 recipients"; ``plural`` for a noun that does
    not just add an s (``count(4, "try", "tries")``)."""
    return f"{number} {singular if number == 1 else plural or singular + 's'}"
