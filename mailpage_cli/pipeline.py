"""The use cases: send a page, preview it, resolve recipients, check the logins. They compose
the parts and print nothing; the terminal is reached only through the :class:`Conversation`
the caller passes in."""

from __future__ import annotations

import base64
import fnmatch
import functools
import hashlib
from collections.abc import Callable, Iterable, Mapping, Set
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import AbstractContextManager
from dataclasses import dataclass, replace
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, TypeVar
from urllib.parse import unquote, urlsplit

from mailpage_cli import (
    confluence,
    credentials,
    digests,
    downloads,
    lint,
    localexport,
    mailer,
    message,
    oauth,
    pagerefs,
    recipients,
    render,
    state,
)
from mailpage_cli.confluence import AttachmentInfo
from mailpage_cli.errors import (
    AuthError,
    ConfigError,
    ExitCode,
    MailpageError,
    PolicyError,
    UsageError,
)
from mailpage_cli.models import (
    Delivery,
    Page,
    Person,
    Recipient,
    Recipients,
    RenderedPage,
    Resource,
    Sender,
)
from mailpage_cli.settings import NotRegularFileError, Settings, write_private

if TYPE_CHECKING:
    import requests

T = TypeVar("T")
R = TypeVar("R")


class Conversation(Protocol):
    """How a use case talks to the person (or to nobody, off a TTY)."""

    def step(self, name: str) -> AbstractContextManager[None]:
        """A named stage of work, shown as progress on a TTY."""

    def warn(self, text: str) -> None: ...

    def tell(self, text: str) -> None:
        """Something the person must do now (sign in); shown even with ``-q``."""

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
    external_images: str = "link"  # link | embed
    dry_run: bool = False
    save: str | None = None  # a path, or "-" for the caller to print
    skip_unresolvable: bool = False
    yes: bool = False
    if_changed: bool = False
    individually: bool = False


@dataclass(frozen=True)
class DigestOptions(SendOptions):
    cql: str = ""
    since: str | None = None  # a duration: 30m, 24h, 7d, 2w
    title: str | None = None


@dataclass(frozen=True)
class SendResult:
    status: str  # sent | partial | refused | dry-run | saved | unchanged | empty
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


@dataclass(frozen=True)
class Fetched:
    """A page fetched and prepared, before its images are downloaded."""

    page: Page
    export: localexport.ExportPage | None
    prepared: render.PreparedPage

    @property
    def version(self) -> str:
        """What ``--if-changed`` compares: the version, or for an export its content."""
        if self.page.version is not None:
            return str(self.page.version)
        return "sha256:" + hashlib.sha256(self.page.html.encode()).hexdigest()


@dataclass(frozen=True)
class Composed:
    """A page fetched and rendered, with its attachments and every warning so far."""

    page: Page
    rendered: RenderedPage
    attachments: tuple[Resource, ...]
    warnings: tuple[str, ...]


def parallel(function: Callable[[T], R], items: Iterable[T], limit: int) -> list[R]:
    """``map`` over at most ``limit`` threads: downloads wait on the network, not the CPU."""
    items = list(items)
    if len(items) < 2 or limit < 2:
        return [function(item) for item in items]
    with ThreadPoolExecutor(min(limit, len(items))) as pool:
        return list(pool.map(function, items))


