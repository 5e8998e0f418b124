"""`mailpage lint` and the same checks as warnings in send and preview: each rule on a mail
made to break it, and mailpage's own mail passing its own lint on the whole corpus."""

from __future__ import annotations

import json
import re
import struct
import zlib
from pathlib import Path

import pytest

from mailpage_cli import contrast, lint
from mailpage_cli.models import InlineImage, RenderedPage, Resource
from tests.conftest import EXAMPLE, ROOT, run

CORPUS = sorted((ROOT / "tests" / "data" / "corpus").glob("*.html"))
GOOD_BODY = '<table role="presentation" lang="en" dir="ltr"><tr><td>{}</td></tr></table>'


def mail(content: str, *, body: str = GOOD_BODY, images: tuple[InlineImage, ...] = ()
         ) -> RenderedPage:
    return RenderedPage(f"<html><body>{body.format(content)}</body></html>", "", images)


def rules(rendered: RenderedPage) -> list[str]:
    return [f.rule for f in lint.check(rendered)]


def png(width: int, height: int) -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(
            ">I", zlib.crc32(kind + data))
    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IEND", b"")


def test_a_good_mail_has_no_findings() -> None:
    assert lint.check(mail('<p style="color:#172b4d">Hello</p><img src="cid:a" alt="A">')) == []


def test_an_image_without_alt_is_an_error_naming_its_file() -> None:
    findings = lint.check(mail('<img src="cid:chart.png@x">'))
    assert [(f.severity, f.rule) for f in findings] == [("error", "img-alt")]
    assert "chart.png@x" in findings[0].message
    embedded = InlineImage("a9c8a469@example.com", Resource("build-times.png", "image/png",
                                                             png(10, 10)))
    named = lint.check(mail('<img src="cid:a9c8a469@example.com">', images=(embedded,)))
    assert "an image (build-times.png) has no alt text" in named[0].message


@pytest.mark.parametrize(("colour", "background", "failing"), [
    ("#777777", "#ffffff", True),  # 4.48:1
    ("#767676", "#ffffff", False),  # 4.54:1
    ("rgb(255, 255, 255)", "#ffab00", True),
    ("#ffffff", "#0052cc", False),
])
def test_text_contrast_below_4_5_is_an_error(colour: str, background: str,
                                             failing: bool) -> None:
    content = (f'<div style="background-color:{background}">'
               f'<span style="color:{colour}">x</span></div>')
    assert ("contrast" in rules(mail(content))) is failing


def test_large_text_needs_only_3_to_1() -> None:
    assert "contrast" not in rules(mail('<h1 style="color:#949494">Title</h1>'))  # 3.03:1
    assert "contrast" in rules(mail('<p style="color:#949494">Body</p>'))


def test_a_layout_table_must_say_role_presentation() -> None:
    layout = "<table><tr><td>panel</td></tr></table>"
    data = "<table><tr><th>Key</th></tr><tr><td>ENG-1</td></tr></table>"
    assert rules(mail(layout)) == ["layout-table"]
    assert rules(mail(data)) == []
    assert rules(mail(layout.replace("<table>", '<table role="presentation">'))) == []


def test_the_bodys_children_need_lang_and_dir() -> None:
    assert rules(mail("x", body='<table role="presentation"><tr><td>{}</td></tr></table>')) == [
        "lang-dir"]


def test_an_image_taller_than_outlooks_page_is_a_warning() -> None:
    tall = InlineImage("tall", Resource("tall.png", "image/png", png(800, 3000)))
    short = InlineImage("short", Resource("short.png", "image/png", png(800, 600)))
    assert rules(mail('<img src="cid:tall" alt="t">', images=(tall,))) == ["tall-image"]
    assert rules(mail('<img src="cid:short" alt="s">', images=(short,))) == []
    # shown at half its width, it is half as tall
    assert rules(mail('<img src="cid:tall" alt="t" width="400">', images=(tall,))) == []


def test_the_gmail_budget_counts_the_encoded_bytes() -> None:
    # 60,000 "é" are 120 KB of UTF-8 and 360 KB quoted-printable; 60,000 "e" fit
    assert "gmail-clipping" in rules(mail("é" * 60_000))
    assert "gmail-clipping" not in rules(mail("e" * 60_000))


def test_css_that_outlook_ignores_without_a_fallback_is_a_warning() -> None:
    flex = lint.check(mail('<div style="display:flex">x</div>'))
    assert [(f.rule, "classic Outlook ignores `display`" in f.message) for f in flex] == [
        ("css-support", True)]  # Gmail shows it
    assert set(rules(mail('<div style="position:absolute">x</div>'))) == {"css-support"}
    assert rules(mail('<td style="background-image:url(x.png);background-color:#fff">x</td>'
                      )) == []  # a colour behind it: the fallback
    assert rules(mail('<div style="border-radius:3px">x</div>')) == []  # only plainer


def test_lint_command_exits_8_on_errors_and_prints_json(tmp_path: Path) -> None:
    page = tmp_path / "page_1.html"
    page.write_text('<html><head><title>Bad</title></head><body><div id="main-content">'
                    '<p style="background-color:#333333;color:#555555">dim on dark</p>'
                    '</div></body></html>')
    result = run("lint", str(page), "--json")
    assert result.exit_code == 8, result.stderr
    report = json.loads(result.stdout)
    assert report["errors"] >= 1
    assert {"severity": "error", "rule": "contrast"}.items() <= report["findings"][0].items()


def test_send_and_preview_carry_the_lint_findings_as_warnings(tmp_path: Path) -> None:
    page = tmp_path / "page_1.html"
    page.write_text('<html><head><title>Bad</title></head><body><div id="main-content">'
                    '<p style="background-color:#333333;color:#555555">dim on dark</p>'
                    '</div></body></html>')
    result = run("send", str(page), "--to", "a@example.com", "--dry-run", "--json")
    assert result.exit_code == 0, result.stderr
    assert any(w.startswith("contrast:") for w in json.loads(result.stdout)["warnings"])


@pytest.mark.parametrize("page", [EXAMPLE, *CORPUS], ids=lambda p: p.name)
def test_mailpages_own_mail_passes_its_own_lint(page: Path) -> None:
    result = run("lint", str(page), "--json")
    report = json.loads(result.stdout)
    assert result.exit_code == 0, report
    assert report["errors"] == 0


def test_pale_text_colours_are_darkened_until_they_pass(tmp_path: Path) -> None:
    page = tmp_path / "page_1.html"
    page.write_text('<html><head><title>Palette</title></head><body><div id="main-content">'
                    '<p><span style="color: #ff5630">mandatory</span> and'
                    ' <span style="color: rgb(54, 179, 126)">done</span></p></div></body></html>')
    assert run("lint", str(page)).exit_code == 0
    html = run("preview", str(page), "--html", "-").stdout
    assert "#ff5630" not in html and "54, 179, 126" not in html
    shades = re.findall(r'style="[^"]*?(?<![-\w])color: ?(#[0-9a-f]{6})', html)
    assert shades and all(contrast.ratio(contrast.parse(s) or contrast.WHITE,
                                         contrast.WHITE) >= 4.5 for s in shades)


def test_a_readable_shade_keeps_its_hue() -> None:
    red = contrast.readable((255, 86, 48))
    assert contrast.ratio(red, contrast.WHITE) >= 4.5
    assert red[0] > red[1] and red[0] > red[2]  # still red
    assert contrast.readable((23, 43, 77)) == (23, 43, 77)  # already readable
