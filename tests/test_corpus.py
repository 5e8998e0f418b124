"""Every page of the corpus (tests/data/corpus: every macro family, long, non-ASCII, RTL and
hostile pages) is fetched from a loopback Confluence, rendered and judged by independent
judges: Python's strict e-mail parser, SpamAssassin, and headless Chromium."""

from __future__ import annotations

import json
import re
import struct
import zlib
from collections.abc import Iterator
from email import message_from_bytes, policy
from email.message import EmailMessage
from functools import cache
from pathlib import Path
from typing import Any

import pytest
from bs4 import BeautifulSoup

from tests.conftest import ROOT, run
from tests.support import judges
from tests.support.confluence_server import (
    Attachment,
    FakeConfluence,
    Page,
    Site,
    StaticFile,
    User,
)

CORPUS = ROOT / "tests" / "data" / "corpus"
INDEX: list[dict[str, Any]] = json.loads((CORPUS / "index.json").read_text())
FILES = [entry["file"] for entry in INDEX]
ME = User("Ann Example", "ann@example.com")


def png(width: int, height: int, seed: int) -> bytes:
    """A real PNG of that size: bands of colour, so that it is not all one value."""
    colours = [(0, 82, 204), (54, 179, 126), (255, 153, 31), (101, 84, 192)]
    rows = []
    for y in range(height):
        red, green, blue = colours[(y * 4 // max(height, 1) + seed) % len(colours)]
        rows.append(b"\0" + bytes((red, green, blue)) * width)

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (struct.pack(">I", len(data)) + kind + data
                + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header)
            + chunk(b"IDAT", zlib.compress(b"".join(rows), 9)) + chunk(b"IEND", b""))


def attachment(entry: dict[str, Any], seed: int) -> Attachment:
    if entry["media_type"].startswith("image/"):
        data = png(entry["width"], entry["height"], seed)
    else:
        data = bytes(range(256)) * (entry.get("size", 1024) // 256 + 1)
    return Attachment(entry["filename"], "image/png" if entry["media_type"].startswith(
        "image/") else entry["media_type"], data, entry.get("id", ""))


def previews(entry: dict[str, Any]) -> dict[str, StaticFile]:
    """The preview Confluence draws of a file (a PDF's first page): a picture served under
    the file's own name, as ``/download/thumbnails/`` serves it."""
    return {f"/download/thumbnails/{entry['id']}/{a['filename']}": StaticFile(
                "image/png", png(a["thumbnail"]["width"], a["thumbnail"]["height"], n))
            for n, a in enumerate(entry["attachments"]) if "thumbnail" in a}


def site(deployment: str) -> Site:
    pages = []
    files: dict[str, StaticFile] = {}
    for entry in INDEX:
        if entry["deployment"] != deployment:
            continue
        files |= previews(entry)
        html = (CORPUS / entry["file"]).read_text(encoding="utf-8")
        pages.append(Page(
            entry["id"], entry["title"], space_key=entry["space_key"],
            space_name=entry["space_name"], version=entry["version"],
            export_view=html if entry["kind"] == "export_view" else None, view=html,
            attachments=[attachment(a, n) for n, a in enumerate(entry["attachments"])],
        ))
    context = "/wiki" if deployment == "cloud" else "/confluence"
    return Site(deployment, context, me=ME, pages=pages, files=files)


@pytest.fixture(scope="module")
def sites() -> Iterator[dict[str, FakeConfluence]]:
    with FakeConfluence(site("cloud")) as cloud, FakeConfluence(site("datacenter")) as dc:
        yield {"cloud": cloud, "datacenter": dc}


@cache
def _render(file: str, env_items: tuple[tuple[str, str], ...]) -> tuple[bytes, str]:
    entry = next(e for e in INDEX if e["file"] == file)
    result = run("send", entry["id"], "--to", "Team <team@example.com>", "--attachments",
                 "--message", "FYI: the page as of today.", "--save", "-", env=dict(env_items))
    assert result.exit_code == 0, result.stderr
    return result.stdout_bytes, result.stderr


def rendered(file: str, sites: dict[str, FakeConfluence]) -> tuple[EmailMessage, bytes, str]:
    entry = next(e for e in INDEX if e["file"] == file)
    env = {**sites[entry["deployment"]].env(), "MAILPAGE_SENDER_ADDRESS": "ann@example.com",
           "MAILPAGE_SENDER_NAME": "Ann Example", "MAILPAGE_MAX_SIZE_MB": ""}
    data, stderr = _render(file, tuple(sorted(env.items())))
    msg = message_from_bytes(data, policy=policy.default)
    assert isinstance(msg, EmailMessage)
    return msg, data, stderr


def html_part(msg: EmailMessage) -> str:
    body = msg.get_body(("html",))
    assert body is not None
    return str(body.get_content())


@pytest.mark.parametrize("file", FILES)
def test_the_strict_parser_finds_no_defect_and_cids_match_parts(
    file: str, sites: dict[str, FakeConfluence]
) -> None:
    _, data, _ = rendered(file, sites)
    msg = message_from_bytes(data, policy=policy.strict)
    for part in msg.walk():
        assert not part.defects
        for name, value in part.items():
            assert not value.defects, name
    assert all(byte < 128 for byte in data)
    parsed = message_from_bytes(data, policy=policy.default)
    assert isinstance(parsed, EmailMessage)
    html = html_part(parsed)
    referenced = set(re.findall(r'src="cid:([^"]+)"', html))
    parts = {p["Content-ID"].strip("<>") for p in parsed.walk() if p["Content-ID"]}
    assert referenced == parts
    related = [p for p in parsed.walk() if p.get_content_type() == "multipart/related"]
    assert bool(related) == bool(parts)


@pytest.mark.parametrize("file", FILES)
def test_nothing_active_survives_and_every_link_is_absolute(
    file: str, sites: dict[str, FakeConfluence]
) -> None:
    msg, _, _ = rendered(file, sites)
    soup = BeautifulSoup(html_part(msg), "html.parser")
    for bad in ("script", "iframe", "object", "embed", "form", "input", "svg", "base", "link"):
        assert soup.find(bad) is None, bad
    for element in soup.find_all(name=True):
        assert not [a for a in element.attrs if a.lower().startswith("on")], element.name
        style = str(element.get("style", "")).lower()
        assert "url(" not in style and "expression(" not in style
    for link in soup.find_all("a"):
        href = str(link.get("href", ""))
        assert re.match(r"(https?://|mailto:)", href), href
    for img in soup.find_all("img"):
        assert str(img["src"]).startswith("cid:"), img["src"]


@pytest.mark.parametrize("file", FILES)
def test_text_and_background_colours_are_set_together(
    file: str, sites: dict[str, FakeConfluence]
) -> None:
    """Whatever sets a text colour has a background set on it or around it; whatever sets a
    background sets the text colour on it: dark mode cannot leave dark on dark."""
    msg, _, _ = rendered(file, sites)
    soup = BeautifulSoup(html_part(msg), "html.parser")

    def declares(element: Any, prop: str) -> bool:
        style = str(element.get("style", "")).lower()
        return any(d.split(":")[0].strip() == prop for d in style.split(";") if ":" in d)

    for element in soup.body.find_all(name=True) if soup.body else []:
        if declares(element, "background-color"):
            assert declares(element, "color"), str(element)[:200]
        if declares(element, "color"):
            assert any(declares(e, "background-color") or e.get("bgcolor")
                       for e in [element, *element.parents] if hasattr(e, "get")), \
                str(element)[:200]


@pytest.mark.parametrize("file", FILES)
def test_the_text_alternative_reads_well(file: str, sites: dict[str, FakeConfluence]) -> None:
    msg, _, _ = rendered(file, sites)
    text = msg.get_body(("plain",))
    assert text is not None
    content = str(text.get_content()).replace("\r\n", "\n")
    entry = next(e for e in INDEX if e["file"] == file)
    assert content.startswith(f"# {entry['title']}\n")
    assert "FYI: the page as of today." in content
    assert len(content) > 300
    assert "\\_" not in content and "\\*" not in content  # no markdown escape noise
    assert "<" + "div" not in content and "&nbsp;" not in content


@pytest.mark.parametrize("file", FILES)
def test_spamassassin_scores_below_one(file: str, sites: dict[str, FakeConfluence]) -> None:
    judges.require_judge("spamassassin")
    _, data, _ = rendered(file, sites)
    report = judges.spamassassin(data)
    assert report.score < 1.0, report.rules


@pytest.mark.parametrize("file", FILES)
def test_chromium_renders_every_image(file: str, sites: dict[str, FakeConfluence],
                                      tmp_path: Path) -> None:
    judges.require_judge("chromium")
    msg, _, _ = rendered(file, sites)
    parts = [p for p in msg.walk() if p["Content-ID"]]
    report = judges.chromium_render(judges.html_with_data_uris(msg))
    assert report.broken == []
    assert report.images_loaded == report.images_total
    assert report.images_total >= len(parts)


def test_the_long_page_warns_about_gmail_clipping(sites: dict[str, FakeConfluence]) -> None:
    _, _, stderr = rendered("service-catalogue.html", sites)
    assert "Gmail" in stderr


def test_the_hostile_page_loses_its_remote_resources_and_keeps_its_text(
    sites: dict[str, FakeConfluence],
) -> None:
    msg, _, _ = rendered("hostile.html", sites)
    html = html_part(msg)
    for remote in ("theme.css", "widget.css", "flash.swf", "forms.vendor-mail", "bg.gif",
                   "px.gif", "err.gif", "atlassian-dev.net"):
        assert remote not in html, remote
    assert len(BeautifulSoup(html, "html.parser").get_text()) > 200
