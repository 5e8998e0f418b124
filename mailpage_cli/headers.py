"""Header-safe text: what may go into a mail header, a file name or the terminal."""

from __future__ import annotations

import re

__all__ = ["clean_text"]

_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]+")  # C0, DEL, C1, line breaks
# Bidi embeddings, overrides, isolates and marks: "invoice_\u202efdp.exe" shows as
# "invoice_exe.pdf" (Trojan Source, CVE-2021-42574).
_BIDI = re.compile(r"[\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]+")


def clean_text(text: str) -> str:
    """Control characters (CR/LF above all) become spaces: they must never start a header,
    nor reach a terminal (ESC). Bidi controls go: they would make a text, or a file name,
    show other than it is."""
    return " ".join(_CONTROL.sub(" ", _BIDI.sub("", text)).split())
