"""Pictures scaled down and recompressed to what the mail shows, so that a page of
screenshots fits the size limit. The mail's column is 760 px wide: no picture needs to be
wider than twice that (HiDPI screens), nor than twice the width the page draws it at. GIFs
(they may move) and pictures already small enough are sent as they are; nothing is scaled
up. Pillow loads only when a picture is too large."""

from __future__ import annotations

import io
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from mailpage_cli.models import Resource
from mailpage_cli.render.images import dimensions, pixels, with_type
from mailpage_cli.render.tree import Element, find
from mailpage_cli.wording import count

if TYPE_CHECKING:
    from PIL import Image

COLUMN = 760  # the mail's column, in CSS pixels
WIDEST = 2 * COLUMN
LIGHT = 100_000  # bytes: a lighter picture costs the mail little, whatever its width
HEAVY = 500_000  # bytes: a picture this large is recompressed even when narrow enough
# Larger pictures are sent as they are, not decoded (memory); below Pillow's own limit, so
# that it never warns.
MAX_PIXELS = 64_000_000
JPEG_QUALITY = 85
SCALABLE = ("image/png", "image/jpeg", "image/webp")


@dataclass(frozen=True)
class Fitted:
    """The pictures after fitting, and what fitting saved."""

    images: dict[str, Resource | None]
    changed: int = 0
    before: int = 0  # bytes of the changed pictures, before and after
    after: int = 0

    @property
    def warning(self) -> str | None:
        if not self.changed:
            return None
        return (f"{count(self.changed, 'image')} scaled down to fit the mail"
                f" ({_megabytes(self.before)} → {_megabytes(self.after)})")


def _megabytes(size: int) -> str:
    return f"{size / 1_000_000:.1f} MB"


def fit(root: Element, images: Mapping[str, Resource | None]) -> Fitted:
    """Each picture no wider than the widest place the page shows it needs (``root`` is the
    page, its ``<img>`` sources the keys of ``images``)."""
    widest: dict[bytes, int] = {}  # by content: one picture under two URLs is one picture
    for img in find(root, "descendant::img"):
        image = images.get(str(img.get("src", "")))
        if image is None or image.content_type not in SCALABLE:
            continue
        wanted = _wanted_width(img, dimensions(image.data))
        widest[image.data] = max(widest.get(image.data, 0), wanted)
    done: dict[bytes, Resource | None] = {}
    fitted: dict[str, Resource | None] = {}
    changed = before = after = 0
    for src, image in images.items():
        if image is None or image.data not in widest:
            fitted[src] = image
            continue
        if image.data not in done:
            done[image.data] = smaller(image, widest[image.data])
            if (new := done[image.data]) is not None:
                changed, before, after = (changed + 1, before + len(image.data),
                                          after + len(new.data))
        fitted[src] = done[image.data] or image
    return Fitted(fitted, changed, before, after)


def _wanted_width(img: Element, natural: tuple[int, int] | None) -> int:
    """Twice the width the page draws the picture at, at most ``WIDEST``; a height alone
    (file previews) stands for the width that goes with it."""
    width = pixels(img.get("width"))
    height = pixels(img.get("height"))
    if not width and height and natural and all(natural):
        width = round(height * natural[0] / natural[1])
    return min(2 * width, WIDEST) if width else WIDEST


def smaller(image: Resource, width: int) -> Resource | None:
    """``image`` at most ``width`` pixels wide, as PNG or JPEG, whichever is smaller (PNG
    when it has transparency); ``None`` when it is best left as it is."""
    natural = dimensions(image.data)
    if not natural or not all(natural) or natural[0] * natural[1] > MAX_PIXELS:
        return None
    scaled = natural[0] > width
    if len(image.data) <= (LIGHT if scaled else HEAVY):
        return None
    try:
        encoded = _encoded(image, width)
    # Pillow raises many kinds of error on broken or hostile pictures: those go as they came.
    except Exception:  # noqa: BLE001
        return None
    if not encoded:
        return None
    kind, data = min(encoded, key=lambda candidate: len(candidate[1]))
    if len(data) >= (len(image.data) if scaled else 0.9 * len(image.data)):
        return None  # not worth a second copy of the picture's quality
    return with_type(image, kind, data)


def _encoded(image: Resource, width: int) -> list[tuple[str, bytes]]:
    from PIL import Image, ImageOps  # noqa: PLC0415 - only large pictures need Pillow

    with Image.open(io.BytesIO(image.data)) as picture:
        if getattr(picture, "is_animated", False):
            return []
        if picture.format == "JPEG":  # decode at a fraction of the size: much faster
            picture.draft(None, (width, max(1, width * picture.height // picture.width)))
        profile = picture.info.get("icc_profile")
        source = picture.format
        shown = ImageOps.exif_transpose(picture)  # the encoders below drop the orientation
        shown, transparent = _flattened(shown)
        if shown.width > width:
            height = max(1, round(shown.height * width / shown.width))
            shown = shown.resize((width, height), Image.Resampling.LANCZOS, reducing_gap=3.0)
        encoded = []
        if source != "JPEG" and shown.mode != "CMYK":  # a photo is never smaller as PNG
            encoded.append(("image/png", _save(shown, "PNG", icc_profile=profile)))
        if not transparent:
            encoded.append(("image/jpeg", _save(shown, "JPEG", quality=JPEG_QUALITY,
                                                optimize=True, progressive=True,
                                                icc_profile=profile)))
        return encoded


def _flattened(picture: Image.Image) -> tuple[Image.Image, bool]:
    """The picture in a mode both encoders take, and whether it has a see-through pixel
    (an alpha channel that is opaque throughout is dropped: JPEG may then do)."""
    if picture.mode in ("RGBA", "LA", "PA") or "transparency" in picture.info:
        picture = picture.convert("RGBA")
        opaque = picture.getchannel("A").histogram()[255]
        if opaque < picture.width * picture.height:
            return picture, True
        return picture.convert("RGB"), False
    if picture.mode not in ("RGB", "L", "CMYK"):
        picture = picture.convert("RGB")
    return picture, False


def _save(picture: Image.Image, kind: str, **options: object) -> bytes:
    out = io.BytesIO()
    picture.save(out, kind, **{k: v for k, v in options.items() if v is not None})
    return out.getvalue()