class Run:
    """One invocation's settings, environment and conversation; connects to Confluence
    only when something needs it."""

    def __init__(self, settings: Settings, env: Mapping[str, str], ui: Conversation) -> None:
        self.settings = settings
        self.env = env
        self.ui = ui
        self.warnings: list[str] = []

    def warn(self, text: str) -> None:
        self.warnings.append(text)

    @property
    def concurrency(self) -> int:
        return int(self.settings.confluence.concurrency)

    @property
    def budget(self) -> int:
        return int(self.settings.policy.max_size_mb * message.MEGABYTE)

    @cached_property
    def address_lookups(self) -> list[tuple[str, recipients.Lookup]]:
        """Where an address Confluence hides is looked for: the profile's address book, then
        the organization directory."""
        lookups: list[tuple[str, recipients.Lookup]] = []
        if book := self.settings.confluence.address_book:
            lookups.append(("address book", recipients.load_address_book(book).find))
        if self.settings["directory.org_id"]:
            lookups.append(("directory", lambda person: self.org_directory.email(person)))  # noqa: PLW0108 - opened only when asked
        return lookups

    @cached_property
    def org_directory(self) -> confluence.OrgDirectory:
        """Opened when a user's address is hidden: only then is the admin key needed."""
        api, org_id = self.settings["directory.api"], self.settings["directory.org_id"]
        key = credentials.require(
            credentials.ADMIN_KEY, self.settings.profile, self.env, self.ui.prompt,
            credentials.directory_destination(api, org_id, self.settings.profile))
        return confluence.OrgDirectory(api, org_id, key)

    @cached_property
    def confluence(self) -> confluence.Client:
        config = self.settings.confluence
        gateway, cloud_id = _gateway(config.api_gateway, config.auth), config.cloud_id
        if gateway and not cloud_id and config.url:
            cloud_id = confluence.cloud_id_of(config.url, self.public)
        site = confluence.make_site(config.url, config.deployment, config.auth, config.user,
                                    gateway, cloud_id)
        profile = self.settings.profile
        destination = credentials.site_destination(site.url, profile, site.api)
        token = credentials.require(credentials.CONFLUENCE_TOKEN, profile, self.env,
                                    self.ui.prompt, destination)
        return confluence.Client(site, token)

    @cached_property
    def public(self) -> requests.Session:
        """One credential-free session for every image from another site."""
        return downloads.bare_session()

    @property
    def connected(self) -> bool:
        return "confluence" in self.__dict__

    def page_ref(self, text: str) -> pagerefs.PageRef:
        return pagerefs.parse(text, self.settings.confluence.url)

    def recipients(self, options: SendOptions,
                   page_id: Callable[[], str | None] = lambda: None) -> Recipients:
        def resolve(spec: str) -> list[Recipient]:
            resolver = recipients.confluence_resolver(
                self.confluence, page_id, skip_unresolvable=options.skip_unresolvable,
                warn=self.warn, lookups=self.address_lookups,
                cloud=self.settings.confluence.deployment == "cloud")
            return resolver(spec)

        needs_site = self.settings.confluence.url is not None
        return recipients.resolve(options.to, options.cc, options.bcc,
                                  resolve if needs_site else None)

    def sender_address(self) -> str:
        """The From address, checked before anything is fetched."""
        if not self.settings.sender.address:
            raise ConfigError(
                "No sender address",
                "Run `mailpage config set-sender --address you@example.com`"
                " or set MAILPAGE_SENDER_ADDRESS.",
            )
        return _setting_address(self.settings.sender.address, "sender.address")

    @cached_property
    def sender(self) -> Sender:
        """From and Reply-To; ``reply_to = "me"`` asks Confluence only if already connected."""
        config = self.settings.sender
        address = self.sender_address()
        name = recipients.clean_text(config.name or "")
        if config.reply_to == "none":
            return Sender(address, name)
        if config.reply_to != "me":
            return Sender(address, name, _setting_address(config.reply_to, "sender.reply_to"))
        if not self.connected:
            return Sender(address, name)
        me: Person = self.confluence.me()
        if not me.email:
            self.warn("your Confluence e-mail is hidden, so the message has no Reply-To"
                      " (set one with `mailpage config set-sender --reply-to ADDR`)")
        return Sender(address, name, me.email)

    def fetch(self, ref: pagerefs.PageRef) -> Fetched:
        with self.ui.step("fetch page"):
            export = None
            if isinstance(ref, pagerefs.LocalFile):
                export = localexport.load(ref.path, self.settings.confluence.url)
                page = export.page
            else:
                page = self.confluence.page(ref)
            self._check_page_size(page)
            return Fetched(page, export, render.prepare(page))

    def _check_page_size(self, page: Page) -> None:
        """A page whose HTML alone is twice the message limit cannot make a message within
        it (the mail carries the HTML and a text part): refused before rendering, which
        would cost seconds and gigabytes for nothing."""
        if len(page.html) > 2 * self.budget:
            raise PolicyError(
                f"The page is {message.human_size(len(page.html))} of HTML; its message would"
                f" be over the limit of {self.settings.policy.max_size_mb:g} MB",
                "Send a smaller page, or raise the limit with"
                " `mailpage config set-policy --max-size MB`.",
            )

    def render(self, fetched: Fetched, options: SendOptions, sender: Sender | None = None,
               listed: Future[list[AttachmentInfo]] | None = None) -> Composed:
        """Download the page's images and attachments (one bounded pool for both), and render
        it. ``listed`` is the page's attachment list, when already being fetched."""
        page, export, prepared = fetched.page, fetched.export, fetched.prepared
        sender = sender or self.sender
        sources = tuple(dict.fromkeys((*prepared.image_sources,
                                       *render.note_images(options.note))))
        with self.ui.step("download images"):
            wanted = self._wanted_attachments(page, export, options, listed)
            # A picture the page shows is fetched once, for both its places in the mail.
            shown = {unquote(urlsplit(src).path): src for src in sources}
            jobs: list[Callable[[], Resource | None]] = [
                *(functools.partial(self._image, src, export, options) for src in sources),
                *(load for _, path, load in wanted if path not in shown),
            ]
            found = parallel(lambda job: job(), jobs, self.concurrency)
        images = dict(zip(sources, found[:len(sources)], strict=True))
        fetched_files = iter(found[len(sources):])
        attachments: list[Resource | None] = []
        for name, path, load in wanted:
            if path not in shown:
                attachments.append(next(fetched_files))
            elif (image := images[shown[path]]) is not None:
                attachments.append(replace(image, filename=name))
            else:  # left out of the page (not an image, say): the file itself, then
                attachments.append(load())
        missing = [name for (name, _, _), got in zip(wanted, attachments, strict=True)
                   if got is None]
        if missing:
            raise UsageError(f"Attachments missing from the export: {', '.join(missing)}",
                             "Export the space again with its attachments.")
        with self.ui.step("render"):
            rendered = render.finish(prepared, images, sender=sender, note=options.note,
                                     cid_domain=sender.address.rpartition("@")[2])
        return self.composed(page, rendered, tuple(a for a in attachments if a is not None))

    def composed(self, page: Page, rendered: RenderedPage,
                 attachments: tuple[Resource, ...] = ()) -> Composed:
        """The rendered page with every warning so far, those of ``lint`` included."""
        checked = tuple(f"{f.rule}: {f.message}" for f in lint.check(rendered))
        return Composed(page, rendered, attachments,
                        (*self.warnings, *rendered.warnings, *checked))

    def _image(self, src: str, export: localexport.ExportPage | None,
               options: SendOptions) -> Resource | None:
        """An image's bytes, typed by their content; ``None`` leaves it linked (external) or
        out (missing, or not a picture mail clients show)."""
        found = self._fetch_image(src, export, options)
        if found is None:
            return None
        image, problem = render.typed(found)
        if problem:
            self.warn(problem)
        return image

    def _fetch_image(self, src: str, export: localexport.ExportPage | None,
                     options: SendOptions) -> Resource | None:
        if export is not None and "://" not in src:
            return export.resource(src)
        site = self.settings.confluence.url
        try:
            if site and pagerefs.same_site(src, site):
                return self.confluence.download(src, self.budget)
            if options.external_images == "embed":
                return downloads.fetch(src, session=self.public, trusted=None,
                                       budget=self.budget, public=self.public)
        except downloads.DownloadError as exc:
            self.warn(str(exc))
        return None

    def _wanted_attachments(
        self, page: Page, export: localexport.ExportPage | None, options: SendOptions,
        listed: Future[list[AttachmentInfo]] | None,
    ) -> list[tuple[str, str, Callable[[], Resource | None]]]:
        """The attachments ``--attachments`` / ``--attach`` ask for: name, path, loader."""
        if not (options.attachments or options.attach):
            return []
        available: list[tuple[str, str, Callable[[], Resource | None]]]
        if export is not None:
            available = [(name, unquote(rel), _export_file(export, rel, name))
                         for name, rel in export.attachments]
        else:
            infos = listed.result() if listed else self.confluence.attachments(str(page.id))
            available = [(a.filename, unquote(urlsplit(a.url).path), self._confluence_file(a))
                         for a in infos]
        wanted = [(name, path, load) for name, path, load in available if options.attachments
                  or any(fnmatch.fnmatch(name, glob) for glob in options.attach)]
        if options.attach and not wanted:
            names = ", ".join(name for name, _, _ in available) or "no attachments"
            raise UsageError(f"No attachment of the page matches {', '.join(options.attach)}",
                             f"The page has: {names}.")
        return wanted

    def _confluence_file(self, info: AttachmentInfo) -> Callable[[], Resource]:
        return lambda: self.confluence.download(info.url, self.budget, info.filename)

    def smtp_account(self, *, sign_in: bool = False) -> mailer.Account:
        smtp = self.settings.smtp
        if not smtp.host:
            raise ConfigError(
                "No SMTP server configured",
                "Run `mailpage config set-smtp --host HOST` or set MAILPAGE_SMTP_HOST"
                " (or use --save FILE / --dry-run).",
            )
        if smtp.auth == "oauth2":
            token = self.oauth_token(sign_in=sign_in)
            return mailer.Account(smtp.host, smtp.port, smtp.security, smtp.username,
                                  ca_file=smtp.ca_file, token=token)
        password = None
        if smtp.username:
            profile = self.settings.profile
            password = credentials.require(
                credentials.SMTP_PASSWORD, profile, self.env, self.ui.prompt,
                credentials.smtp_destination(smtp.host, smtp.port, smtp.security,
                                             smtp.username, profile))
        return mailer.Account(smtp.host, smtp.port, smtp.security, smtp.username, password,
                              smtp.ca_file)

    def oauth_token(self, *, sign_in: bool) -> credentials.Secret:
        """An OAuth2 access token for the SMTP login; a person at a terminal signs in here
        when needed (or when ``sign_in`` asks)."""
        client = oauth_client(self.settings)
        tell = self.ui.tell if self.ui.prompt is not None or sign_in else None
        lock = state.state_dir(self.env) / f"oauth-{self.settings.profile}.lock"
        with self.ui.step(f"sign in to {client.provider.title()}"):
            return oauth.access_token(client, self.env, lock, tell, sign_in=sign_in)


