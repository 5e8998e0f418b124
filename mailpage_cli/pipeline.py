"""The use cases: send a page, preview it, resolve recipients, check the logins. They compose
the parts and print nothing; the terminal is reached only through the :class:`Conversation`
the caller passes in."""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Callable, Sequence, Set
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol
from urllib.parse import urlsplit

from mailpage_cli import (
    assets,
    confluence,
    credentials,
    digests,
    downloads,
    headers,
    lint,
    localexport,
    mailer,
    message,
    oauth,
    pagerefs,
    recipients,
    render,
    retry,
    sites,
    state,
)
from mailpage_cli.choices import ExternalImages, Status
from mailpage_cli.confluence import AttachmentInfo
from mailpage_cli.environment import Environment
from mailpage_cli.errors import (
    ConfigError,
    KeyringUnavailableError,
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
    Secret,
    Sender,
    SendResult,
)
from mailpage_cli.policy import DeliveryOptions, check_options, check_recipients
from mailpage_cli.privatefiles import NotRegularFileError, write_private
from mailpage_cli.settings import Settings, mailpage_command
from mailpage_cli.wording import MEGABYTE, count, human_size

if TYPE_CHECKING:
    import requests


class Conversation(Protocol):
    """How a use case talks to the person (or to nobody, off a TTY)."""

    def step(self, name: str, total: int = 0) -> AbstractContextManager[Callable[[], None]]:
        """A named stage of work, shown as progress on a TTY; with a ``total``, counted as the
        stage calls what it yields, once per item done (from any thread)."""

    def warn(self, text: str) -> None: ...

    def tell(self, text: str) -> None:
        """Something the person must do now (sign in); shown even with ``-q``."""

    interactive: bool  # someone can answer: a TTY, no --no-input

    def confirm(self, question: str, *, default: bool = False) -> bool:
        """Ask yes/no (Enter: ``default``); ``False`` where nobody can answer."""

    @property
    def prompt(self) -> credentials.Prompt | None:
        """A hidden prompt for secrets, ``None`` where nobody can answer."""


@dataclass(frozen=True, kw_only=True)
class SendOptions(DeliveryOptions):
    page: str
    attachments: bool = False
    attach: tuple[str, ...] = ()
    attach_file: tuple[str, ...] = ()  # local files, attached as they are
    external_images: ExternalImages = "link"
    if_changed: bool = False


@dataclass(frozen=True, kw_only=True)
class DigestOptions(DeliveryOptions):
    cql: str
    since: str | None = None  # a duration: 30m, 24h, 7d, 2w
    title: str | None = None


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
    findings: tuple[lint.Finding, ...] = ()  # lint's, which ``warnings`` carry as text too


