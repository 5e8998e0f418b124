"""Images: typed by their bytes, embedded by Content-ID (each picture once), sized for mail;
external ones linked."""

from __future__ import annotations

import hashlib
import struct
from pathlib import PurePosixPath
from urllib.parse import unquote, urlsplit

from mailpage_cli.models import InlineImage, Resource
from mailpage_cli.render.tree import Element, find, new, remove, replace, replace_with_text

MAX_WIDTH = 640  # the widest an image is drawn; Outlook takes the width attribute literally
PREVIEW = "data-mp-preview"  # marks the preview of an embedded file (see ``files``)


def content_id(image: Resource, domain: str) -> str:
    """Deterministic, so the same picture twice is one part."""
    return f"{hashlib.sha256(image.data).hexdigest()[:24]}@{domain}"


def image_type(data: bytes) -> str | None:
    """The type of an image from its first bytes (what the name or the server says can be
    wrong: Cloud exports write previews without an extension), ``None`` for anything else.
    SVG is told apart so that it can be refused: mail clients do not show it."""
    for kind, marks in _MAGIC:
        if all(data[at:at + len(mark)] == mark for at, mark in marks):
            return kind
    head = data[:1024].lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    if head.startswith((b"<svg", b"<?xml", b"<!--", b"<!doctype svg")) and b"<svg" in head:
        return "image/svg+xml"
    return None


_MAGIC = (("image/png", ((0, b"\x89PNG\r\n\x1a\n"),)), ("image/jpeg", ((0, b"\xff\xd8\xff"),)),
          ("image/gif", ((0, b"GIF87a"),)), ("image/gif", ((0, b"GIF89a"),)),
          ("image/webp", ((0, b"RIFF"), (8, b"WEBP"))))
_SUFFIXES = {".png": "image/png", ".jpg": "image/jpeg", ".jpeg": "image/jpeg",
             ".jpe": "image/jpeg", ".jfif": "image/jpeg", ".gif": "image/gif",
             ".webp": "image/webp", ".svg": "image/svg+xml", ".bmp": "image/bmp"}
_SUFFIX_OF = {"image/png": ".png", "image/jpeg": ".jpg", "image/gif": ".gif",
              "image/webp": ".webp"}


def typed(image: Resource) -> tuple[Resource | None, str | None]:
    """The image as its bytes say it is (type, and a file name to match), or ``None`` with
    the reason when it cannot be embedded. A format not sniffed here (BMP, TIFF) is taken
    as declared; bytes that contradict a declared PNG, JPEG, GIF or WebP are not."""
    kind = image_type(image.data)
    if kind == "image/svg+xml":
        return None, (f"{image.filename} is an SVG drawing, which mail clients do not show;"
                      " left out")
    if kind is None:
        declared = image.content_type
        if declared.startswith("image/") and declared not in (*_SUFFIX_OF, "image/svg+xml"):
            return image, None
        return None, f"{image.filename} is not an image ({declared}); left out"
    return with_type(image, kind, image.data), None


def with_type(image: Resource, kind: str, data: bytes) -> Resource:
    """``data`` of type ``kind`` in place of ``image``, named to match: ``1246011.jpg``
    holding a PNG is sent as ``1246011.png``, a preview ``906690578`` as ``906690578.jpg``."""
    name = image.filename
    stem, dot, suffix = name.rpartition(".")
    suffix = f".{suffix.lower()}" if dot else ""
    if kind in _SUFFIX_OF and _SUFFIXES.get(suffix) != kind:
        name = (stem if suffix in _SUFFIXES else name) + _SUFFIX_OF[kind]
    return Resource(name, kind, data)


def dimensions(data: bytes) -> tuple[int, int] | None:
    """Width and height of a PNG, GIF, JPEG or WebP from its header."""
    if data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) >= 24:
        width, height = struct.unpack(">II", data[16:24])
        return width, height
    if data[:6] in (b"GIF87a", b"GIF89a") and len(data) >= 10:
        width, height = struct.unpack("<HH", data[6:10])
        return width, height
    if data[:2] == b"\xff\xd8":
        return _jpeg_dimensions(data)
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP" and len(data) >= 30:
        return _webp_dimensions(data)
    return None


def _jpeg_dimensions(data: bytes) -> tuple[int, int] | None:
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


def _webp_dimensions(data: bytes) -> tuple[int, int] | None:
    chunk = data[12:16]
    if chunk == b"VP8X":  # extended: 24-bit sizes minus one
        width = int.from_bytes(data[24:27], "little") + 1
        height = int.from_bytes(data[27:30], "little") + 1
        return width, height
    if chunk == b"VP8L" and data[20:21] == b"\x2f":  # lossless: 14-bit sizes minus one
        bits = int.from_bytes(data[21:25], "little")
        return (bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1
    if chunk == b"VP8 " and data[23:26] == b"\x9d\x01\x2a":  # lossy: 14-bit sizes
        width, height = struct.unpack("<HH", data[26:30])
        return width & 0x3FFF, height & 0x3FFF
    return None


def pixels(value: object) -> int | None:
    """A ``width`` or ``height`` attribute in pixels; ``None`` if absent, zero or relative."""
    text = str(value or "").strip().removesuffix("px")
    return (int(text) or None) if text.isascii() and text.isdigit() else None


def alt_text(img: Element) -> str:
    """``[image: ALT]``, else ``[image: FILE NAME]``: a reader knows what is not shown."""
    alt = " ".join(str(img.get("alt") or "").split())
    src = urlsplit(str(img.get("src") or ""))
    name = "" if src.scheme == "cid" else unquote(PurePosixPath(src.path).name)
    name = "".join(c for c in name if c.isprintable())  # no escape reaches a terminal
    return f"[image: {alt or name}]" if alt or name else "[image]"


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
        elif img.get(PREVIEW) is not None:
            _drop_preview(img)  # the file's name and link, beside it, say it all
        elif urlsplit(src).scheme in ("http", "https"):
            replace(img, new("a", alt_text(img), href=src))
        else:  # the same mark for every image left out, apart from the next one
            missing += 1
            replace_with_text(img, f" {alt_text(img)} ")
        img.attrib.pop(PREVIEW, None)
    return tuple(embedded.values()), missing


def _drop_preview(img: Element) -> None:
    """A preview that could not be had goes, with the link around it and the break after."""
    parent = img.getparent()
    if parent is not None and parent.tag == "a" and len(parent) == 1 and not (
            (parent.text or "").strip() or (img.tail or "").strip()):
        img = parent
    following = img.getnext()
    if following is not None and following.tag == "br" and not (img.tail or "").strip():
        remove(following)
    remove(img)


def _size(img: Element, image: Resource) -> None:
    """Width and height attributes no wider than the mail, in the picture's proportions
    (Outlook draws them as written; other clients follow CSS ``height: auto``). A page that
    gives only a height (file previews do) gets the width that goes with it."""
    natural = dimensions(image.data)
    if natural and not all(natural):
        natural = None
    width = pixels(img.get("width"))
    height = pixels(img.get("height"))
    if not width and height and natural:
        width = round(height * natural[0] / natural[1])
    width = width or (natural[0] if natural else None)
    if not width:
        return
    width = min(width, MAX_WIDTH)
    img.set("width", str(width))
    if natural:
        img.set("height", str(max(1, round(width * natural[1] / natural[0]))))
    else:
        img.attrib.pop("height", None)
