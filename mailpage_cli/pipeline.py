"""The use cases: send a page, preview it. They compose the parts and print nothing; the
terminal is reached only through the :class:`Conversation` the caller passes in."""

from __future__ import annotations

import base64
import fnmatch
import os
from collections.abc import Mapping
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from mailpage_cli import credentials, localexport, message, pagerefs, recipients, render
from mailpage_cli.errors import ConfigError, ExitCode, PolicyError, UsageError
from mailpage_cli.mailer import Account, Envelope, deliver
from mailpage_cli.models import Page, Recipients, RenderedPage, Resource, Sender
from mailpage_cli.settings import PolicySettings, Settings


class Conversation(Protocol):
    """How a use case talks to the person (or to nobody, off a TTY)."""

    def step(self, name: str) -> AbstractContextManager[None]:
        """A named stage of work, shown as progress on a TTY."""

    def warn(self, text: str) -> None: ...

    def confirm(self, question: str) -> bool:
        """Ask yes/no; ``False`` where nobody can answer."""

    @property
    def prompt(self) -> credentials.Prompt | None:
        """A hidden prompt for secrets, ``None`` where nobody can answer."""


@dataclass(frozen=True)
class SendOptions:
    page: str
    to: tuple[str, ...] = ()
    cc: tuple[str, ...] = ()
    bcc: tuple[str, ...] = ()
    subject: str | None = None
    note: str | None = None
    attachments: bool = False
    attach: tuple[str, ...] = ()
    dry_run: bool = False
    save: str | None = None  # a path, or "-" for the caller to print
    yes: bool = False


@dataclass(frozen=True)
class SendResult:
    status: str  # sent | partial | dry-run | saved
    page: Page
    recipients: Recipients
    message_id: str
    size: int
    images: int
    attachments: int
    warnings: tuple[str, ...]
    refused: Mapping[str, str]
    not_attempted: tuple[str, ...] = ()
    raw: bytes | None = None  # the message, when saved to "-"

    @property
    def exit_code(self) -> ExitCode:
        return ExitCode.PARTIAL if self.status == "partial" else ExitCode.OK


@dataclass(frozen=True)
class Composed:
    """A page fetched and rendered, with its attachments."""

    page: Page
    rendered: RenderedPage
    attachments: tuple[Resource, ...]


def _sender(settings: Settings) -> Sender:
    config = settings.sender
    if not config.address:
        raise ConfigError(
            "No sender address",
            "Run `mailpage config set-sender --address you@example.com`"
            " or set MAILPAGE_SENDER_ADDRESS.",
        )
    address = recipients.parse_address(config.address).address
    reply_to = None
    if config.reply_to.lower() not in ("me", "none"):
        reply_to = recipients.parse_address(config.reply_to).address
    return Sender(address, recipients.clean_text(config.name or ""), reply_to)


def _check_policy(found: Recipients, policy: PolicySettings, ask: bool, ui: Conversation) -> None:
    """Stop before anything goes out: foreign domains, then (if ``ask``) too many recipients."""
    if policy.allowed_domains:
        def allowed(domain: str) -> bool:
            return any(domain == d or domain.endswith(f".{d}") for d in policy.allowed_domains)

        outside = [r.address for r in found.all if not allowed(r.address.rpartition("@")[2])]
        if outside:
            raise PolicyError(
                f"Recipients outside the allowed domains ({', '.join(policy.allowed_domains)}):"
                f" {', '.join(outside)}",
                "Remove them, or change the policy with `mailpage config set-policy"
                " --allowed-domain DOMAIN`.",
            )
    count = len(found.all)
    question = f"Send to {count} recipients (more than {policy.max_recipients})?"
    if ask and count > policy.max_recipients and not ui.confirm(question):
        raise PolicyError(
            f"{count} recipients is more than max_recipients ({policy.max_recipients})",
            "Pass --yes to send anyway, or raise the limit with"
            " `mailpage config set-policy --max-recipients N`.",
        )


def compose(
    settings: Settings, options: SendOptions, sender: Sender, ui: Conversation
) -> Composed:
    """Fetch the page, its images and attachments, and render it."""
    ref = pagerefs.parse(options.page)
    with ui.step("fetch page"):
        export = localexport.load(ref.path, settings.confluence.url)
        prepared = render.prepare(export.page)
    with ui.step("download images"):
        images = {
            src: localexport.read_resource(export.folder, src)
            for src in prepared.image_sources
            if "://" not in src
        }
        attachments = _attachments(export, options)
    with ui.step("render"):
        rendered = render.finish(
            prepared,
            images,
            sender=sender,
            note=options.note,
            cid_domain=sender.address.rpartition("@")[2],
        )
    return Composed(export.page, rendered, attachments)


