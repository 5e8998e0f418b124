"""Rendering a page for mail: sanitizing, links, images by Content-ID, CSS, text alternative."""

from __future__ import annotations

import re

from mailpage_cli import render
from mailpage_cli.models import Page, Resource, Sender

SENDER = Sender("ann@example.com", "Ann Example")
PNG = Resource("a.png", "image/png", b"\x89PNG fake one")
OTHER_PNG = Resource("b.png", "image/png", b"\x89PNG fake two")


def rendered(html: str, images: dict[str, Resource | None] | None = None, **page: object):  # type: ignore[no-untyped-def]
    prepared = render.prepare(Page(title="T", html=html, **page))  # type: ignore[arg-type]
    images = images if images is not None else dict.fromkeys(prepared.image_sources, PNG)
    return render.finish(prepared, images, sender=SENDER, cid_domain="example.com")


def test_active_content_is_removed() -> None:
    out = rendered(
        '<p onclick="steal()">hi<script>alert(1)</script></p>'
        '<a href="javascript:alert(1)">js</a><img src="x.png" onerror="alert(1)">'
        '<iframe src="https://evil.example"></iframe><form action="https://evil.example">'
        '<input name="q"></form><svg><script>alert(2)</script></svg>'
        '<link rel="stylesheet" href="https://evil.example/x.css">'
        '<p style="background:url(https://track.example/p.gif);color:red">styled</p>'
    )
    html = out.html.lower()
    for bad in ("<script", "onclick", "onerror", "javascript:", "<iframe", "<form", "<svg",
                "evil.example", "track.example", "alert("):
        assert bad not in html, bad
    assert "color:#e60000" in html.replace(" ", "")  # kept, darkened to be read (4.5:1)


def test_links_become_absolute_to_the_site() -> None:
    out = rendered('<a href="/wiki/spaces/ENG/pages/1">one</a> <a href="#part">part</a>'
                   ' <a href="mailto:x@example.com">mail</a>',
                   base_url="https://acme.atlassian.net/wiki",
                   url="https://acme.atlassian.net/wiki/spaces/ENG/pages/2")
    assert 'href="https://acme.atlassian.net/wiki/spaces/ENG/pages/1"' in out.html
    assert 'href="https://acme.atlassian.net/wiki/spaces/ENG/pages/2#part"' in out.html
    assert 'href="mailto:x@example.com"' in out.html


def test_links_without_a_known_site_become_text() -> None:
    out = rendered('<p><a href="Other_12.html">other page</a></p>')
    assert "other page" in out.html
    assert "Other_12.html" not in out.html
    assert any("link" in w for w in out.warnings)


def test_images_are_embedded_once_each_by_content_id() -> None:
    out = rendered('<img src="a.png"><img src="a.png"><img src="b.png"><img src="c.png">',
                   {"a.png": PNG, "b.png": OTHER_PNG, "c.png": PNG})
    cids = re.findall(r'src="cid:([^"]+)"', out.html)
    assert len(cids) == 4
    assert len(set(cids)) == 2
    assert {i.cid for i in out.images} == set(cids)
    assert all(cid.endswith("@example.com") for cid in cids)


def test_missing_local_images_become_alt_text_with_a_warning() -> None:
    out = rendered('<img src="gone.png" alt="Diagram">', {"gone.png": None})
    assert "cid:" not in out.html and "gone.png" not in out.html
    assert "[image: Diagram]" in out.html
    assert out.images == ()
    assert any("image" in w for w in out.warnings)


def test_external_images_are_linked_not_loaded() -> None:
    out = rendered('<img src="https://cdn.example.org/pic.png" alt="Pic">', {})
    assert '<a href="https://cdn.example.org/pic.png"' in out.html
    assert "<img" not in out.html.split('class="mp-page"')[1]


def test_data_uri_images_are_dropped() -> None:
    out = rendered('<p>x<img src="data:image/png;base64,AAAA"></p>')
    assert "data:" not in out.html and out.images == ()


