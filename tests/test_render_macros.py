"""Macro markup from real exports (Cloud 2025 space exports, Confluence 5.x and Server 6.x
pages, a page saved from the browser) renders as the hand-written Confluence markup does."""

from __future__ import annotations

import re

from mailpage_cli import render
from mailpage_cli.models import Page, RenderedPage, Sender

SENDER = Sender("ann@example.com", "Ann Example")
PAGE_URL = "https://acme.atlassian.net/wiki/spaces/ENG/pages/1"


def rendered(html: str) -> RenderedPage:
    prepared = render.prepare(Page(title="T", html=html, url=PAGE_URL,
                                   base_url="https://acme.atlassian.net/wiki"))
    return render.finish(prepared, {}, sender=SENDER, cid_domain="example.com")


def body(out: RenderedPage) -> str:
    """The page part of the HTML: no header, footer or stylesheet."""
    return out.html.split('class="mp-page"', 1)[1].split('class="mp-footer"', 1)[0]


def style_of(html: str, text: str) -> str:
    """The inline style of the element whose content starts with ``text``."""
    match = re.search(r'<[a-z0-9]+ [^>]*style="([^"]*)"[^>]*>' + re.escape(text), html)
    assert match, text
    return match[1].replace(" ", "")


# 3: colours written as page <style> rules keyed by data-colorid

COLOUR_RULES = (
    "<style>[data-colorid=r3dx01]{color:#ff5630} html[data-color-mode=dark]"
    " [data-colorid=r3dx01]{color:#cf2600}[data-colorid=b1ue02]{color:#0052cc}"
    " html[data-color-mode=dark] [data-colorid=b1ue02]{color:#579dff}</style>"
)


def test_data_colorid_colours_from_the_page_style_are_inlined_in_light_mode() -> None:
    out = rendered(COLOUR_RULES + '<h2><strong><span data-colorid="r3dx01">ARCHIVED</span>'
                   '</strong></h2><p>Step <span data-colorid="b1ue02">2</span>, then'
                   ' <span data-colorid="r3dx01" style="color: #00875a">green</span></p>')
    html = body(out)
    # Cloud's red, darkened just enough to be read on white (see test_lint)
    assert "color:#cc4526" in style_of(html, "ARCHIVED")
    assert "color:#0052cc" in style_of(html, "2<")
    assert "#cf2600" not in out.html and "#579dff" not in html
    # The element's own colour wins, as it does in CSS.
    assert style_of(html, "green").count("color:") == 1
    assert "color:#00875a" in style_of(html, "green")


def test_a_data_colorid_background_gets_its_text_colour_too() -> None:
    html = body(rendered("<style>[data-colorid=hl01]{background-color:#fff0b3}</style>"
                         '<p><span data-colorid="hl01">marked</span></p>'))
    style = style_of(html, "marked")
    assert "background-color:#fff0b3" in style and "color:#172b4d" in style


def test_data_colorid_rules_take_only_plain_colour_values() -> None:
    from mailpage_cli.render.colours import page_rules  # noqa: PLC0415 - the one test of it

    rules = page_rules('<STYLE>[data-colorid=a],[data-colorid="b"]{color: rgb(1, 2, 3) !important}'
                       "[data-colorid=c]{color:url(https://t.example/x.gif)}"
                       "div [data-colorid=d]{color:#123456}</style><style>unclosed")
    assert rules == {"a": {"color": "rgb(1, 2, 3)"}, "b": {"color": "rgb(1, 2, 3)"}}


# 5: emoji fallbacks written as JavaScript escapes

def emoji(fallback: str, emoji_id: str = "1f4d8", shortname: str = ":blue_book:") -> str:
    return (f'<h2><img class="emoticon emoticon-blue-star" data-emoji-id="{emoji_id}"'
            f' data-emoji-shortname="{shortname}" data-emoji-fallback="{fallback}"'
            ' data-emoticon-name="blue-star" alt="(blue star)" src="/wiki/s/x/72/e.png">'
            " Instructions</h2>")


