"""Emoticons and emoji -> Unicode, so no image (often SVG, which mail clients drop) is needed."""

from __future__ import annotations

from mailpage_cli.render.tree import Element, classes, find, replace_with_text

EMOTICONS = {
    "smile": "🙂", "sad": "🙁", "cheeky": "😛", "laugh": "😀", "wink": "😉", "thumbs-up": "👍",
    "thumbs-down": "👎", "information": "ℹ️", "tick": "✅", "cross": "❌", "warning": "⚠️",
    "plus": "➕", "minus": "➖", "question": "❓", "light-on": "💡", "light-off": "💡",
    "yellow-star": "⭐", "red-star": "⭐", "green-star": "⭐", "blue-star": "⭐", "heart": "❤️",
    "broken-heart": "💔",
}


def _unicode(img: Element) -> str | None:
    fallback = str(img.get("data-emoji-fallback") or "")
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
