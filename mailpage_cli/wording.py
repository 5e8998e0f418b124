"""How the messages people read say a number of things: "1 recipient", "2 recipients",
"12.8 KB"."""

from __future__ import annotations


def count(number: int, singular: str, plural: str = "") -> str:
    """``number`` and the noun that agrees with it: ``count(1, "recipient")`` is "1
    recipient", ``count(0, "recipient")`` "0 recipients"; ``plural`` for a noun that does
    not just add an s (``count(4, "try", "tries")``)."""
    return f"{number} {singular if number == 1 else plural or singular + 's'}"


MEGABYTE = 1_000_000  # mail servers state their limits in decimal megabytes


def human_size(n: int) -> str:
    """A size in bytes as people read it: ``12.8 KB``, ``3.4 MB`` (decimal, as mail servers)."""
    return f"{n / 1000:.1f} KB" if n < MEGABYTE else f"{n / MEGABYTE:.1f} MB"
