"""Plain frozen dataclasses that the parts pass to each other."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime

from mailpage_cli.choices import Status
from mailpage_cli.errors import ExitCode


@dataclass(frozen=True)
class Recipient:
    """A validated address; ``source`` says which spec produced it (for ``recipients``)."""

    address: str
    name: str = ""
    source: str = ""
    found_in: str = ""  # for a Confluence user: "confluence", "address book" or "directory"


@dataclass(frozen=True)
class Recipients:
    """Deduplicated recipients: an address appears once, To beating Cc beating Bcc."""

    to: tuple[Recipient, ...] = ()
    cc: tuple[Recipient, ...] = ()
    bcc: tuple[Recipient, ...] = ()

    @property
    def all(self) -> tuple[Recipient, ...]:
        return self.to + self.cc + self.bcc


@dataclass(frozen=True)
class Resource:
    """A file's bytes: an image to embed or an attachment."""

    filename: str
    content_type: str
    data: bytes


@dataclass(frozen=True)
class Page:
    """A page to mail. ``html`` is the page body as Confluence (or its export) renders it;
    ``base_url`` is what its relative links are relative to (``None``: unknown)."""

    title: str
    html: str
    id: str | None = None
    version: int | None = None
    space: str | None = None
    url: str | None = None
    base_url: str | None = None


@dataclass(frozen=True)
class InlineImage:
    cid: str  # without angle brackets
    image: Resource


@dataclass(frozen=True)
class RenderedPage:
    """Mail-ready HTML (images as ``cid:``), its text alternative, and the images it uses."""

    html: str
    text: str
    images: tuple[InlineImage, ...]
    warnings: tuple[str, ...] = ()


@dataclass(frozen=True)
class Sender:
    address: str
    name: str = ""
    reply_to: str | None = None


@dataclass(frozen=True)
class Delivery:
    """What the SMTP server did with one message."""

    delivered: tuple[str, ...] = ()
    refused: dict[str, str] = field(default_factory=dict)  # address -> "550 5.1.1 reply"
    not_attempted: tuple[str, ...] = ()
    unknown: tuple[str, ...] = ()  # the server's answer to the whole message was lost


@dataclass(frozen=True)
class Person:
    """A Confluence user as far as mailing them goes; ``email`` is ``None`` when hidden."""

    display_name: str
    email: str | None
    key: str  # Cloud accountId, Data Center username (or userKey)
    active: bool = True
    app: bool = False


@dataclass(frozen=True)
class SearchHit:
    """A page a CQL search found, as a digest lists it."""

    title: str
    url: str | None
    space: str
    editor: str
    modified: datetime | None
    excerpt: str


class Secret:
    """A secret value that does not print itself."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "Secret('********')"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)


@dataclass(frozen=True)
class SendResult:
    status: Status
    page: Page
    recipients: Recipients
    message_id: str
    size: int
    images: int
    attachments: int
    warnings: tuple[str, ...]
    refused: Mapping[str, str]  # address -> the server's reply, or why it was not attempted
    delivered: tuple[str, ...] = ()
    unknown: tuple[str, ...] = ()  # the server's reply to the message was lost: may have it
    not_sent: tuple[str, ...] = ()  # not attempted: the connection failed before their turn
    messages: int = 1
    raw: bytes | None = None  # the message, when saved to "-"

    @property
    def exit_code(self) -> ExitCode:
        return ExitCode.PARTIAL if self.status in ("partial", "refused") else ExitCode.OK
