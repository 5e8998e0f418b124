"""The e-mail message, built in memory. Pure: data in, a ``MailMessage`` out, and its bytes
from :func:`to_bytes`.

Tree: ``multipart/mixed`` (only with attachments) > ``multipart/alternative`` > ``text/plain``,
then ``multipart/related`` (only with images) > ``text/html`` + images by Content-ID.
"""

from __future__ import annotations

import base64
import binascii
import re
import secrets
import string
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from email import policy
from email.headerregistry import Address
from email.message import EmailMessage
from email.policy import EmailPolicy, Policy
from email.utils import format_datetime, make_msgid
from typing import Any

from mailpage_cli.errors import PolicyError, UsageError
from mailpage_cli.headers import clean_text
from mailpage_cli.models import Page, Recipient, Recipients, RenderedPage, Resource, Sender
from mailpage_cli.wording import MEGABYTE, human_size

DEFAULT_SUBJECT = "{prefix} {title}"
SMTP_POLICY = policy.SMTP  # CRLF line ends, as the wire wants


def subject(template: str | None, page: Page, prefix: str, page_kind: str = "page") -> str:
    """Fill ``{title}``, ``{space}``, ``{version}`` (and ``{prefix}``); ``{{`` is a brace. A
    placeholder ``page`` has no value for (an export's version, a digest's version, the space
    of a digest of several) is refused, not left empty."""
    template = template or DEFAULT_SUBJECT
    values = {
        "title": page.title,
        "space": page.space or "",
        "version": str(page.version or ""),
        "prefix": prefix,
    }
    try:
        fields = [name for _, name, _, _ in string.Formatter().parse(template) if name is not None]
    except ValueError as exc:
        raise UsageError(f"The subject {template!r} is malformed ({exc})",
                         "Write a literal brace as {{ or }}.") from exc
    unknown = [name for name in fields if name not in values]
    if unknown:
        raise UsageError(
            f"The subject uses an unknown placeholder {{{unknown[0]}}}",
            "Use {title}, {space}, {version} or {prefix}.",
        )
    if empty := [name for name in fields if name in ("space", "version") and not values[name]]:
        raise UsageError(f"The subject uses {{{empty[0]}}}, which this {page_kind} has not",
                         f"Leave {{{empty[0]}}} out of --subject.")
    return clean_text(template.format_map(values)) or page.title


MAX_FILENAME = 150
_PLAIN_NAME = re.compile(r"[A-Za-z0-9 .,'()&+_-]{0,60}")


def safe_filename(name: str) -> str:
    """A file name a mail client may save as is: no control characters, no directories,
    not absurdly long (the extension kept)."""
    base = clean_text(name).replace("\\", "/").rsplit("/", 1)[-1].strip(" .") or "attachment"
    if len(base) > MAX_FILENAME:
        _, dot, extension = base.rpartition(".")
        extension = extension if dot and len(extension) <= 10 else ""
        base = base[: MAX_FILENAME - len(extension) - 2].rstrip() + "…" + (
            f".{extension}" if extension else "")
    return base


def _address(recipient: Recipient | Sender) -> Address:
    local, _, domain = recipient.address.rpartition("@")
    return Address(clean_text(recipient.name), local, domain)


class MailMessage(EmailMessage):
    """An EmailMessage whose leaf bodies are encoded apart, in C, and joined in by
    :func:`to_bytes`: the email package writes the structure and every header (boundaries,
    RFC 2231 file names, encoded words); each body stands in it as a short token. Writing a
    megabyte of body line by line through its generator costs more than rendering the page.
    """

    def __init__(self, policy: Policy = SMTP_POLICY) -> None:  # make_mixed() passes one
        super().__init__(policy=policy)
        self.bodies: dict[str, bytes] = {}
        self._prefix = f"mailpage-body-{secrets.token_hex(8)}-"
        self.tokens = re.compile(re.escape(self._prefix).encode() + rb"\d+")

    def attach(self, payload: EmailMessage) -> None:  # type: ignore[override]
        """Any part (typeshed would have only MailMessages attached to a MailMessage)."""
        super().attach(payload)  # type: ignore[arg-type]

    def body(self, part: EmailMessage, encoded: bytes) -> None:
        """Make ``encoded`` (ASCII, LF lines) the body of ``part``. Only quoted-printable
        and base64 come here: no line of them can look like a MIME boundary."""
        token = f"{self._prefix}{len(self.bodies)}"
        self.bodies[token] = encoded.replace(b"\n", b"\r\n")
        part.set_payload(token)


