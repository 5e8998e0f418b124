"""Images: embedded by Content-ID (each picture once), sized for mail; external ones linked."""

from __future__ import annotations

import hashlib
import struct
from urllib.parse import urlsplit

from mailpage_cli.models import InlineImage, Resource
from mailpage_cli.render.tree import Element, find, new, replace, replace_with_text

MAX_WIDTH = 640  # the widest an image is drawn; Outlook takes the width attribute literally


def content_id(image: Resource, domain: str) -> str:
    """Deterministic, so the same picture twice is one part."""
    return f"{hashlib.sha256(image.data).hexdigest()[:24]}@{domain}"


def dimensions(data: bytes) -> tuple[int, int] | None:
    """Width and height of a PNG, GIF or JPEG from its header."""
    if data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) >= 24:
        width, height = struct.unpack(">II", data[16:24])
        return width, height
    if data[:6] in (b"GIF87a", b"GIF89a") and len(data) >= 10:
        width, height = struct.unpack("<HH", data[6:10])
        return width, height
    if data[:2] == b"\xff\xd8":
        index = 2
        while index + 9 < len(data):
            if data[index] != 0xFF:
                return None
            marker = data[index + 1]
            length = struct.unpack(">H", data[index + 2:index + 4])[0]
            if 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC):
                height, width = struct.unpack(">HH", data[index + 5:index + 9])
                return width, height
            index += 2 + length
    return None


def _width(value: object) -> int | None:
    text = str(value or "").strip().removesuffix("px")
    return int(text) if text.isascii() and text.isdigit() else None


def alt_text(img: Element) -> str:
    alt = " ".join(str(img.get("alt") or "").split())
    return f"[image: {alt}]" if alt else "[image]"


def embed(root: Element, images: dict[str, Resource | None],
          cid_domain: str) -> tuple[tuple[InlineImage, ...], int]:
    """Point each ``<img>`` at its part; returns the parts and how many images were missing."""
    embedded: dict[str, InlineImage] = {}
    missing = 0
    for img in find(root, "descendant::img"):
        src = str(img.get("src", ""))
        image = images.get(src)
        if image is not None:
            cid = content_id(image, cid_domain)
            embedded.setdefault(cid, InlineImage(cid, image))
            img.set("src", f"cid:{cid}")
            _size(img, image)
        elif urlsplit(src).scheme in ("http", "https"):
            replace(img, new("a", alt_text(img), href=src))
        else:
            missing += 1
            replace_with_text(img, alt_text(img) if img.get("alt") else "")
    return tuple(embedded.values()), missing


def _size(img: Element, image: Resource) -> None:
    """A width attribute no wider than the mail; the height follows (CSS height: auto)."""
    natural = dimensions(image.data)
    width = _width(img.get("width")) or (natural[0] if natural else None)
    if width:
        img.set("width", str(min(width, MAX_WIDTH)))
        img.attrib.pop("height", None)