def oauth_client(settings: Settings) -> oauth.Client:
    """The OAuth2 client the SMTP settings describe, or an error naming what is missing."""
    smtp = settings.smtp
    fix = ("Set it with `mailpage config set-smtp --auth oauth2 --oauth-provider microsoft|google"
           " --client-id ID --username MAILBOX ...` (see the README's OAuth2 section).")
    if not smtp.oauth_provider or not smtp.username:
        raise ConfigError("OAuth2 sign-in needs a provider and a mailbox (--username)", fix)
    flow = smtp.oauth_flow or ("device" if smtp.oauth_provider == "microsoft" else "browser")
    if smtp.oauth_provider == "microsoft" and not smtp.client_id:
        raise ConfigError("OAuth2 sign-in to Microsoft needs the app's client id", fix)
    authority = smtp.authority or oauth.MICROSOFT_AUTHORITY
    if urlsplit(authority).scheme != "https":
        raise ConfigError(f"The sign-in authority {authority} is not https",
                          "Give an https:// address with --authority.")
    return oauth.Client(
        provider=smtp.oauth_provider, flow=flow, username=smtp.username,
        profile=settings.profile, client_id=smtp.client_id or "",
        tenant=smtp.tenant or "organizations", authority=authority,
        certificate=smtp.client_certificate)