def test_an_escaped_surrogate_pair_emoji_fallback_becomes_the_character() -> None:
    out = rendered(emoji(r"\uD83D\uDCD8"))
    assert "📘 Instructions" in out.html and "## 📘 Instructions" in out.text
    assert "\\u" not in out.html and "\\u" not in out.text


def test_a_single_escaped_emoji_fallback_becomes_the_character_and_shortnames_stay() -> None:
    out = rendered(emoji(r"\u2705", "2705", ":white_check_mark:")
                   + '<p><img class="emoticon" data-emoji-id="atlassian-check_mark"'
                   ' data-emoji-shortname=":check_mark:" data-emoji-fallback=":check_mark:"'
                   ' alt=":check_mark:" src="/wiki/s/x/check.png"> ok</p>')
    assert "✅ Instructions" in out.text and "\\u" not in out.text
    assert ":check_mark: ok" in out.text


def test_a_broken_escape_falls_back_to_the_emoji_id() -> None:
    out = rendered(emoji(r"\uD83D"))
    assert "📘 Instructions" in out.text and "\\u" not in out.text


# 6: diagrams other than draw.io

NOTE = "Diagram: shown in Confluence only."


def test_drawio_sketch_becomes_the_diagram_note() -> None:
    out = rendered('<div class="conf-macro output-block" data-macro-name="drawio-sketch">'
                   '<div class="drawio-macro"><p>draw.io evaluation version</p></div></div>')
    assert NOTE in out.html and "evaluation version" not in out.html
    assert f'href="{PAGE_URL}"' in body(out)


def test_plantuml_and_flowchart_macros_become_the_diagram_note() -> None:
    for name in ("plantuml", "plantumlrender", "flowchart"):
        out = rendered(f'<p>before</p><div class="conf-macro" data-macro-name="{name}">'
                       '<span class="plantuml-svg-image"><svg><text>A</text></svg></span></div>')
        assert NOTE in out.text, name
        assert "mp-box-placeholder" in out.html, name


def test_a_bare_plantuml_image_becomes_the_note_inline_in_a_paragraph() -> None:
    out = rendered('<p>Flow: <span class="plantuml-svg-image"><img alt=""'
                   ' src="data:image/svg+xml;base64,PHN2Zz48L3N2Zz4="></span> (v2)</p>')
    assert re.search(r"<p>Flow: <em class=\"mp-placeholder\"[^>]*>Diagram: shown in"
                     r" Confluence only\. <a [^>]*>Open the page</a></em> \(v2\)</p>", body(out))
    assert f"Flow: *{NOTE} [Open the page]({PAGE_URL})* (v2)" in out.text


# 7: Jira macros sent before JavaScript filled them in

JIRA_LOADING = (
    '<p>Fixed in <span class="confluence-jim-macro jira-issue" data-jira-key="CE-602">'
    '<a href="https://acme.atlassian.net/browse/CE-602" class="jira-issue-key">'
    '<span class="aui-icon aui-icon-wait issue-placeholder"></span>CE-602</a> - '
    '<span class="summary">Getting issue details...</span> <span class="aui-lozenge'
    ' aui-lozenge-subtle aui-lozenge-default issue-placeholder">STATUS</span></span>, today.</p>'
)


JIRA_FILLED_IN = (
    '<p><span class="confluence-jim-macro jira-issue" data-jira-key="ENG-7">'
    '<a class="jira-issue-key" href="https://acme.atlassian.net/browse/ENG-7">'
    '<img class="icon" src="https://acme.atlassian.net/rest/api/2/universal_avatar/1">'
    'ENG-7</a> - <span class="summary">Stream exports</span> <span class="aui-lozenge'
    ' aui-lozenge-subtle aui-lozenge-success">Done</span></span></p>'
)