class Run:
    """One invocation's settings, environment and conversation (and the warnings for it);
    connects to Confluence, and to the SMTP account's sign-in, only when something needs it."""

    clock: retry.Clock = retry.SYSTEM_CLOCK  # what retries wait on, at both edges

    def __init__(self, settings: Settings, environment: Environment, ui: Conversation) -> None:
        self.settings = settings
        self.environment = environment
        self.env = environment.env
        self.ui = ui
        self.warnings: list[str] = []
        # the SMTP password typed at the prompt, and its account; kept once the server took it
        self.typed_password: tuple[Secret, credentials.Destination] | None = None

    def warn(self, text: str) -> None:
        self.warnings.append(text)

    @cached_property
    def confluence(self) -> confluence.Client:
        config = self.settings.confluence
        gateway, cloud_id = sites.gateway(config.api_gateway, config.auth), config.cloud_id
        if gateway and not cloud_id and config.url:
            cloud_id = confluence.cloud_id_of(config.url, self.public)
        site = sites.make_site(config.url, config.deployment, config.auth, config.user,
                                    gateway, cloud_id)
        profile = self.settings.profile
        destination = credentials.site_destination(site.url, profile, site.api,
                                                   in_file=self.settings.in_file("confluence"))
        token = credentials.require(credentials.CONFLUENCE_TOKEN, profile, self.env,
                                    self.ui.prompt, destination)
        return confluence.Client(site, token, clock=self.clock)

    @cached_property
    def public(self) -> requests.Session:
        """One credential-free session for every image from another site."""
        return downloads.bare_session()

    @property
    def connected(self) -> bool:
        return "confluence" in self.__dict__

    def sender_address(self) -> str:
        """The From address, checked before anything is fetched."""
        if not self.settings.sender.address:
            command = mailpage_command(self.settings.profile)
            raise ConfigError(
                "No sender address",
                f"Run `{command} config set-sender --address you@example.com`"
                " or set MAILPAGE_SENDER_ADDRESS.",
            )
        return _setting_address(self.settings.sender.address, "sender.address")

    @cached_property
    def sender(self) -> Sender:
        """From and Reply-To; ``reply_to = "me"`` asks Confluence only if already connected."""
        config = self.settings.sender
        address = self.sender_address()
        name = headers.clean_text(config.name or "")
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
                                  ca_file=smtp.ca_file, token=token, profile=self.settings.profile)
        password = None
        in_file = self.settings.in_file("smtp")
        if smtp.username:
            profile = self.settings.profile
            destination = credentials.smtp_destination(
                smtp.host, smtp.port, smtp.security, smtp.username, profile, smtp.ca_file,
                in_file=in_file)
            password = credentials.require(credentials.SMTP_PASSWORD, profile, self.env,
                                           self._prompt(destination), destination)
        return mailer.Account(smtp.host, smtp.port, smtp.security, smtp.username, password,
                              smtp.ca_file, profile=self.settings.profile, in_file=in_file)

    def _prompt(self, destination: credentials.Destination) -> credentials.Prompt | None:
        """The hidden prompt for the SMTP password, remembering what was typed there (to
        offer keeping it once the server has taken it)."""
        if (ask := self.ui.prompt) is None:
            return None

        def typed(label: str) -> str:
            value = ask(label)
            if value:
                self.typed_password = (Secret(value), destination)
            return value

        return typed

    def offer_to_keep_password(self) -> None:
        """After the server took a password typed at the prompt: offer, at the terminal, to
        keep it in the keyring, bound to its account, so that the next run needs no prompt."""
        if self.typed_password is None:
            return
        secret, destination = self.typed_password
        self.typed_password = None
        if not self.ui.confirm("Save the SMTP password in the keyring for next time?",
                               default=True):
            return
        try:
            credentials.store(credentials.SMTP_PASSWORD, self.settings.profile, secret,
                              destination)
        except KeyringUnavailableError as exc:  # the login worked: only a warning
            self.ui.warn(f"the password was not saved: {exc}")
        else:
            self.ui.tell(f"Password stored in the OS keyring, for {destination.where} only.")

    def oauth_token(self, *, sign_in: bool) -> Secret:
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
        raise ConfigError(f"The sign-in authority {sites.without_secrets(authority)} is not"
                          " https",
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


def _max_bytes(settings: Settings) -> int:
    """The size limit of a message, in bytes; no file it carries may be larger."""
    return int(settings.policy.max_size_mb * MEGABYTE)


def fetch(run: Run, ref: pagerefs.PageRef) -> Fetched:
    with run.ui.step("fetch page"):
        export = None
        if isinstance(ref, pagerefs.LocalFile):
            export = localexport.load(ref.path, run.settings.confluence.url)
            page = export.page
        else:
            page = run.confluence.page(ref)
        _check_page_size(page, run.settings)
        return Fetched(page, export, render.prepare(page))


def _check_page_size(page: Page, settings: Settings) -> None:
    """A page whose HTML alone is twice the message limit cannot make a message within it
    (the mail carries the HTML and a text part): refused before rendering, which would cost
    seconds and gigabytes for nothing."""
    if len(page.html) > 2 * _max_bytes(settings):
        raise PolicyError(
            f"The page is {human_size(len(page.html))} of HTML; its message would"
            f" be over the limit of {settings.policy.max_size_mb:g} MB",
            "Send a smaller page, or raise the limit with"
            " `mailpage config set-policy --max-size MB`.",
        )


def compose(run: Run, fetched: Fetched, options: SendOptions, sender: Sender | None = None,
            listed: Future[list[AttachmentInfo]] | None = None,
            local: tuple[Resource, ...] = ()) -> Composed:
    """Download the page's images and attachments (one bounded pool for both), and render
    it. ``listed`` is the page's attachment list, when already being fetched; ``local`` are
    the files of ``--attach-file``, attached after the page's."""
    sender = sender or run.sender
    files = assets.PageFiles(
        fetched.page, fetched.export, client=lambda: run.confluence, session=lambda: run.public,
        site=run.settings.confluence.url, budget=_max_bytes(run.settings),
        concurrency=int(run.settings.confluence.concurrency),
        embed_external=options.external_images == "embed", warn=run.warn)
    sources = tuple(dict.fromkeys((*fetched.prepared.image_sources,
                                   *render.note_images(options.note))))
    if options.attachments or options.attach:
        with run.ui.step("list attachments"):
            wanted = files.wanted(options.attachments, options.attach, listed)
    else:
        wanted = []
    with run.ui.step("download images", files.jobs(sources, wanted)) as advance:
        images, attachments = files.gather(sources, wanted, advance)
    present = assets.present(wanted, attachments)
    with run.ui.step("render"):
        rendered = render.finish(fetched.prepared, images, sender=sender, note=options.note,
                                 cid_domain=sender.address.rpartition("@")[2])
    return _with_warnings(run, fetched.page, rendered, (*present, *local))


def _with_warnings(run: Run, page: Page, rendered: RenderedPage,
                   attachments: tuple[Resource, ...] = ()) -> Composed:
    """The rendered page with every warning so far, those of ``lint`` included."""
    findings = tuple(lint.check(rendered))
    checked = tuple(f"{f.rule}: {f.message}" for f in findings)
    return Composed(page, rendered, attachments, (*run.warnings, *rendered.warnings, *checked),
                    findings)


def one_stdin_reader(note_file: str | None, specs: Sequence[str]) -> None:
    """``--message-file -`` and ``file:-`` cannot both read stdin: refused before either does."""
    if note_file == "-" and recipients.reads_stdin(specs):
        raise UsageError("--message-file - and file:- cannot both read stdin",
                         "Put the note or the recipients in a file.")


def resolve(run: Run, options: DeliveryOptions, page_id: Callable[[], str | None]) -> Recipients:
    """The recipients ``options`` name. Confluence is connected to only for a spec that needs
    it (``me``, ``user:``, ``group:``, ``watchers``, the last of the page ``page_id()``
    names); a user whose address it hides is looked for in ``_address_lookups``."""
    @functools.cache
    def resolver() -> recipients.Resolver:  # built when a spec first needs it
        return recipients.confluence_resolver(
            run.confluence, page_id, skip_unresolvable=options.skip_unresolvable,
            warn=run.warn, lookups=_address_lookups(run),
            cloud=run.settings.confluence.deployment == "cloud")

    def on_confluence(spec: str) -> list[Recipient]:
        return resolver()(spec)

    return recipients.resolve(options.to, options.cc, options.bcc,
                              on_confluence if run.settings.confluence.url else None,
                              read_stdin=run.environment.read_stdin)


def _address_lookups(run: Run) -> list[tuple[str, recipients.Lookup]]:
    """Where an address Confluence hides is looked for: the profile's address book, then the
    organization directory (opened, with its admin key, only when asked)."""
    lookups: list[tuple[str, recipients.Lookup]] = []
    if book := run.settings.confluence.address_book:
        lookups.append(("address book", recipients.load_address_book(book).find))
    if run.settings["directory.org_id"]:
        directory = functools.cache(lambda: _org_directory(run))
        lookups.append(("directory", lambda person: directory().email(person)))
    return lookups


def _org_directory(run: Run) -> confluence.OrgDirectory:
    api, org_id = run.settings["directory.api"], run.settings["directory.org_id"]
    key = credentials.require(
        credentials.ADMIN_KEY, run.settings.profile, run.env, run.ui.prompt,
        credentials.directory_destination(api, org_id, run.settings.profile))
    return confluence.OrgDirectory(api, org_id, key)


def _page_id(ref: pagerefs.PageRef, fetching: Future[Fetched]) -> Callable[[], str | None]:
    """The id ``watchers`` needs: a page id is known at once, a SPACE:Title page's once it
    has loaded; a local file has none."""
    if isinstance(ref, pagerefs.LocalFile):
        return lambda: None
    if isinstance(ref, pagerefs.PageId):
        return lambda: ref.id
    return lambda: fetching.result().page.id


def send(
    settings: Settings, environment: Environment, options: SendOptions, ui: Conversation
) -> SendResult:
    """Fetch the page while resolving the recipients, check the policy; stop if unchanged;
    render, then send (or save, or stop for a dry run). Lookups that do not depend on each
    other (the page, the attachment list, who "me" is, the recipients) run at once."""
    check_options(options)
    local = tuple(localexport.read_file(path) for path in options.attach_file)
    run = Run(settings, environment, ui)
    ref = pagerefs.parse(options.page, settings.confluence.url)
    run.sender_address()
    with ThreadPoolExecutor(3) as lookups:
        # Connects (and may prompt for the token) here, not in a thread.
        client = None if isinstance(ref, pagerefs.LocalFile) else run.confluence
        fetching = lookups.submit(fetch, run, ref)
        files = options.attachments or bool(options.attach)
        listed = (lookups.submit(client.attachments, ref.id)
                  if client and files and isinstance(ref, pagerefs.PageId) else None)
        if client and settings.sender.reply_to == "me":
            lookups.submit(client.me)  # cached for Reply-To
        found = resolve(run, options, _page_id(ref, fetching))
        fetched = fetching.result()
    # After the fetch: a question must not share the terminal with its spinner.
    check_recipients(found, settings.policy, options, ui.confirm if ui.interactive else None)
    subject = message.subject(options.subject, fetched.page, settings.sender.subject_prefix,
                              "page" if fetched.export is None else "HTML export")
    composed = functools.partial(compose, run, fetched, options, listed=listed, local=local)
    if not options.if_changed or options.dry_run or options.save:
        return _dispatch(run, options, found, composed(), subject)
    key, version = fetched.page.id or str(ref), fetched.version
    with state.SentState(state.state_dir(run.env)).locked() as sent:
        done = sent.done(settings.profile, key, version, (r.address for r in found.all))
        if unknown := [a for a, outcome in done.items() if outcome == "unknown"]:
            run.warn(f"{count(len(unknown), 'recipient')} may already have version {version}:"
                     " the server's reply to an earlier send was lost; not sending to them again")
        if done and len(done) < len(found.all):
            run.warn(f"{len(done)} of {count(len(found.all), 'recipient')} already have"
                     f" version {version}; sending to the other {len(found.all) - len(done)}")
        if len(done) == len(found.all):
            return SendResult("unchanged", fetched.page, found, message_id="", size=0,
                              images=0, attachments=0, warnings=tuple(run.warnings),
                              refused={}, messages=0)
        sent.ensure_writable()

        def record(delivery: Delivery) -> None:
            sent.record(settings.profile, key, version, delivered=delivery.delivered,
                        unknown=delivery.unknown)

        return _dispatch(run, options, found, composed(), subject, skip=set(done),
                         on_sent=record)


def _dispatch(run: Run, options: DeliveryOptions, found: Recipients, composed: Composed,
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
    ids: dict[str, str] = {}  # with --individually, each copy's own Message-ID
    if options.individually:
        ids = {r.address: message.message_id(sender.address) for r in due}
        envelopes = [mailer.Envelope(sender.address, (r.address,), functools.partial(
            message.personalised, data, r, ids[r.address])) for r in due]

    def result(status: Status, **extra: Any) -> SendResult:
        # The id of a message that went out: with --individually, the first copy someone got
        # (or may have got); in a dry run, the first that would go.
        tried = (*extra.get("delivered", ()), *extra.get("unknown", ()), *ids)
        first = next((ids[a] for a in tried if a in ids), message_id)
        return SendResult(status=status, page=page, recipients=found, message_id=first,
                          size=len(data), images=images, attachments=attachments,
                          warnings=warnings, messages=len(envelopes), **extra)

    if options.save and options.save != "-":
        _save(Path(options.save), data, sender.address)
    raw = data if options.save == "-" else None
    if options.dry_run:  # with --save: the message that would be sent
        return result("dry-run", refused={}, raw=raw)
    if options.save:
        return result("saved", refused={}, raw=raw)
    account = run.smtp_account()
    with run.ui.step("send"):
        deliveries = mailer.deliver(account, envelopes, clock=run.clock, on_sent=on_sent)
    run.offer_to_keep_password()  # the server took the login
    refused: dict[str, str] = {}
    delivered: list[str] = []
    unknown: list[str] = []
    not_sent: list[str] = []
    for delivery in deliveries:
        refused |= delivery.refused
        delivered += delivery.delivered
        unknown += delivery.unknown
        not_sent += delivery.not_attempted
    status: Status = ("sent" if len(delivered) == len(due) else "partial" if delivered or unknown
                      else "refused")
    return result(status, refused=refused, delivered=tuple(delivered), unknown=tuple(unknown),
                  not_sent=tuple(not_sent))


def digest(
    settings: Settings, environment: Environment, options: DigestOptions, ui: Conversation
) -> SendResult:
    """One message listing the pages a CQL query finds, newest first; nothing found: nothing
    sent (status ``empty``)."""
    check_options(options)
    since = digests.parse_duration(options.since) if options.since else None  # before lookups
    query = digests.cql(options.cql, options.since)
    run = Run(settings, environment, ui)
    run.sender_address()
    found = resolve(run, options, page_id=lambda: None)
    check_recipients(found, settings.policy, options, ui.confirm if ui.interactive else None)
    with ui.step("search"):
        hits = run.confluence.search(query)
    hits = digests.newest_first(hits, since)
    title = options.title or digests.default_title(len(hits), options.since)
    spaces = {hit.space for hit in hits}
    page = Page(title=title, html=digests.html(hits), base_url=run.confluence.site.url,
                space=spaces.pop() if len(spaces) == 1 else None)
    if not hits:
        return SendResult("empty", page, found, message_id="", size=0, images=0,
                          attachments=0, warnings=tuple(run.warnings), refused={}, messages=0)
    with ui.step("render"):
        rendered = render.finish(render.prepare(page), {}, sender=run.sender, note=options.note,
                                 cid_domain=run.sender.address.rpartition("@")[2])
    subject = message.subject(options.subject, page, settings.sender.subject_prefix, "digest")
    return _dispatch(run, options, found, _with_warnings(run, page, rendered), subject)


def _save(path: Path, data: bytes, envelope_sender: str) -> None:
    """``--save``: the message as it would go on the wire, or in a file named ``*.mbox`` as a
    mailbox of one message (``mutt -f`` opens it; a bare message it does not)."""
    if path.suffix.lower() == ".mbox":
        data = message.mbox(data, envelope_sender, datetime.now(UTC))
    write_private_file(path, data)


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



def preview(settings: Settings, environment: Environment, page: str, note: str | None,
            ui: Conversation, external_images: ExternalImages = "link") -> Composed:
    """Render without sending; the sender shown is the configured one, if any."""
    sender = Sender(settings.sender.address or "you@example.invalid", settings.sender.name or "")
    run = Run(settings, environment, ui)
    ref = pagerefs.parse(page, settings.confluence.url)
    options = SendOptions(page=page, note=note, external_images=external_images)
    return compose(run, fetch(run, ref), options, sender)


def browser_html(composed: Composed) -> str:
    """The rendered page as one HTML file a browser shows: images as ``data:`` URIs."""
    return render.with_data_uris(composed.rendered)


def resolve_recipients(settings: Settings, environment: Environment, specs: tuple[str, ...],
                       page: str | None, skip_unresolvable: bool,
                       ui: Conversation) -> tuple[Recipients, tuple[str, ...]]:
    """The ``recipients`` command: the addresses the specs stand for, and warnings."""
    run = Run(settings, environment, ui)
    page_id = None
    if page:
        ref = pagerefs.parse(page, settings.confluence.url)
        if isinstance(ref, pagerefs.LocalFile):
            raise UsageError("--page must be a page on Confluence", "Give its id or URL.")
        page_id = ref.id if isinstance(ref, pagerefs.PageId) else run.confluence.page(ref).id
    options = DeliveryOptions(to=specs, skip_unresolvable=skip_unresolvable)
    found = resolve(run, options, page_id=lambda: page_id)
    return found, tuple(run.warnings)