def build(
    *,
    sender: Sender,
    recipients: Recipients,
    subject: str,
    rendered: RenderedPage,
    attachments: Sequence[Resource] = (),
    date: datetime | None = None,
) -> MailMessage:
    """The whole message; Bcc recipients are never written into it."""
    msg = MailMessage()
    msg["From"] = _address(sender)
    if recipients.to:
        msg["To"] = [_address(r) for r in recipients.to]
    if recipients.cc:
        msg["Cc"] = [_address(r) for r in recipients.cc]
    if not recipients.to and not recipients.cc:
        msg["To"] = "undisclosed-recipients:;"
    msg["Subject"] = clean_text(subject)
    msg["Date"] = format_datetime(date or datetime.now(UTC))
    msg["Message-ID"] = message_id(sender.address)
    if sender.reply_to:
        local, _, domain = sender.reply_to.rpartition("@")
        msg["Reply-To"] = Address("", local, domain)

    msg["MIME-Version"] = "1.0"
    msg.make_alternative()
    msg.attach(_text_part(msg, rendered.text, "plain"))
    html_part = _text_part(msg, rendered.html, "html")
    if rendered.images:
        html_part.make_related()  # the HTML becomes the first part of multipart/related
        for inline in rendered.images:
            html_part.attach(_file_part(msg, inline.image, "inline", cid=f"<{inline.cid}>"))
    msg.attach(html_part)
    if attachments:
        msg.make_mixed()
    for attachment in attachments:
        msg.attach(_file_part(msg, attachment, "attachment"))
    return msg


class _OwnHeaders(EmailPolicy):
    """The SMTP policy, keeping as given the short printable header values mailpage writes
    itself for file parts: the header registry's parse and refold cost more than the part.
    Anything else (non-ASCII, long, a line break) still goes through the registry."""

    def header_store_parse(self, name: str, value: Any) -> tuple[str, Any]:
        if isinstance(value, str) and _SHORT_PRINTABLE.fullmatch(value):
            return name, value
        return super().header_store_parse(name, value)


_SHORT_PRINTABLE = re.compile(r"[\x20-\x7e]{1,50}")
_OWN_HEADERS = _OwnHeaders(linesep="\r\n")
_MIME_TYPE = re.compile(r"[a-z0-9][a-z0-9!#$&^_.+-]{0,63}/[a-z0-9][a-z0-9!#$&^_.+-]{0,63}")


def _file_part(msg: MailMessage, file: Resource, disposition: str,
               cid: str | None = None) -> EmailMessage:
    """An image or attachment, base64-encoded."""
    content_type = file.content_type.lower()
    if not _MIME_TYPE.fullmatch(content_type) or content_type.startswith(
            ("message/", "multipart/")):
        # Attached as the file it is: message/* may not be base64-encoded (RFC 2046).
        content_type = "application/octet-stream"
    part = EmailMessage(policy=_OWN_HEADERS)
    part["Content-Type"] = content_type
    part["Content-Transfer-Encoding"] = "base64"
    name = safe_filename(file.filename)
    if _PLAIN_NAME.fullmatch(name):
        part["Content-Disposition"] = f'{disposition}; filename="{name}"'
    else:  # quoted or RFC 2231-encoded by the email package
        part["Content-Disposition"] = disposition
        part.set_param("filename", name, header="Content-Disposition")
    if cid:
        part["Content-ID"] = cid
    msg.body(part, base64.encodebytes(file.data))
    return part


_LINE_END = re.compile(r"\r\n?")


def _text_part(msg: MailMessage, text: str, subtype: str) -> EmailMessage:
    """A UTF-8 text part, quoted-printable (7-bit)."""
    part = EmailMessage(policy=SMTP_POLICY)
    part["Content-Type"] = f'text/{subtype}; charset="utf-8"'
    part["Content-Transfer-Encoding"] = "quoted-printable"
    raw = _LINE_END.sub("\n", text).encode("utf-8")  # a lone CR too: it never goes bare
    msg.body(part, binascii.b2a_qp(raw, istext=True))
    return part


