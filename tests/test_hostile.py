"""Hostile and malformed input: any PAGE, recipient or setting gives a result or a clear error
with its exit code; nothing in a title, name, subject or file name can make a header or a
recipient; nothing active or remote survives in the HTML, and rendering fetches nothing."""

from __future__ import annotations

import http.server
import json
import threading
from collections.abc import Iterator
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path

import pytest
import tomli_w
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mailpage_cli import pagerefs, recipients
from mailpage_cli import settings as mailpage_settings
from mailpage_cli.errors import MailpageError
from tests.conftest import EXAMPLE, run, set_env
from tests.support import smtp
from tests.support.confluence_server import (
    Attachment,
    FakeConfluence,
    Page,
    Site,
    StaticFile,
    User,
)

SITE = "https://acme.atlassian.net/wiki"
NASTY = ["\r\nBcc: evil@attacker.example", "\nX-Injected: yes", "\x00", "\x1b[31m", "\u2028",
         "\r", "\t", '"', "<", ">", ",", ";", ":"]
nasty_text = st.lists(st.sampled_from([*NASTY, "a", "b", " ", "é", "東", "🚀", "@", "x.com"]),
                      max_size=12).map("".join) | st.text(max_size=60)
PROPERTY = settings(max_examples=300, deadline=None, suppress_health_check=[
    HealthCheck.too_slow, HealthCheck.function_scoped_fixture])


# --------------------------------------------------------------------------- properties


@PROPERTY
@given(text=nasty_text | st.builds(
    lambda scheme, host, path: f"{scheme}://{host}/{path}",
    st.sampled_from(["http", "https", "ftp", "HTTPS"]),
    st.sampled_from(["acme.atlassian.net", "evil.example", "acme.atlassian.net:8443", "[::1]",
                     "acme.atlassian.net.evil", "", "acme.atlassian.net:x"]),
    st.text(max_size=60)))
def test_any_page_string_gives_a_reference_or_a_clear_error(text: str) -> None:
    for site in (SITE, None):
        try:
            ref = pagerefs.parse(text, site)
        except MailpageError as exc:
            assert exc.exit_code in (2, 3, 5)
            assert str(exc)
        else:
            assert isinstance(ref, pagerefs.LocalFile | pagerefs.PageId | pagerefs.PageTitle)


@PROPERTY
@given(specs=st.lists(nasty_text | st.emails(), max_size=4))
def test_any_recipient_spec_gives_addresses_or_a_clear_error(specs: list[str]) -> None:
    try:
        found = recipients.resolve(specs, read_stdin=lambda: "")
    except MailpageError as exc:
        assert exc.exit_code in (2, 3)
    else:
        for recipient in found.all:
            assert "\n" not in recipient.name and "\r" not in recipient.name
            assert recipient.address.isascii() and " " not in recipient.address
            assert recipient.address.count("@") == 1


toml_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(
        st.text(max_size=12), children, max_size=3), max_leaves=8)


@PROPERTY
@given(data=st.dictionaries(st.sampled_from(["profiles", "x", "smtp"]), st.dictionaries(
    st.sampled_from(["default", "work", ""]), st.dictionaries(
        st.sampled_from(["smtp", "sender", "policy", "confluence", "other"]),
        st.dictionaries(st.sampled_from(["host", "port", "security", "max_size_mb",
                                         "allowed_domains", "address", "password", "x"]),
                        toml_values.filter(lambda v: v is not None), max_size=4),
        max_size=3), max_size=2), max_size=2),
       env=st.dictionaries(st.sampled_from(["MAILPAGE_SMTP_PORT", "MAILPAGE_SMTP_SECURITY",
                                            "MAILPAGE_CONFLUENCE_URL", "MAILPAGE_REPLY_TO"]),
                           st.text(max_size=12), max_size=3))
def test_any_settings_load_or_give_a_configuration_error(
    data: dict[str, object], env: dict[str, str], tmp_path_factory: pytest.TempPathFactory,
) -> None:
    path = tmp_path_factory.mktemp("cfg") / "config.toml"
    try:
        path.write_text(tomli_w.dumps(data))
    except (TypeError, ValueError):
        return  # not representable as TOML
    try:
        loaded = mailpage_settings.load(path, "default", env)
    except MailpageError as exc:
        assert exc.exit_code == 3
        assert "password" not in str(exc) or "holds a secret" in str(exc)
    else:
        assert 1 <= loaded.smtp.port <= 65535


@PROPERTY
@given(raw=st.binary(max_size=200))
def test_any_config_file_bytes_load_or_give_a_configuration_error(
    raw: bytes, tmp_path_factory: pytest.TempPathFactory,
) -> None:
    path = tmp_path_factory.mktemp("cfg") / "config.toml"
    path.write_bytes(raw)
    try:
        mailpage_settings.load(path, "default", {})
    except MailpageError as exc:
        assert exc.exit_code == 3


# --------------------------------------------------------------------------- end to end


