"""Colours as WCAG 2 measures them: parsing CSS colours, contrast ratios, and a text colour
darkened just enough to be read on its background."""

from __future__ import annotations

import re

RGB = tuple[int, int, int]
NORMAL = 4.5  # WCAG 2 AA, normal text
LARGE = 3.0  # WCAG 2 AA, large text
WHITE: RGB = (255, 255, 255)
_NAMED: dict[str, RGB] = {
    "black": (0, 0, 0), "white": WHITE, "red": (255, 0, 0), "green": (0, 128, 0),
    "blue": (0, 0, 255), "gray": (128, 128, 128), "grey": (128, 128, 128),
    "yellow": (255, 255, 0), "orange": (255, 165, 0), "purple": (128, 0, 128),
    "silver": (192, 192, 192), "navy": (0, 0, 128),
}
_HEX = re.compile(r"#([0-9a-f]{3}|[0-9a-f]{6})\b")
_RGB = re.compile(r"rgba?\(\s*(\d+)[\s,]+(\d+)[\s,]+(\d+)(?:[\s,/]+([\d.]+%?))?\s*\)")


def parse(value: str) -> RGB | None:
    """``#rgb``, ``#rrggbb``, ``rgb()`` or a basic name; ``None`` for anything else
    (transparent, translucent, a variable): what shows then depends on what is under it."""
    value = value.strip().lower()
    if match := _HEX.search(value):
        digits = match[1] if len(match[1]) == 6 else "".join(c * 2 for c in match[1])
        return int(digits[0:2], 16), int(digits[2:4], 16), int(digits[4:6], 16)
    if match := _RGB.search(value):
        alpha = match[4]
        if alpha and float(alpha.rstrip("%")) / (100 if alpha.endswith("%") else 1) < 1:
            return None
        return min(int(match[1]), 255), min(int(match[2]), 255), min(int(match[3]), 255)
    return _NAMED.get(value.split()[0]) if value else None


def to_hex(colour: RGB) -> str:
    return "#{:02x}{:02x}{:02x}".format(*colour)


def ratio(first: RGB, second: RGB) -> float:
    lighter, darker = sorted((_luminance(first), _luminance(second)), reverse=True)
    return (lighter + 0.05) / (darker + 0.05)


def readable(colour: RGB, background: RGB = WHITE, target: float = NORMAL) -> RGB:
    """``colour``, darkened in steps (its hue kept) until it reaches ``target`` on
    ``background``; unchanged when it already does, or when the background is dark."""
    if ratio(colour, background) >= target or _luminance(background) < 0.5:
        return colour
    shade = colour
    for step in range(1, 21):
        shade = (round(colour[0] * (1 - step / 20)), round(colour[1] * (1 - step / 20)),
                 round(colour[2] * (1 - step / 20)))
        if ratio(shade, background) >= target:
            break
    return shade


def _luminance(colour: RGB) -> float:
    def channel(value: int) -> float:
        share = value / 255
        return share / 12.92 if share <= 0.03928 else ((share + 0.055) / 1.055) ** 2.4
    red, green, blue = (channel(c) for c in colour)
    return 0.2126 * red + 0.7152 * green + 0.0722 * blue