def to_bytes(msg: EmailMessage) -> bytes:
    """The message as it goes on the wire (CRLF), bodies joined in."""
    data = msg.as_bytes(policy=SMTP_POLICY)
    if not isinstance(msg, MailMessage):
        return data
    return msg.tokens.sub(lambda token: msg.bodies[token[0].decode()], data)


_FROM_LINE = re.compile(rb"^(>*From )", re.MULTILINE)


def mbox(data: bytes, envelope_sender: str, when: datetime) -> bytes:
    """``data`` (CRLF, as :func:`to_bytes` writes it) as a mailbox of one message, which
    ``mutt -f`` and ``mailbox.mbox`` open: a ``From `` line, LF line ends, and mboxrd
    quoting (a line of ``>``s then ``From `` gets one ``>`` more, so it is not a separator)."""
    body = _FROM_LINE.sub(rb">\1", data.replace(b"\r\n", b"\n")).rstrip(b"\n")
    separator = f"From {envelope_sender} {when.ctime()}\n".encode()
    return separator + body + b"\n\n"


def part_sizes(msg: EmailMessage) -> Mapping[str, int]:
    """Encoded size of each leaf part, named by file name or content type."""
    bodies = getattr(msg, "bodies", {})
    sizes: dict[str, int] = {}
    for part in msg.walk():
        if part.is_multipart():
            continue
        name = part.get_filename() or part.get_content_type()
        payload = part.get_payload()
        body = len(bodies.get(payload, b"")) - len(payload) if isinstance(payload, str) else 0
        sizes[name] = sizes.get(name, 0) + len(part.as_bytes(policy=SMTP_POLICY)) + body
    return sizes


def check_size(msg: EmailMessage, size: int, max_size_mb: float) -> None:
    """Refuse a message over the limit before any connection, naming its largest parts."""
    if size <= max_size_mb * MEGABYTE:
        return
    largest = sorted(part_sizes(msg).items(), key=lambda item: -item[1])[:3]
    names = ", ".join(f"{clean_text(name)} ({human_size(n)})" for name, n in largest)
    attached = any(part.get_content_disposition() == "attachment" for part in msg.walk())
    raise PolicyError(
        f"The message is {human_size(size)}, over the limit of {max_size_mb:g} MB;"
        f" largest parts: {names}",
        ("Leave out attachments (--attach GLOB picks some), or raise" if attached else "Raise")
        + " the limit with `mailpage config set-policy --max-size MB`.",
    )


def message_id(sender_address: str) -> str:
    """A new Message-ID in the sender's domain (given: make_msgid would otherwise look up
    this host's name)."""
    return make_msgid(domain=sender_address.rpartition("@")[2])


def personalised(data: bytes, recipient: Recipient, message_id: str) -> bytes:
    """The same message addressed to one recipient alone: its own To and Message-ID, no Cc.

    Only the top header block is rewritten, so 500 copies cost 500 small header blocks, not
    500 encodings of the images.
    """
    head, _, body = data.partition(b"\r\n\r\n")
    fields: list[bytes] = []
    for line in head.split(b"\r\n"):
        if line[:1] in (b" ", b"\t") and fields:
            fields[-1] += b"\r\n" + line
        else:
            fields.append(line)
    replaced = {b"to", b"cc", b"message-id"}
    kept = [f for f in fields if f.split(b":", 1)[0].strip().lower() not in replaced]
    name = clean_text(recipient.name)
    if _PLAIN_NAME.fullmatch(name):  # most names: written directly, no header machinery
        to = f'To: "{name}" <{recipient.address}>' if name else f"To: {recipient.address}"
        new = [to.encode("ascii"), f"Message-ID: {message_id}".encode("ascii")]
    else:
        extra = EmailMessage(policy=SMTP_POLICY)
        extra["To"] = _address(recipient)
        extra["Message-ID"] = message_id
        new = extra.as_bytes().rstrip(b"\r\n").split(b"\r\n")
    return b"\r\n".join([*kept[:1], *new, *kept[1:]]) + b"\r\n\r\n" + body