def _setting_address(value: str, setting: str) -> str:
    try:
        return recipients.parse_address(value).address
    except UsageError:
        raise ConfigError(
            f"The setting {setting} is not a valid e-mail address ({value!r})",
            "Correct it with `mailpage config set-sender` (or its MAILPAGE_ variable).",
        ) from None


def _export_file(export: localexport.ExportPage, relative: str,
                 name: str) -> Callable[[], Resource | None]:
    return lambda: localexport.read_resource(export.folder, relative, name)


def _check_policy(found: Recipients, run: Run, ask: bool) -> None:
    """Stop before anything goes out: foreign domains, then (if ``ask``) too many recipients."""
    policy = run.settings.policy
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
    if ask and count > policy.max_recipients and not run.ui.confirm(question):
        raise PolicyError(
            f"{count} recipients is more than max_recipients ({policy.max_recipients})",
            "Pass --yes to send anyway, or raise the limit with"
            " `mailpage config set-policy --max-recipients N`.",
        )


def _check_options(options: SendOptions) -> None:
    """Mistakes in the options alone: reported before anything is looked up."""
    if not (options.to or options.cc or options.bcc):
        raise UsageError("No recipients", "Give at least one --to, --cc or --bcc.")
    if options.individually and options.save:
        raise UsageError("--individually makes one message per recipient; --save writes one",
                         "Leave out one of them (--dry-run shows what would be sent).")


