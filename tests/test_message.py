"""The message: tree, headers, encoding, header injection, size limit."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from email import message_from_bytes, policy

import pytest

from mailpage_cli import message, render
from mailpage_cli.errors import PolicyError, UsageError
from mailpage_cli.models import Page, Recipient, Recipients, Resource, Sender


def build(title: str = "Plan", sender: Sender | None = None,
          attachments: tuple[Resource, ...] = (), html: str = "<p>Hello</p>"):  # type: ignore[no-untyped-def]
    sender = sender or Sender("ann@example.com", "Ann")
    page = Page(title=title, html=html)
    rendered = render.finish(render.prepare(page), {}, sender=sender)
    return message.build(
        sender=sender,
        recipients=Recipients(to=(Recipient("to@example.com", "Tö Person"),),
                              bcc=(Recipient("secret@example.com"),)),
        subject=message.subject(None, page, ""),
        rendered=rendered,
        attachments=attachments,
    )


def test_header_injection_through_titles_and_names_is_neutralised() -> None:
    msg = build(title="Plan\r\nBcc: evil@example.com", sender=Sender(
        "ann@example.com", "Ann\nX-Evil: 1", "reply@example.com"))
    data = message.to_bytes(msg)
    parsed = message_from_bytes(data, policy=policy.default)
    assert parsed["Bcc"] is None and parsed["X-Evil"] is None
    assert parsed["Subject"] == "Plan Bcc: evil@example.com"
    assert b"secret@example.com" not in data
    assert parsed["Reply-To"] == "reply@example.com"


def test_no_bare_carriage_return_or_line_feed_reaches_the_wire() -> None:
    """A lone CR in a title (written into the text part) could end DATA early on servers
    that take ``\r.\r\n`` for its end (SMTP smuggling)."""
    data = message.to_bytes(build(title="Evil\r.\r\nMAIL FROM:<x@example.com>\rmore\nend"))
    assert re.search(rb"\r(?!\n)|(?<!\r)\n", data) is None


def test_non_ascii_names_and_subjects_are_encoded_and_parts_are_7bit() -> None:
    data = message.to_bytes(build(title="Überblick 概要 🚀", sender=Sender("ann@example.com",
                                                                            "Jörg Müller")))
    assert all(byte < 128 for byte in data)
    parsed = message_from_bytes(data, policy=policy.default)
    assert parsed["Subject"] == "Überblick 概要 🚀"
    assert parsed["From"].addresses[0].display_name == "Jörg Müller"
    assert parsed["To"].addresses[0].display_name == "Tö Person"
    assert "=?utf-8?" in data.decode("ascii")


def test_tree_without_images_or_attachments_is_just_alternative() -> None:
    msg = build()
    assert msg.get_content_type() == "multipart/alternative"
    assert [p.get_content_type() for p in msg.iter_parts()] == ["text/plain", "text/html"]


def test_size_limit_names_the_largest_parts() -> None:
    big = Resource("huge.bin", "application/octet-stream", b"\0" * 1_500_000)
    msg = build(attachments=(big,))
    size = len(message.to_bytes(msg))
    message.check_size(msg, size, 5)
    with pytest.raises(PolicyError, match=r"largest parts: huge\.bin \(2\.\d MB\)") as caught:
        message.check_size(msg, size, 1)
    assert caught.value.exit_code == 8
    assert "Leave out attachments" in caught.value.fix


def test_size_limit_advises_leaving_out_attachments_only_when_there_are_some() -> None:
    msg = build(html="<p>" + "many words " * 200_000 + "</p>")
    with pytest.raises(PolicyError) as caught:
        message.check_size(msg, len(message.to_bytes(msg)), 1)
    assert "attach" not in caught.value.fix
    assert "--max-size" in caught.value.fix


def test_a_note_too_big_for_the_html_parser_is_refused_not_lost() -> None:
    """libxml2 drops a text run over 10 MB, and all after it, without an error of its own."""
    prepared = render.prepare(Page(title="T", html="<p>x</p>"))
    with pytest.raises(PolicyError, match="The note holds more than 10 MB of text in one piece"):
        render.finish(prepared, {}, sender=Sender("ann@example.com"), note="x" * 11_000_000)
    page = render.prepare(Page(title="T", html="<p>" + "word " * 400_000 + "</p>"))
    kept = render.finish(page, {}, sender=Sender("ann@example.com"), note="y" * 5_000_000)
    assert "y" * 5_000_000 in kept.html and "word " * 400_000 in kept.html


BIDI = "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u200e\u200f\u061c"


def test_bidi_controls_leave_the_title_in_every_place_it_shows() -> None:
    """Right-to-left overrides would make the title read other than it is."""
    parsed = message_from_bytes(message.to_bytes(build(
        title="Quarterly \u202etxt.exe\u202c report \u2066RTL\u2069 \u200f\u061c!")),
        policy=policy.default)
    assert parsed["Subject"] == "Quarterly txt.exe report RTL !"
    html = parsed.get_body(("html",)).get_content()  # type: ignore[union-attr]
    text = parsed.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    assert "<title>Quarterly txt.exe report RTL !</title>" in html
    assert text.startswith("# Quarterly txt.exe report RTL !")
    assert not set(BIDI) & set(html + text)


def test_bidi_controls_leave_attachment_file_names() -> None:
    """"invoice_\u202efdp.exe" would show as invoice_exe.pdf."""
    attachment = Resource("invoice_\u202efdp.exe", "application/octet-stream", b"MZ")
    data = message.to_bytes(build(attachments=(attachment,)))
    parsed = message_from_bytes(data, policy=policy.default)
    (part,) = parsed.iter_attachments()
    assert part.get_filename() == "invoice_fdp.exe"
    assert b"%E2%80%AE" not in data.upper() and "\u202e".encode() not in data


def build_for(recipients: Recipients, attachments: tuple[Resource, ...] = ()):  # type: ignore[no-untyped-def]
    sender = Sender("ann@example.com", "Ann")
    page = Page(title="Plan", html="<p>Hello</p>")
    return message.build(sender=sender, recipients=recipients, subject="Plan",
                         rendered=render.finish(render.prepare(page), {}, sender=sender),
                         attachments=attachments)


def test_a_cc_only_message_has_no_to_header() -> None:
    parsed = message_from_bytes(message.to_bytes(build_for(
        Recipients(cc=(Recipient("cc@example.com"),)))), policy=policy.default)
    assert parsed["To"] is None
    assert parsed["Cc"] == "cc@example.com"


def test_a_personal_copy_has_its_own_to_and_message_id_and_no_cc() -> None:
    """--individually: nobody learns who else got the page, not even the Cc'd."""
    data = message.to_bytes(build_for(Recipients(
        to=(Recipient("to@example.com"), Recipient("also@example.com")),
        cc=(Recipient("cc@example.com", "Cy Cc"),))))
    original = message_from_bytes(data, policy=policy.default)
    for name in ("Bea Example", "Jörg Müller"):  # written directly, and by the email package
        copy = message.personalised(data, Recipient("bea@example.com", name), "<one@example.com>")
        parsed = message_from_bytes(copy, policy=policy.default)
        assert parsed["To"].addresses[0].addr_spec == "bea@example.com"
        assert parsed["To"].addresses[0].display_name == name
        assert parsed["Message-ID"] == "<one@example.com>"
        assert parsed["Cc"] is None
        assert b"cc@example.com" not in copy and b"to@example.com" not in copy
        kept = [(k, v) for k, v in original.items() if k not in ("To", "Cc", "Message-ID")]
        assert [(k, v) for k, v in parsed.items() if k not in ("To", "Message-ID")] == kept
        assert parsed.get_body(("plain",)).get_content() == (  # type: ignore[union-attr]
            original.get_body(("plain",)).get_content())  # type: ignore[union-attr]