def test_a_jira_macro_still_loading_keeps_only_its_key_a_loaded_one_keeps_all() -> None:
    out = rendered(JIRA_LOADING + JIRA_FILLED_IN)
    assert "Getting issue details" not in out.html + out.text
    assert "STATUS" not in out.html + out.text
    assert re.search(r'<span class="mp-jira"[^>]*><a [^>]*href="https://acme.atlassian.net/browse'
                     r'/CE-602"[^>]*>CE-602</a></span>, today\.', out.html)
    assert "Fixed in [CE-602](https://acme.atlassian.net/browse/CE-602), today." in out.text
    assert "[ENG-7](https://acme.atlassian.net/browse/ENG-7) - Stream exports [DONE]" in out.text
    assert "mp-lozenge-success" in out.html


# 8: Confluence 5.x information macros, and blockquotes

def aui_message(kind: str, content: str) -> str:
    return (f'<div class="aui-message {kind} shadowed information-macro">'
            f'<span class="aui-icon icon-{kind}">Icon</span>'
            f'<div class="message-content">{content}</div></div>')


def test_confluence_5_information_macros_become_panels_without_the_icon_text() -> None:
    kinds = {"hint": "info", "success": "tip", "warning": "note", "problem": "warning"}
    for old, new in kinds.items():
        out = rendered(aui_message(old, f"<p>The {old} body.</p>"))
        assert re.search(rf'<td [^>]*class="mp-box mp-box-{new}"[^>]*><p[^>]*>The {old} body',
                         out.html), old
        assert "Icon" not in out.html and "Icon" not in out.text, old
        assert f"> The {old} body." in out.text, old


def test_a_confluence_5_macro_title_is_the_panel_title() -> None:
    out = rendered('<div class="aui-message hint shadowed information-macro"><p class="title">'
                   'Before you start</p><span class="aui-icon icon-hint">Icon</span>'
                   '<div class="message-content"><p>Read this.</p></div></div>')
    assert re.search(r'class="mp-box-title"[^>]*><strong>Before you start</strong>', out.html)
    assert "> **Before you start**\n>\n> Read this." in out.text


def test_blockquotes_get_an_inline_left_rule_and_indent() -> None:
    out = rendered("<blockquote><p>Quoted words.</p></blockquote>")
    style = style_of(body(out), "<p")
    assert "border-left:3pxsolid" in style and "padding:00012px" in style  # 0 0 0 12px
    assert "> Quoted words." in out.text


# 10: code macros as exports write them, with no data-macro-name

CODE_EXPORT = (
    '<div class="code panel pdl" style="border-width: 1px;"><div class="codeHeader panelHeader'
    ' pdl" style="border-bottom-width: 1px;"><b>Configurator command</b></div>'
    '<div class="codeContent panelContent pdl"><pre class="syntaxhighlighter-pre"'
    ' data-syntaxhighlighter-params="brush: java; gutter: false; theme: Confluence"'
    ' data-theme="Confluence">if (a &lt; b) {\n    run();\n}</pre></div></div>'
)


def test_export_code_panels_become_code_blocks_with_title_and_language() -> None:
    out = rendered(CODE_EXPORT)
    assert 'class="mp-code"' in body(out) and "mp-box-panel" not in body(out)
    assert re.search(r'class="mp-code-title"[^>]*><strong>Configurator command</strong>',
                     out.html)
    assert "**Configurator command**\n\n```java\nif (a < b) {\n    run();\n}\n```" in out.text
    assert "> ```" not in out.text


def test_export_noformat_panels_become_code_blocks() -> None:
    out = rendered('<div class="preformatted panel" style="border-width: 1px;">'
                   '<div class="preformattedContent panelContent"><pre>plain  text</pre>'
                   "</div></div>")
    assert 'class="mp-code"' in body(out) and "mp-box-panel" not in body(out)
    assert "```\nplain  text\n```" in out.text and "> ```" not in out.text
