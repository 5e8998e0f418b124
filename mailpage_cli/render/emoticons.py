"""Emoticons and emoji -> Unicode, so no image (often SVG, which mail clients drop) is needed."""

from __future__ import annotations

from bs4 import BeautifulSoup

EMOTICONS = {
    "smile": "🙂", "sad": "🙁", "cheeky": "😛", "laugh": "😀", "wink": "😉", "thumbs-up": "👍",
    "thumbs-down": "👎", "information": "ℹ️", "tick": "✅", "cross": "❌", "warning": "⚠️",
    "plus": "➕", "minus": "➖", "question": "❓", "light-on": "💡", "light-off": "💡",
    "yellow-star": "⭐", "red-star": "⭐", "green-star": "⭐", "blue-star": "⭐", "heart": "❤️",
    "broken-heart": "💔",
}


def _unicode(img: object) -> str | None:
    get = getattr(img, "get", None)
    if get is None:
        return None
    fallback = str(get("data-emoji-fallback") or "")
    if fallback and not fallback.startswith(":"):
        return fallback
    if (name := get("data-emoticon-name")) is not None:
        return EMOTICONS.get(str(name), str(get("alt") or ""))
    if "emoticon" in (get("class") or []) or get("data-emoji-id") is not None:
        return str(get("alt") or get("data-emoji-shortname") or "")
    return None


def render(soup: BeautifulSoup) -> None:
    for img in soup.find_all("img"):
        text = _unicode(img)
        if text is not None:
            img.replace_with(text)