EVIL_TITLE = "Plan\r\nBcc: evil@attacker.example\r\nX-Injected: yes"
EVIL_NAME = "Mallory\r\nCc: evil2@attacker.example"
PIXEL_HITS: list[str] = []


@pytest.fixture
def pixel_server() -> Iterator[str]:
    """A remote host a hostile page points at: it must receive nothing."""
    PIXEL_HITS.clear()

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            PIXEL_HITS.append(self.path)
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def hostile_html(remote: str) -> str:
    return (
        f'<base href="{remote}/">'
        f'<link rel="stylesheet" href="{remote}/evil.css">'
        f"<style>@import url({remote}/import.css); @font-face {{src: url({remote}/f.woff)}}</style>"
        "<script>alert(1)</script><p onclick=\"alert(2)\" onmouseover='x()'>Hello</p>"
        '<a href="javascript:alert(3)">js</a> <a href="data:text/html,<script>alert(4)</script>">'
        'data</a> <a href="vbscript:msgbox">vb</a>'
        f'<img src="{remote}/pixel.gif" width="1" height="1">'
        f'<p style="background-image:url({remote}/bg.png);color:red">styled</p>'
        f'<iframe src="{remote}/frame"></iframe><object data="{remote}/o.swf"></object>'
        f'<form action="{remote}/steal"><input name="password"></form>'
        '<svg><script>alert(5)</script><a xlink:href="javascript:alert(6)">x</a></svg>'
        f'<video src="{remote}/v.mp4"></video><audio src="{remote}/a.mp3"></audio>'
        f'<meta http-equiv="refresh" content="0;url={remote}/go">'
        "<p>The harmless end.</p>"
    )


@pytest.fixture
def hostile_site(pixel_server: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeConfluence]:
    pages = [
        Page("666", EVIL_TITLE, view=hostile_html(pixel_server), export_view=None,
             attachments=[
                 Attachment("..\\..\\etc\\passwd", "text/plain", b"root:x:0:0"),
                 Attachment('quote"and\\back\r\nX-Evil: 1.txt', "text/plain", b"q"),
                 Attachment("Überblick – 概要 🚀.pdf", "application/pdf", b"%PDF"),
                 Attachment("x" * 300 + ".csv", "text/csv", b"a,b"),
             ]),
        Page("667", "Huge", view="<p>" + "word " * 1_000_000 + "</p>", export_view=None),
        Page("668", "Big attachment", attachments=[
            Attachment("big.bin", "application/octet-stream", b"\0" * 3_000_000)]),
    ]
    data = Site("cloud", "/wiki", me=User(EVIL_NAME, "mallory@example.com"),
                users=[User("Ann\r\nBcc: evil3@attacker.example", "ann@example.com")],
                pages=pages)
    with FakeConfluence(data) as fake:
        set_env(monkeypatch, fake.env())
        yield fake


def saved(*args: str) -> tuple[EmailMessage, bytes]:
    result = run("send", *args, "--save", "-")
    assert result.exit_code == 0, result.stderr
    msg = message_from_bytes(result.stdout_bytes, policy=policy.default)
    assert isinstance(msg, EmailMessage)
    return msg, result.stdout_bytes