def test_css_is_inlined_and_only_dark_mode_rules_stay_in_a_style_element() -> None:
    out = rendered('<div class="confluence-information-macro"><p>Note</p></div>')
    (kept,) = re.findall(r"<style>(.*?)</style>", out.html, re.S)
    assert kept.strip().startswith("@media (prefers-color-scheme: dark)")
    cell = re.search(r'<td [^>]*class="mp-box mp-box-info"[^>]*>', out.html)
    assert cell, "the panel is a one-cell table"
    assert 'bgcolor="#deebff"' in cell[0] and "background-color: #deebff" in cell[0]


def test_text_alternative_keeps_links_and_is_never_empty() -> None:
    out = rendered('<p>See <a href="https://example.com/doc">the doc</a>.</p>')
    assert "[the doc](https://example.com/doc)" in out.text
    assert "Sent by Ann Example <ann@example.com>" in out.text
    empty_box = ('<div class="confluence-information-macro">'
                 '<div class="confluence-information-macro-body"><p></p></div></div>')
    for blank in ("", empty_box):
        assert "(This page has no text.)" in rendered(blank).text


def test_text_alternative_has_no_escape_noise() -> None:
    out = rendered("<p>snake_case and 2*3 and [brackets]</p>")
    assert "snake_case and 2*3 and [brackets]" in out.text


def test_emoticons_become_unicode() -> None:
    out = rendered('<p>done <img class="emoticon" data-emoticon-name="tick" src="/x/check.svg"'
                   ' alt="(tick)"></p>')
    assert "✅" in out.html and "check.svg" not in out.html and out.images == ()


def test_personal_note_is_markdown_and_cannot_inject_html() -> None:
    prepared = render.prepare(Page(title="T", html="<p>x</p>"))
    out = render.finish(prepared, {}, sender=SENDER,
                        note="**Read** this <script>alert(1)</script>")
    assert "<strong>Read</strong>" in out.html
    assert "<script" not in out.html


def test_markup_nested_past_the_source_limit_loses_its_tags_not_its_text() -> None:
    """The sanitiser's parser is quadratic in depth (50,000 nested lists took 43 s): tags
    below MAX_SOURCE_DEPTH go before it runs; the text stays, and the usual warning says so."""
    from mailpage_cli.render.sanitize import MAX_SOURCE_DEPTH, shallow  # noqa: PLC0415

    levels = MAX_SOURCE_DEPTH * 4
    page = Page(title="Deep", html="<div>" * levels + "bottom text" + "</div>" * levels,
                id="1", base_url="https://acme.atlassian.net/wiki")
    cut = shallow(page.html)
    assert cut.count("<div>") == cut.count("</div>") == MAX_SOURCE_DEPTH
    prepared = render.prepare(page)
    assert "bottom text" in render.finish(prepared, {}, sender=Sender("a@example.com")).text
    assert any("nests its markup" in w for w in prepared.warnings)
    normal = "<table><tr><td><p>a<br/>b<img src='x.png'/></p></td></tr></table>"
    assert shallow(normal) is normal


def test_every_image_left_out_gets_the_same_mark_apart_from_the_next() -> None:
    out = rendered('<p><img src="a.png" alt="Chart"><img src="attachments/1/b%20c.png">'
                   '<img src="d.png" alt="Diagram"></p>', images={})
    assert "[image: Chart] [image: b c.png] [image: Diagram]" in " ".join(out.html.split())
    assert "[image: b c.png]" in out.text


def test_a_table_of_contents_inside_a_heading_follows_it_in_the_html_too() -> None:
    out = rendered('<h2>Contents<ul><li><a href="#one">One</a></li><li>Two</li></ul></h2>'
                   "<p>Body</p>")
    heading = re.search(r"<h2[^>]*>(.*?)</h2>", out.html, re.DOTALL)
    assert heading and "Contents" in heading[1] and "<li" not in heading[1]
    assert out.html.index("</h2>") < out.html.index(">One<")
