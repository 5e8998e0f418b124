"""The judges can fail: SpamAssassin tells spam from ham, Chromium tells broken images apart.

Without spamassassin or chromium these tests skip, except under CI (CI=1), where they fail.
"""

from __future__ import annotations

import base64
import struct
import threading
import zlib
from collections.abc import Iterator
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from tests.support.judges import (
    chromium_render,
    html_with_data_uris,
    judge_missing,
    parse_spamassassin,
    png_size,
    png_top_left,
    require_judge,
    spamassassin,
)

DATE = format_datetime(datetime(2025, 11, 28, 10, 0, tzinfo=UTC))


def png(width: int, height: int, rgb: tuple[int, int, int]) -> bytes:
    """A valid, solid-colour RGB PNG."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        crc = struct.pack(">I", zlib.crc32(kind + data))
        return struct.pack(">I", len(data)) + kind + data + crc

    rows = b"".join(b"\0" + bytes(rgb) * width for _ in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )


def data_uri(image: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(image).decode("ascii")


def document(*images: str, extra: str = "") -> str:
    tags = "".join(f'<p><img src="{src}" alt="image {n}"></p>' for n, src in enumerate(images))
    return (
        '<!DOCTYPE html><html><head><meta charset="utf-8"><title>Release notes</title>'
        "<style>body { background: #ffffff; color: #111111 }"
        " @media (prefers-color-scheme: dark) { body { background: #000000; color: #eeeeee } }"
        f"</style></head><body><h1>Release notes 2.4</h1>{tags}{extra}</body></html>"
    )


def test_a_missing_judge_skips_locally_and_fails_under_ci(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception, match="Debian package 'spamassassin'"):
        require_judge("spamassassin")
    monkeypatch.setenv("CI", "1")
    with pytest.raises(pytest.fail.Exception, match="CI must install it"):
        judge_missing("chromium")


# --- SpamAssassin -------------------------------------------------------------------------


def ham() -> EmailMessage:
    message = EmailMessage()
    message["From"] = "Ann Example <ann@example.com>"
    message["To"] = "Bob Example <bob@example.org>"
    message["Subject"] = "Release notes 2.4"
    message["Date"] = DATE
    message["Message-ID"] = "<release-notes-2.4.20251128100000@example.com>"
    message.set_content(
        "Hello Bob,\n\nThe release notes for version 2.4 are on the wiki page. The main changes"
        " are the new export format and a faster search.\n\nRegards,\nAnn\n"
    )
    message.add_alternative(
        "<html><body><p>Hello Bob,</p><p>The release notes for version 2.4 are on the"
        ' <a href="https://wiki.example.com/display/DOC/Release+notes+2.4">wiki page</a>.'
        " The main changes are the new export format and a faster search.</p>"
        "<p>Regards,<br>Ann</p></body></html>",
        subtype="html",
    )
    return message


def spam() -> EmailMessage:
    message = EmailMessage()
    message["From"] = "WINNER NOTIFICATION <winner@prizes.example.biz>"
    message["To"] = "bob@example.org"
    message["Subject"] = "FREE MONEY!!! CLAIM YOUR PRIZE NOW"
    message["Date"] = DATE
    message["Message-ID"] = "<claim-20251128100000@prizes.example.biz>"
    message.set_content(
        '<html><body><a href="http://203.0.113.9/claim.php?id=1">'
        '<img src="http://203.0.113.9/banner.jpg" width="800" height="1200"></a>'
        '<p><font size="7" color="#ff0000"><b>CLICK HERE TO CLAIM YOUR PRIZE!!!</b></font></p>'
        '<p><a href="http://203.0.113.9/claim.php">https://www.paypal.com/verify</a></p>'
        "</body></html>",
        subtype="html",
    )
    return message


def test_spamassassin_scores_spam_above_ham() -> None:
    require_judge("spamassassin")
    decent = spamassassin(bytes(ham()))
    spammy = spamassassin(bytes(spam()))

    assert decent.score < 1.0, decent.report
    assert spammy.score >= decent.score + 3.0, spammy.report
    for rule in ("SUBJ_ALL_CAPS", "MIME_HTML_ONLY", "HTML_IMAGE_ONLY_04", "T_REMOTE_IMAGE"):
        assert rule in spammy.rules, spammy.report
        assert rule not in decent.rules, decent.report
    # The header's total and the table's points tell the same story (points are rounded).
    assert abs(sum(spammy.rules.values()) - spammy.score) <= 0.05 * len(spammy.rules)


def test_spamassassin_report_parser_reads_folded_header_and_long_rule_names() -> None:
    output = (
        "X-Spam-Checker-Version: SpamAssassin 4.0.1 (2024-03-25) on ci\n"
        "X-Spam-Level: ***\n"
        "X-Spam-Status: No, score=3.4 required=5.0 tests=HTML_MESSAGE,\n"
        "\tT_PDS_SHORT_SPOOFED_URL,SUBJ_ALL_CAPS autolearn=disabled\n"
        "\tversion=4.0.1\n"
        "Subject: x\n\nbody: 5.0 FAKE_RULE in the mail is not a rule\n"
        "Content analysis details:   (3.4 points, 5.0 required)\n\n"
        " pts rule name              description\n"
        "---- ---------------------- --------------------------------------------------\n"
        " 0.5 SUBJ_ALL_CAPS          Subject is all capitals\n"
        " 2.9 NORMAL_HTTP_TO_IP      URI: URI host has a public dotted-decimal IPv4\n"
        "                            address\n"
        " 0.0 T_PDS_SHORT_SPOOFED_URL HTML message short and T_SPOOFED_URL (S_U_FP)\n"
        "-0.0 NO_RELAYS              Informational: message was not relayed via SMTP\n"
    )
    report = parse_spamassassin(output)
    assert report.score == 3.4
    assert report.rules == {
        "SUBJ_ALL_CAPS": 0.5, "NORMAL_HTTP_TO_IP": 2.9, "T_PDS_SHORT_SPOOFED_URL": 0.0,
        "NO_RELAYS": -0.0,
    }


# --- Chromium -----------------------------------------------------------------------------


def related_message() -> EmailMessage:
    """HTML with two inline images by Content-ID; the second far below the fold, lazy (a data:
    URI loads anyway) and referenced URL-encoded, as some mail clients write it."""
    message = EmailMessage()
    message["Subject"] = "Release notes 2.4"
    message.set_content("Release notes 2.4")
    message.add_alternative(
        document(
            "cid:chart@example.com",
            extra='<div style="height: 3000px"></div>'
            '<img src="cid:logo%40example.com" loading="lazy" alt="logo">',
        ),
        subtype="html",
    )
    html_part = message.get_body(preferencelist=("html",))
    assert isinstance(html_part, EmailMessage)
    for cid, colour in (("chart@example.com", (255, 0, 0)), ("logo@example.com", (0, 0, 255))):
        html_part.add_related(
            png(40, 30, colour), maintype="image", subtype="png", cid=f"<{cid}>"
        )
    return message


def test_html_with_data_uris_replaces_matching_cids_only() -> None:
    message = related_message()
    html = html_with_data_uris(message)
    assert "cid:" not in html
    assert html.count(data_uri(png(40, 30, (255, 0, 0)))) == 1
    assert html.count(data_uri(png(40, 30, (0, 0, 255)))) == 1

    html_part = message.get_body(preferencelist=("html",))
    assert isinstance(html_part, EmailMessage)
    html_part.set_content('<p><img src="cid:missing@example.com"></p>', subtype="html")
    assert 'src="cid:missing@example.com"' in html_with_data_uris(message)


def test_chromium_loads_every_inline_image() -> None:
    require_judge("chromium")
    report = chromium_render(html_with_data_uris(related_message()))
    assert (report.images_total, report.images_loaded, report.broken) == (2, 2, [])
    assert report.height > 3000
    assert not report.dark


class _Recorder(BaseHTTPRequestHandler):
    requests: list[str] = []  # noqa: RUF012 - one test at a time, reset by the fixture

    def do_GET(self) -> None:  # the name http.server calls
        self.requests.append(self.path)
        body = png(10, 10, (0, 255, 0))
        self.send_response(200)
        self.send_header("Content-Type", "image/png")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def image_server() -> Iterator[str]:
    """A loopback HTTP server that would serve any image: Chromium must not ask it."""
    _Recorder.requests = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Recorder)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@pytest.mark.parametrize("kind", ["unreplaced cid", "invalid base64", "remote"])
def test_chromium_reports_a_broken_image(kind: str, image_server: str) -> None:
    require_judge("chromium")
    bad = {
        "unreplaced cid": "cid:chart@example.com",
        "invalid base64": "data:image/png;base64,iVBORw0KGgo!!!not-base64",
        "remote": f"{image_server}/banner.png",
    }[kind]
    report = chromium_render(document(data_uri(png(40, 30, (255, 0, 0))), bad))
    assert (report.images_total, report.images_loaded, report.broken) == (2, 1, [bad])
    assert _Recorder.requests == []


def test_chromium_dark_mode_applies_the_dark_media_query(tmp_path: Path) -> None:
    require_judge("chromium")
    html = document(data_uri(png(40, 30, (255, 0, 0))))
    light = chromium_render(html, tmp_path / "light.png")
    dark = chromium_render(html, tmp_path / "dark.png", dark=True, width=600)

    assert not light.dark
    assert dark.dark
    assert light.images_loaded == dark.images_loaded == 1
    assert png_size(tmp_path / "light.png") == (800, max(200, light.height))
    assert png_size(tmp_path / "dark.png") == (600, max(200, dark.height))
    assert png_top_left(tmp_path / "light.png") == (255, 255, 255)
    assert png_top_left(tmp_path / "dark.png") == (0, 0, 0)