def test_nothing_in_titles_names_or_subjects_makes_a_header_or_a_recipient(
    hostile_site: FakeConfluence, smtp_env: smtp.SmtpServer, monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("MAILPAGE_SENDER_NAME", "Wiki\r\nBcc: evil4@attacker.example")
    monkeypatch.setenv("MAILPAGE_SUBJECT_PREFIX", "[x]\r\nX-Prefix: 1")
    result = run("send", "666", "--to", "me", "--cc", "user:Ann", "--subject",
                 "{title}\r\nBcc: evil5@attacker.example", "--message",
                 "Hi\r\nBcc: evil6@attacker.example\r\n\r\n<b>body</b>", "--attachments")
    assert result.exit_code == 0, result.stderr
    (received,) = smtp_env.received
    assert sorted(received.rcpt_tos) == ["ann@example.com", "mallory@example.com"]
    msg = message_from_bytes(received.data, policy=policy.strict)
    top = {name.lower() for name in msg}
    assert top == {"from", "to", "cc", "subject", "date", "message-id", "reply-to",
                   "mime-version", "content-type"}
    addresses = [a.addr_spec for field in ("From", "To", "Cc", "Reply-To")
                 for a in msg[field].addresses]
    assert addresses == ["ann@example.com", "mallory@example.com", "ann@example.com",
                         "mallory@example.com"]  # the injected text stayed display text
    assert "\r" not in msg["Subject"] and "\n" not in msg["Subject"]
    for part in msg.walk():
        assert not part.defects


def test_attachment_names_are_safe_file_names(hostile_site: FakeConfluence) -> None:
    msg, _ = saved("666", "--to", "a@example.com", "--attachments")
    names = [str(p.get_filename()) for p in msg.iter_attachments()]
    assert names[0] == "passwd"
    assert names[1] == "back X-Evil: 1.txt"
    assert names[2] == "Überblick – 概要 🚀.pdf"
    assert len(names[3]) <= 150 and names[3].endswith(".csv")
    for name in names:
        assert "/" not in name and "\\" not in name and "\n" not in name


def test_hostile_html_loses_everything_active_and_remote(
    hostile_site: FakeConfluence, pixel_server: str,
) -> None:
    msg, _ = saved("666", "--to", "a@example.com")
    html = str(msg.get_body(("html",)).get_content())  # type: ignore[union-attr]
    lowered = html.lower()
    for bad in ("<script", "onclick", "onmouseover", "javascript:", "vbscript:", "data:text",
                "<iframe", "<object", "<form", "<input", "<svg", "<video", "<audio", "<base",
                "<link", "http-equiv", "@import", "@font-face", "url(", "alert("):
        assert bad not in lowered, bad
    assert f'src="{pixel_server}' not in html  # the pixel is a link, never an image
    assert "The harmless end." in html and "styled" in html
    assert PIXEL_HITS == []  # nothing was fetched from the remote host while rendering


def test_external_images_are_fetched_only_when_asked(
    hostile_site: FakeConfluence, pixel_server: str,
) -> None:
    run("send", "666", "--to", "a@example.com", "--external-images", "embed", "--dry-run")
    assert PIXEL_HITS == ["/pixel.gif"]  # asked for: fetched, without credentials


def test_images_in_the_note_follow_the_page_rule_for_external_images(
    pixel_server: str,
) -> None:
    note = f"Look: ![chart]({pixel_server}/note.png)"
    msg, _ = saved(str(EXAMPLE), "--to", "a@example.com", "--message", note)
    html = str(msg.get_body(("html",)).get_content())  # type: ignore[union-attr]
    assert f'src="{pixel_server}' not in html  # the reader's client loads nothing
    assert f'href="{pixel_server}/note.png"' in html and "[image: chart]</a>" in html
    assert PIXEL_HITS == []
    run("send", str(EXAMPLE), "--to", "a@example.com", "--message", note,
        "--external-images", "embed", "--dry-run")
    assert PIXEL_HITS == ["/note.png"]  # asked for: fetched, as the page's images are


def test_a_5_mb_page_renders(hostile_site: FakeConfluence) -> None:
    result = run("send", "667", "--to", "a@example.com", "--dry-run", "--json")
    assert result.exit_code == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["message"]["bytes"] > 5_000_000
    assert any("Gmail" in w for w in report["warnings"])


def test_an_attachment_over_the_budget_is_refused_before_sending(
    hostile_site: FakeConfluence, smtp_env: smtp.SmtpServer,
) -> None:
    run("config", "set-policy", "--max-size", "1")
    result = run("send", "668", "--to", "a@example.com", "--attachments")
    assert result.exit_code == 8
    assert "big.bin" in result.stderr
    assert smtp_env.recorder.connections == 0


@pytest.mark.parametrize(("name", "safe"), [
    ("../../etc/passwd", "passwd"), ("..\\..\\boot.ini", "boot.ini"), ("/", "attachment"),
    ("a\r\nb.txt", "a b.txt"), ("...", "attachment"), (" .hidden ", "hidden"),
])
def test_safe_file_names(name: str, safe: str) -> None:
    from mailpage_cli.message import safe_filename  # noqa: PLC0415

    assert safe_filename(name) == safe


def test_invalid_utf8_in_an_export_is_replaced_not_fatal(tmp_path: Path) -> None:
    page = tmp_path / "Broken_1.html"
    page.write_bytes(b'<title>ENG : Caf\xe9 \xff</title><div id="main-content"><p>na\xefve'
                     b" \xc3\x28 text</p></div>")
    result = run("send", str(page), "--to", "a@example.com", "--save", "-")
    assert result.exit_code == 0, result.stderr
    msg = message_from_bytes(result.stdout_bytes, policy=policy.default)
    assert "Caf" in str(msg["Subject"]) and "\ufffd" in str(msg["Subject"])


def test_terminal_escapes_in_page_data_never_reach_stderr(monkeypatch: pytest.MonkeyPatch) -> None:
    """An OSC sequence in an image's file name (retitle the terminal, write the clipboard)
    reaches the warning that the file is not an image only as harmless text."""
    name = "%1B%5D0%3BPWNED%07evil.png"
    data = Site("cloud", "/wiki", me=User("Ann", "ann@example.com"), pages=[Page(
        "100", "Escapes", export_view=None,
        view=f'<p><img src="/wiki/download/attachments/100/{name}"></p>')],
        files={f"/download/attachments/100/{name}": StaticFile("text/html", b"<html></html>")})
    with FakeConfluence(data) as fake:
        set_env(monkeypatch, fake.env())
        result = run("send", "100", "--to", "a@example.com", "--dry-run")
    assert result.exit_code == 0, result.stderr
    assert "]0;PWNEDevil.png is not an image (text/html); left out" in result.stderr
    assert "\x1b" not in result.stderr and "\x07" not in result.stderr