def _attachments(export: localexport.ExportPage, options: SendOptions) -> tuple[Resource, ...]:
    wanted = [
        (name, relative)
        for name, relative in export.attachments
        if options.attachments or any(fnmatch.fnmatch(name, glob) for glob in options.attach)
    ]
    found = []
    for name, relative in wanted:
        resource = localexport.read_resource(export.folder, relative, name)
        if resource is None:
            raise UsageError(
                f"The attachment {name!r} is missing from the export ({relative})",
                "Export the space again with its attachments, or leave out --attachments.",
            )
        found.append(resource)
    if options.attach and not found:
        raise UsageError(
            f"No attachment of the page matches {', '.join(options.attach)}",
            f"The page has: {', '.join(n for n, _ in export.attachments) or 'no attachments'}.",
        )
    return tuple(found)


def send(
    settings: Settings, env: Mapping[str, str], options: SendOptions, ui: Conversation
) -> SendResult:
    """Resolve, check policy, render, then send (or save, or stop for a dry run)."""
    found = recipients.resolve(options.to, options.cc, options.bcc)
    if not found.all:
        raise UsageError("No recipients", "Give at least one --to, --cc or --bcc.")
    sending = not (options.dry_run or options.save or options.yes)
    _check_policy(found, settings.policy, sending, ui)
    sender = _sender(settings)
    composed = compose(settings, options, sender, ui)
    msg = message.build(
        sender=sender,
        recipients=found,
        subject=message.subject(options.subject, composed.page, settings.sender.subject_prefix),
        rendered=composed.rendered,
        attachments=composed.attachments,
    )
    data = message.to_bytes(msg)
    message.check_size(msg, len(data), settings.policy.max_size_mb)

    def result(status: str, **extra: object) -> SendResult:
        return SendResult(
            status=status,
            page=composed.page,
            recipients=found,
            message_id=str(msg["Message-ID"]),
            size=len(data),
            images=len(composed.rendered.images),
            attachments=len(composed.attachments),
            warnings=composed.rendered.warnings,
            **extra,  # type: ignore[arg-type]
        )

    if options.dry_run:
        return result("dry-run", refused={})
    if options.save:
        if options.save == "-":
            return result("saved", refused={}, raw=data)
        _write_private(Path(options.save), data)
        return result("saved", refused={})
    account = _account(settings, env, ui)
    with ui.step("send"):
        (delivery,) = deliver(
            account, [Envelope(sender.address, tuple(r.address for r in found.all), data)]
        )
    partial = bool(delivery.refused or delivery.not_attempted)
    return result(
        "partial" if partial else "sent",
        refused=delivery.refused,
        not_attempted=delivery.not_attempted,
    )


def _account(settings: Settings, env: Mapping[str, str], ui: Conversation) -> Account:
    smtp = settings.smtp
    if not smtp.host:
        raise ConfigError(
            "No SMTP server configured",
            "Run `mailpage config set-smtp --host HOST` or set MAILPAGE_SMTP_HOST"
            " (or use --save FILE / --dry-run).",
        )
    password = None
    if smtp.username:
        password = credentials.require(
            credentials.SMTP_PASSWORD, settings.profile, env, ui.prompt
        )
    return Account(smtp.host, smtp.port, smtp.security, smtp.username, password, smtp.ca_file)


def _write_private(path: Path, data: bytes) -> None:
    """The saved message holds page content: readable by its owner only."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
    except OSError as exc:
        raise UsageError(f"Cannot write {path} ({exc.strerror})", "Check the path.") from exc


def preview(settings: Settings, page: str, note: str | None, ui: Conversation) -> Composed:
    """Render without sending; the sender shown is the configured one, if any."""
    sender = Sender(settings.sender.address or "you@example.invalid", settings.sender.name or "")
    return compose(settings, SendOptions(page=page, note=note), sender, ui)


def with_data_uris(rendered: RenderedPage) -> str:
    """The mail HTML with each ``cid:`` image as a ``data:`` URI, for a browser."""
    html = rendered.html
    for inline in rendered.images:
        encoded = base64.b64encode(inline.image.data).decode("ascii")
        data_uri = f"data:{inline.image.content_type};base64,{encoded}"
        html = html.replace(f"cid:{inline.cid}", data_uri)
    return html