def _check_recipients(found: Recipients, run: Run, options: SendOptions) -> None:
    """The resolved recipients: someone (a group may be empty), and within the policy."""
    if not found.all:
        raise UsageError("No recipients", "Give at least one --to, --cc or --bcc.")
    _check_policy(found, run, ask=not (options.dry_run or options.save or options.yes))


def send(
    settings: Settings, env: Mapping[str, str], options: SendOptions, ui: Conversation
) -> SendResult:
    """Fetch the page while resolving the recipients, check the policy; stop if unchanged;
    render, then send (or save, or stop for a dry run). Lookups that do not depend on each
    other (the page, the attachment list, who "me" is, the recipients) run at once."""
    _check_options(options)
    run = Run(settings, env, ui)
    ref = run.page_ref(options.page)
    run.sender_address()
    known = ref.id if isinstance(ref, pagerefs.PageId) else None

    def page_id() -> str | None:  # for watchers; a SPACE:Title page must load first
        return None if isinstance(ref, pagerefs.LocalFile) else known or page.result().page.id

    with ThreadPoolExecutor(3) as lookups:
        # Connects (and may prompt for the token) here, not in a thread.
        client = None if isinstance(ref, pagerefs.LocalFile) else run.confluence
        page = lookups.submit(run.fetch, ref)
        listed = (lookups.submit(client.attachments, known)
                  if client and known and (options.attachments or options.attach) else None)
        if client and settings.sender.reply_to == "me":
            lookups.submit(client.me)  # cached for Reply-To
        found = run.recipients(options, page_id)
        fetched = page.result()
    # After the fetch: a question must not share the terminal with its spinner.
    _check_recipients(found, run, options)
    subject = message.subject(options.subject, fetched.page, settings.sender.subject_prefix)
    if not options.if_changed or options.dry_run or options.save:
        return _dispatch(run, options, found, run.render(fetched, options, listed=listed),
                         subject)
    key, version = fetched.page.id or str(ref), fetched.version
    with state.SentState(state.state_dir(env)).locked() as sent:
        done = sent.done(settings.profile, key, version, (r.address for r in found.all))
        if unknown := [a for a, outcome in done.items() if outcome == "unknown"]:
            run.warn(f"{len(unknown)} recipient(s) may already have version {version}: the"
                     " server's reply to an earlier send was lost; not sending to them again")
        if done and len(done) < len(found.all):
            run.warn(f"{len(done)} of {len(found.all)} recipient(s) already have version"
                     f" {version}; sending to the other {len(found.all) - len(done)}")
        if len(done) == len(found.all):
            return SendResult("unchanged", fetched.page, found, message_id="", size=0,
                              images=0, attachments=0, warnings=tuple(run.warnings),
                              refused={}, messages=0)
        sent.ensure_writable()

        def record(delivery: Delivery) -> None:
            sent.record(settings.profile, key, version, delivered=delivery.delivered,
                        unknown=delivery.unknown)

        return _dispatch(run, options, found, run.render(fetched, options, listed=listed),
                         subject, skip=set(done), on_sent=record)


def _dispatch(run: Run, options: SendOptions, found: Recipients, composed: Composed,
              subject: str, skip: Set[str] = frozenset(),
              on_sent: Callable[[Delivery], None] = lambda _: None) -> SendResult:
    """Build the message (one per recipient with ``--individually``), check its size, then
    stop for a dry run, save it, or send it over one connection to all but ``skip`` (those
    who already have it), telling ``on_sent`` who got each message."""
    sender = run.sender
    msg = message.build(sender=sender, recipients=found, subject=subject,
                        rendered=composed.rendered, attachments=composed.attachments)
    data = message.to_bytes(msg)
    message.check_size(msg, len(data), run.settings.policy.max_size_mb)
    page, message_id = composed.page, str(msg["Message-ID"])
    images, attachments = len(composed.rendered.images), len(composed.attachments)
    warnings = composed.warnings
    # From here on only the encoded message is needed: the parts, the downloaded files and
    # the EmailMessage go, so a 20 MB send holds about one copy of it, not four.
    del msg, composed
    due = [r for r in found.all if r.address not in skip]
    envelopes = [mailer.Envelope(sender.address, tuple(r.address for r in due), lambda: data)]
    if options.individually:
        envelopes = [mailer.Envelope(sender.address, (r.address,), functools.partial(
            message.personalised, data, r, message.message_id(sender.address)))
            for r in due]

    def result(status: str, **extra: Any) -> SendResult:
        return SendResult(status=status, page=page, recipients=found, message_id=message_id,
                          size=len(data), images=images, attachments=attachments,
                          warnings=warnings, messages=len(envelopes), **extra)

    if options.dry_run:
        return result("dry-run", refused={})
    if options.save:
        if options.save == "-":
            return result("saved", refused={}, raw=data)
        write_private_file(Path(options.save), data)
        return result("saved", refused={})
    account = run.smtp_account()
    with run.ui.step("send"):
        deliveries = mailer.deliver(account, envelopes, on_sent=on_sent)
    refused: dict[str, str] = {}
    delivered: list[str] = []
    unknown: list[str] = []
    not_sent: list[str] = []
    for delivery in deliveries:
        refused |= delivery.refused
        delivered += delivery.delivered
        unknown += delivery.unknown
        not_sent += delivery.not_attempted
    status = ("sent" if len(delivered) == len(due) else "partial" if delivered or unknown
              else "refused")
    return result(status, refused=refused, delivered=tuple(delivered), unknown=tuple(unknown),
                  not_sent=tuple(not_sent))


