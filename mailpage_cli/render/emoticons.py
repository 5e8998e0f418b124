"""Emoticons and emoji -> Unicode, so no image (often SVG, which mail clients drop) is needed."""

from __future__ import annotations

import re

from mailpage_cli.render.tree import Element, classes, find, replace_with_text

EMOTICONS = {
    "smile": "🙂", "sad": "🙁", "cheeky": "😛", "laugh": "😀", "wink": "😉", "thumbs-up": "👍",
    "thumbs-down": "👎", "information": "ℹ️", "tick": "✅", "cross": "❌", "warning": "⚠️",
    "plus": "➕", "minus": "➖", "question": "❓", "light-on": "💡", "light-off": "💡",
    "yellow-star": "⭐", "red-star": "⭐", "green-star": "⭐", "blue-star": "⭐", "heart": "❤️",
    "broken-heart": "💔",
}


# Cloud sometimes writes the fallback JavaScript-escaped, as text: \uD83D\uDCD8 (a surrogate
# pair, one emoji) or \u2705.
_ESCAPES = re.compile(r"(?:\\u[0-9a-fA-F]{4})+")
_EMOJI_ID = re.compile(r"[0-9a-f]{4,6}(?:-[0-9a-f]{4,6})*")  # "1f4d8", "1f468-200d-1f4bb"


def _unescaped(escapes: re.Match[str]) -> str:
    units = "".join(chr(int(unit, 16)) for unit in escapes[0].split("\\u")[1:])
    return units.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "replace")


def _from_id(img: Element) -> str:
    """The emoji its id names, when the id is code points (custom emoji have a UUID)."""
    emoji_id = str(img.get("data-emoji-id") or "").lower()
    if not _EMOJI_ID.fullmatch(emoji_id):
        return ""
    points = [int(point, 16) for point in emoji_id.split("-")]
    if any(p < 0x20 or p > 0x10FFFF or 0xD800 <= p <= 0xDFFF for p in points):
        return ""
    return "".join(map(chr, points))


def _unicode(img: Element) -> str | None:
    fallback = str(img.get("data-emoji-fallback") or "")
    if "\\u" in fallback:
        fallback = _ESCAPES.sub(_unescaped, fallback)
        if "\ufffd" in fallback:  # a lone surrogate: the escape was broken
            fallback = _from_id(img)
    if fallback and not fallback.startswith(":"):
        return fallback
    if (name := img.get("data-emoticon-name")) is not None:
        return EMOTICONS.get(str(name), str(img.get("alt") or ""))
    if "emoticon" in classes(img) or img.get("data-emoji-id") is not None:
        return str(img.get("alt") or img.get("data-emoji-shortname") or "")
    return None


def render(root: Element) -> None:
    for img in find(root, "descendant::img[@data-emoji-fallback or @data-emoticon-name or"
                          " @data-emoji-id or contains(@class, 'emoticon')]"):
        text = _unicode(img)
        if text is not None:
            replace_with_text(img, text)