def test_a_message_exactly_at_the_size_limit_is_allowed() -> None:
    msg = build()
    message.check_size(msg, 1_000_000, 1)
    with pytest.raises(PolicyError):
        message.check_size(msg, 1_000_001, 1)


@pytest.mark.parametrize("content_type", ["message/rfc822", "message/global", "multipart/mixed",
                                          "Message/RFC822", "not a type"])
def test_attachments_that_may_not_be_base64_go_as_octet_streams(content_type: str) -> None:
    """RFC 2046 5.2.1: message/* may not be base64-encoded; multipart/* would need a body of
    parts. Both are attached as the file they are."""
    attachment = Resource("mail.eml", content_type, b"Subject: hi\r\n\r\nhello\r\n")
    parsed = message_from_bytes(message.to_bytes(build(attachments=(attachment,))),
                                policy=policy.default)
    (part,) = parsed.iter_attachments()
    assert part.get_content_type() == "application/octet-stream"
    assert part.get_content() == attachment.data


def test_an_ordinary_attachment_keeps_its_content_type() -> None:
    attachment = Resource("data.csv", "text/csv", b"a,b\r\n1,2\r\n")
    parsed = message_from_bytes(message.to_bytes(build(attachments=(attachment,))),
                                policy=policy.default)
    (part,) = parsed.iter_attachments()
    assert part.get_content_type() == "text/csv"


def test_mbox_adds_a_from_line_uses_lf_and_quotes_from_lines_mboxrd() -> None:
    data = b"Subject: x\r\n\r\nFrom a\r\n>From b\r\nnot From c\r\n"
    when = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    assert message.mbox(data, "s@example.com", when) == (
        b"From s@example.com Fri Jan  2 03:04:05 2026\nSubject: x\n\n>From a\n>>From b\n"
        b"not From c\n\n")


def test_a_placeholder_the_page_has_no_value_for_is_refused_not_left_empty() -> None:
    page = Page(title="Release notes", html="", version=3, space="ENG")
    assert message.subject("{space} v{version} {title}", page, "") == "ENG v3 Release notes"
    export = Page(title="Release notes", html="", space="ENG")
    with pytest.raises(UsageError, match=r"uses \{version\}, which this HTML export has not"):
        message.subject("v{version} {title}", export, "", "HTML export")
    digest = Page(title="Confluence digest: 3 pages", html="")
    with pytest.raises(UsageError, match=r"uses \{space\}, which this digest has not"):
        message.subject("{space}: {title}", digest, "", "digest")