def digest(
    settings: Settings, env: Mapping[str, str], options: DigestOptions, ui: Conversation
) -> SendResult:
    """One message listing the pages a CQL query finds, newest first; nothing found: nothing
    sent (status ``empty``)."""
    _check_options(options)
    run = Run(settings, env, ui)
    run.sender_address()
    found = run.recipients(options)
    _check_recipients(found, run, options)
    since = digests.parse_duration(options.since) if options.since else None
    with ui.step("search"):
        hits = run.confluence.search(digests.cql(options.cql, options.since))
    hits = digests.newest_first(hits, since)
    title = options.title or digests.default_title(len(hits), options.since)
    page = Page(title=title, html=digests.html(hits), base_url=run.confluence.site.url)
    if not hits:
        return SendResult("empty", page, found, message_id="", size=0, images=0,
                          attachments=0, warnings=tuple(run.warnings), refused={}, messages=0)
    with ui.step("render"):
        rendered = render.finish(render.prepare(page), {}, sender=run.sender, note=options.note,
                                 cid_domain=run.sender.address.rpartition("@")[2])
    subject = message.subject(options.subject, page, settings.sender.subject_prefix)
    return _dispatch(run, options, found, run.composed(page, rendered), subject)


def write_private_file(path: Path, data: bytes, flag: str = "--save") -> None:
    """Write ``data`` (page content) to the regular file ``path`` for its owner alone, even
    when it replaces an existing file; ``flag`` names the option in the refusals."""
    try:
        write_private(path, data)
    except NotRegularFileError as exc:
        link = ", which mailpage does not follow" if exc.kind == "a symbolic link" else ""
        raise UsageError(f"{path} is not a regular file: it is {exc.kind}{link}",
                         f"Give the path of a file, or use {flag} - for stdout.") from exc
    except PermissionError as exc:
        raise UsageError(f"Cannot write {path} ({exc.strerror or exc})",
                         "mailpage writes a new file beside it and renames it, so that no"
                         " half-written file is ever left: the folder must be writable too;"
                         f" save elsewhere or use {flag} -.") from exc
    except OSError as exc:
        raise UsageError(f"Cannot write {path} ({exc.strerror or exc})",
                         "Check the path.") from exc


def preview(settings: Settings, env: Mapping[str, str], page: str, note: str | None,
            ui: Conversation) -> Composed:
    """Render without sending; the sender shown is the configured one, if any."""
    sender = Sender(settings.sender.address or "you@example.invalid", settings.sender.name or "")
    run = Run(settings, env, ui)
    options = SendOptions(page=page, note=note)
    return run.render(run.fetch(run.page_ref(page)), options, sender)


def resolve_recipients(settings: Settings, env: Mapping[str, str], specs: tuple[str, ...],
                       page: str | None, skip_unresolvable: bool,
                       ui: Conversation) -> tuple[Recipients, tuple[str, ...]]:
    """The ``recipients`` command: the addresses the specs stand for, and warnings."""
    run = Run(settings, env, ui)
    page_id = None
    if page:
        ref = run.page_ref(page)
        if isinstance(ref, pagerefs.LocalFile):
            raise UsageError("--page must be a page on Confluence", "Give its id or URL.")
        page_id = ref.id if isinstance(ref, pagerefs.PageId) else run.confluence.page(ref).id
    options = SendOptions(page="", to=specs, skip_unresolvable=skip_unresolvable)
    found = run.recipients(options, lambda: page_id)
    return found, tuple(run.warnings)


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str
    exit_code: ExitCode = ExitCode.OK


def check(settings: Settings, env: Mapping[str, str], ui: Conversation) -> list[Check]:
    """Prove the Confluence login and the SMTP login (EHLO, TLS, AUTH, QUIT); send nothing."""
    run = Run(settings, env, ui)

    def confluence_login() -> str:
        if not settings.confluence.url:
            return "not configured (local exports only)"
        with ui.step("log in to Confluence"):
            me = run.confluence.me()
        site = run.confluence.site
        return f"logged in to {site.url} ({site.deployment}) as {me.display_name}"

    def smtp_login() -> str:
        account = run.smtp_account()
        with ui.step("log in to SMTP"):
            mailer.check(account)
        login = "logged in" if account.username else "no login configured"
        if account.token:
            login = f"logged in with OAuth2 as {account.username}"
        return f"{account.host}:{account.port} ({account.security}), {login}"

    results = []
    for name, attempt in (("confluence", confluence_login), ("smtp", smtp_login)):
        try:
            results.append(Check(name, ok=True, detail=attempt()))
        except MailpageError as exc:
            results.append(Check(name, ok=False, detail=str(exc), exit_code=exc.exit_code))
    return results


def reach_site(settings: Settings, token: credentials.Secret | None, gateway: str | None,
               ui: Conversation) -> confluence.Site:
    """The site as ``set-site`` keeps it: through a gateway when asked (``gateway``), or when
    the site refuses the token and Atlassian's gateway takes it (a scoped token, a service
    account's)."""
    config = settings.confluence
    site = confluence.make_site(config.url, config.deployment, config.auth, config.user)
    if gateway := _gateway(gateway, config.auth):  # the flag's: set-site replaces the file's
        return _through(site, gateway)
    if token is not None and site.cloud:
        with ui.step("check the token"):
            if _takes(site, token) is False:
                through = _through(site, confluence.GATEWAY)
                if _takes(through, token):
                    return through
    return site


def _gateway(named: str | None, auth: str) -> str | None:
    """The gateway ``named``; service accounts' OAuth2 reaches only Atlassian's."""
    return named or (confluence.GATEWAY if auth == "oauth2" else None)


def _through(site: confluence.Site, gateway: str) -> confluence.Site:
    cloud_id = confluence.cloud_id_of(site.url, downloads.bare_session())
    return confluence.make_site(site.url, site.deployment, site.auth, site.user, gateway,
                                cloud_id)


def _takes(site: confluence.Site, token: credentials.Secret) -> bool | None:
    """Whether the site (or gateway) accepts ``token``; ``None`` when it cannot be told."""
    try:
        confluence.Client(site, token, attempts=1).me()
    except AuthError:
        return False
    except MailpageError:
        return None
    return True


def login_smtp(settings: Settings, env: Mapping[str, str], ui: Conversation) -> str:
    """Sign in to the SMTP account's OAuth2 provider now (keeping the refresh token), and
    prove the token with an SMTP login; send nothing."""
    if settings.smtp.auth != "oauth2":
        raise ConfigError(
            f"The SMTP account of profile {settings.profile} signs in with a password",
            "Switch it to OAuth2 with `mailpage config set-smtp --auth oauth2 ...` first.",
        )
    account = Run(settings, env, ui).smtp_account(sign_in=True)
    with ui.step("log in to SMTP"):
        mailer.check(account)
    client = oauth_client(settings)
    kept = " (the refresh token is in the OS keyring)" if client.interactive else ""
    return (f"Signed in to {client.provider.title()} as {account.username}{kept}; the SMTP"
            f" login at {account.host}:{account.port} works.")


def with_data_uris(rendered: RenderedPage) -> str:
    """The mail HTML with each ``cid:`` image as a ``data:`` URI, for a browser."""
    html = rendered.html
    for inline in rendered.images:
        encoded = base64.b64encode(inline.image.data).decode("ascii")
        data_uri = f"data:{inline.image.content_type};base64,{encoded}"
        html = html.replace(f"cid:{inline.cid}", data_uri)
    return html
