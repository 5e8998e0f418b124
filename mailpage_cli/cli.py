"""The command line: parse, call one use case, print. The one place errors become exit codes.

Heavy libraries (rendering, keyring backends) load inside the commands that need them, so
that ``mailpage --help`` starts fast.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn, TypeVar

import click

from mailpage_cli import __version__, choices
from mailpage_cli.errors import (
    ConfigError,
    ExitCode,
    KeyringUnavailableError,
    MailpageError,
    Terminated,
    UsageError,
)
from mailpage_cli.output import Output

if TYPE_CHECKING:
    from mailpage_cli.credentials import Destination, Secret, SecretKind
    from mailpage_cli.pipeline import SendResult
    from mailpage_cli.settings import Settings

Command = TypeVar("Command", bound=Callable[..., Any])
CONTEXT = {"help_option_names": ["-h", "--help"], "max_content_width": 100}


@dataclass
class App:
    """What every command needs: the options of the group, the environment, the output."""

    profile: str
    config_flag: str | None
    output: Output
    debug: bool
    env: Mapping[str, str] = field(default_factory=lambda: dict(os.environ))
    as_json: bool = False  # set by --json: errors are printed as a JSON object too

    @property
    def config_path(self) -> Path:
        from mailpage_cli import settings  # noqa: PLC0415 - start-up time: not for --help

        return settings.config_path(click.get_app_dir("mailpage"), self.config_flag, self.env)

    @cached_property
    def settings(self) -> Settings:
        from mailpage_cli import settings  # noqa: PLC0415 - start-up time: not for --help

        return settings.load(self.config_path, self.profile, self.env)


class MailpageGroup(click.Group):
    """Turns every exception into one line on stderr and the SPEC's exit code."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except (click.exceptions.ClickException, click.exceptions.Exit, click.Abort):
            raise
        except MailpageError as exc:
            self._fail(ctx, str(exc), exc.exit_code, exc.report, exc.reason)
        except KeyboardInterrupt as exc:
            signalled = isinstance(exc, Terminated)
            self._fail(ctx, "Stopped by SIGTERM" if signalled else "Interrupted",
                       ExitCode.TERMINATED if signalled else ExitCode.INTERRUPTED)
        except BrokenPipeError:
            # The reader of stdout left (`mailpage config show | head`): stop quietly, as a
            # Unix tool killed by SIGPIPE would, without a second error when Python flushes.
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            ctx.exit(128 + 13)
        except Exception as exc:  # noqa: BLE001 - the last resort: a bug, said as such
            self._fail(
                ctx,
                f"Unexpected {type(exc).__name__}; this is a bug in mailpage."
                " Run again with --debug and report the traceback",
                ExitCode.UNEXPECTED,
            )

    @staticmethod
    def _fail(ctx: click.Context, text: str, code: int,
              report: Mapping[str, tuple[str, ...]] | None = None,
              reason: str | None = None) -> NoReturn:
        """The error line, who has the message if it went part-way, and with ``--json`` the
        same as an object on stdout: a CI artifact is never empty."""
        app = ctx.find_object(App)
        if app and app.debug:
            import traceback  # noqa: PLC0415 - only for --debug

            traceback.print_exc()
        output = app.output if app else Output()
        output.error(text)
        for key, addresses in (report or {}).items():
            if addresses:
                output.error(f"{REPORT_LABELS[key]}: {', '.join(addresses)}")
        if app and app.as_json:
            output.json({"status": "error", "exit": int(code), "error": text,
                         **({"reason": reason} if reason else {}),
                         **{key: list(addresses) for key, addresses in (report or {}).items()}})
        ctx.exit(code)


REPORT_LABELS = {
    "delivered": "delivered",
    "unknown": "may have it (sent, but the server's answer never came)",
    "not_sent": "not sent",
}


def _remember_json(ctx: click.Context, _param: click.Parameter, value: bool) -> bool:
    """Errors come as JSON too once ``--json`` is given."""
    app = ctx.find_object(App)
    if app and value:
        app.as_json = True
    return value


def json_option(help_text: str) -> Callable[[Command], Command]:
    return click.option("--json", "as_json", is_flag=True, callback=_remember_json,
                        help=help_text)


def _setup_logging(debug: bool) -> None:
    """With --debug our loggers write one line per step to this run's stderr; without it,
    nothing (and logging is not even imported unless a part already did)."""
    if not debug and "logging" not in sys.modules:
        return
    import logging  # noqa: PLC0415 - start-up time: only when there is logging to do

    ours = logging.getLogger("mailpage_cli")
    ours.handlers = [h for h in ours.handlers if h.get_name() != "mailpage-debug"]
    ours.setLevel(logging.DEBUG if debug else logging.WARNING)
    if debug:
        handler = logging.StreamHandler(sys.stderr)
        handler.set_name("mailpage-debug")
        handler.setFormatter(logging.Formatter("debug: %(message)s"))
        ours.addHandler(handler)


def _stdin_is_tty() -> bool:
    return sys.stdin.isatty()


@click.group(cls=MailpageGroup, context_settings=CONTEXT)
@click.option("--profile", envvar="MAILPAGE_PROFILE", default="default", show_default=True,
              help="Settings profile to use.")
@click.option("--config", "config_flag", metavar="PATH",
              help="Config file (default: $MAILPAGE_CONFIG or the user config dir).")
@click.option("-q", "--quiet", is_flag=True, help="Print errors only.")
@click.option("-v", "--verbose", is_flag=True, help="Say more about each step.")
@click.option("--debug", is_flag=True, envvar="MAILPAGE_DEBUG",
              help="Log each SMTP step (no user data); tracebacks on errors.")
@click.option("--no-input", is_flag=True, envvar="MAILPAGE_NO_INPUT",
              help="Never prompt; fail instead.")
@click.option("--no-color", is_flag=True, help="No colours (also: NO_COLOR).")
@click.version_option(__version__, prog_name="mailpage")
@click.pass_context
def cli(
    ctx: click.Context, profile: str, config_flag: str | None, quiet: bool, verbose: bool,
    debug: bool, no_input: bool, no_color: bool,
) -> None:
    """Send Confluence pages as e-mail.

    \b
      mailpage send ENG:Release+notes --to team@example.com
      mailpage send page.html --to ann@example.com --save message.eml
      mailpage config set-smtp --host smtp.example.com --username ann --password-stdin
    """
    _setup_logging(debug)
    interactive = _stdin_is_tty() and not no_input
    output = Output(quiet=quiet, verbose=verbose, color=not no_color, interactive=interactive)
    ctx.obj = App(profile.strip() or "default", config_flag, output, debug)


def _read_note(note: str | None, note_file: str | None) -> str | None:
    if note is not None and note_file is not None:
        raise UsageError("--message and --message-file exclude each other", "Give one of them.")
    if note_file is None:
        return note
    if note_file == "-":
        return sys.stdin.read()
    try:
        return Path(note_file).expanduser().read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"Cannot read the message file {note_file} ({exc})",
                         "Check the path (a UTF-8 Markdown file).") from exc


def _summary(result: SendResult, save: str | None) -> str:
    from mailpage_cli.message import human_size  # noqa: PLC0415 - loaded by send already

    count = len(result.recipients.all)
    what = (f"{human_size(result.size)}, {result.images} image(s), "
            f"{result.attachments} attachment(s)")
    if result.messages > 1:
        what = f"one message each, {what}"
    title = result.page.title
    if result.status == "unchanged":
        return (f"Unchanged: {title!r} version {result.page.version or '(this content)'} was"
                f" already sent to these {count} recipient(s); nothing sent.")
    if result.status == "empty":
        return "The search found nothing; nothing sent."
    if result.status == "dry-run":
        return f"Dry run: {title!r} would go to {count} recipient(s) ({what}); nothing sent."
    if result.status == "saved":
        where = "stdout" if save == "-" else save
        return f"Saved {title!r} for {count} recipient(s) to {where} ({what}); nothing sent."
    if result.status == "refused":
        return f"Not sent: none of the {count} recipient(s) of {title!r} got it (see above)."
    maybe = f"; {len(result.unknown)} may have it" if result.unknown else ""
    return f"Sent {title!r} to {len(result.delivered)} of {count} recipient(s) ({what}){maybe}."


def send_report(result: SendResult) -> dict[str, Any]:
    """The ``--json`` object of SPEC "Output", plus who got it (``delivered``), who may have
    it (``unknown``: the server's reply was lost) and who was not tried (``not_sent``)."""
    page = result.page
    return {
        "status": result.status,
        "page": {"id": page.id, "title": page.title, "version": page.version, "url": page.url},
        "recipients": {
            kind: [r.address for r in getattr(result.recipients, kind)]
            for kind in ("to", "cc", "bcc")
        },
        "refused": dict(result.refused),
        "delivered": list(result.delivered),
        "unknown": list(result.unknown),
        "not_sent": list(result.not_sent),
        "message": {
            "id": result.message_id or None,
            "bytes": result.size,
            "images": result.images,
            "attachments": result.attachments,
        },
        "warnings": list(result.warnings),
    }


def _report(app: App, result: SendResult, as_json: bool, save: str | None) -> NoReturn:
    out = app.output
    for warning in result.warnings:
        out.warn(warning)
    # Failures, even under -q: refused, maybe delivered, not sent.
    for address, reply in result.refused.items():
        out.error(f"refused: {address}: {reply}")
    for key in ("unknown", "not_sent"):
        if addresses := getattr(result, key):
            out.error(f"{REPORT_LABELS[key]}: {', '.join(addresses)}")
    if as_json:
        out.json(send_report(result))
    elif result.raw is not None:
        out.raw(result.raw)
    out.summary(_summary(result, save))
    sys.exit(result.exit_code)


def send_options(command: Any) -> Any:
    """The options ``send`` and ``digest`` share: recipients, note, and what to do."""
    for option in reversed([
        click.option("--to", multiple=True, metavar="R",
                     help="Recipient (repeatable; lists, file:PATH, me, user:, group:)."),
        click.option("--cc", multiple=True, metavar="R", help="Copy recipient (repeatable)."),
        click.option("--bcc", multiple=True, metavar="R",
                     help="Blind copy (never in any header)."),
        click.option("--subject", metavar="TEXT",
                     help="Subject; {title} {space} {version} {prefix}."),
        click.option("--message", "note", metavar="TEXT",
                     help="A note in Markdown, above the page."),
        click.option("--message-file", "note_file", metavar="PATH",
                     help="The note from a file (- = stdin)."),
        click.option("--individually", is_flag=True,
                     help="One message per recipient, each To: them alone (one connection)."),
        click.option("--skip-unresolvable", is_flag=True,
                     help="Warn about users without a visible e-mail instead of stopping."),
        click.option("-n", "--dry-run", is_flag=True, help="Resolve and render; send nothing."),
        click.option("--save", metavar="PATH",
                     help="Write the message to PATH (- = stdout) instead."),
        json_option("Print the result (or the error) as JSON."),
        click.option("-y", "--yes", is_flag=True,
                     help="Do not ask before sending to many recipients."),
    ]):
        command = option(command)
    return command


def _common(values: dict[str, Any]) -> dict[str, Any]:
    if values["as_json"] and values["save"] == "-":
        raise UsageError("--json and --save - would both write to stdout", "Save to a file.")
    from mailpage_cli.recipients import reads_stdin  # noqa: PLC0415 - start-up time

    if values["note_file"] == "-" and reads_stdin(
            (*values["to"], *values["cc"], *values["bcc"])):
        raise UsageError("--message-file - and file:- cannot both read stdin",
                         "Put the note or the recipients in a file.")
    note = _read_note(values.pop("note"), values.pop("note_file"))
    values.pop("as_json")
    return {**values, "note": note}


@cli.command()
@click.argument("page")
@send_options
@click.option("--attachments", is_flag=True, help="Attach all the page's attachments.")
@click.option("--attach", multiple=True, metavar="GLOB", help="Attach those matching GLOB.")
@click.option("--external-images", type=click.Choice(choices.EXTERNAL_IMAGES), default="link",
              show_default=True, help="Images from other sites: a link, or fetched and embedded.")
@click.option("--if-changed", is_flag=True,
              help="Send only if this version was not yet sent to these recipients.")
@click.pass_obj
def send(app: App, /, **values: Any) -> None:
    """Send PAGE by e-mail: a page id, SPACE:Title, a page URL or an HTML export file.

    \b
      mailpage send https://acme.atlassian.net/wiki/spaces/ENG/pages/98487 \\
          --to me --cc group:release-team --attachments --message 'Please **read**.'
      mailpage send 'ENG:Release notes 2.4' --to file:team.txt --if-changed --json
      mailpage send export/Release-notes_98487.html --to ann@example.com --save mail.eml
    """
    from mailpage_cli import pipeline  # noqa: PLC0415 - rendering libraries load only here

    as_json, save = values["as_json"], values["save"]
    options = pipeline.SendOptions(**_common(values))
    _report(app, pipeline.send(app.settings, app.env, options, app.output), as_json, save)


@cli.command()
@click.option("--cql", required=True, metavar="QUERY", help="Which pages (Confluence CQL).")
@click.option("--since", metavar="DURATION", help="Only pages changed within: 30m, 24h, 7d, 2w.")
@click.option("--title", metavar="TEXT", help="The digest's title (default: what it lists).")
@send_options
@click.pass_obj
def digest(app: App, /, **values: Any) -> None:
    """Mail one message listing the pages a CQL query finds, newest first.

    Each entry: the title as a link, space, last editor, when, an excerpt. When nothing
    matches, nothing is sent and the exit code is 0 (status "empty").

    \b
      mailpage digest --cql 'space = "ENG" and type = page' --since 7d \\
          --title 'Engineering this week' --to group:engineering --individually
    """
    from mailpage_cli import pipeline  # noqa: PLC0415 - HTTP libraries load only here

    as_json, save = values["as_json"], values["save"]
    options = pipeline.DigestOptions(page="", **_common(values))
    _report(app, pipeline.digest(app.settings, app.env, options, app.output), as_json, save)


@cli.command()
@click.argument("page")
@click.option("--html", "html_path", metavar="FILE",
              help="Write browser-viewable HTML (images inline) to FILE (- = stdout).")
@click.option("--text", is_flag=True, help="Print the plain-text alternative.")
@click.option("--message", "note", metavar="TEXT", help="A personal note, as send would show it.")
@click.pass_obj
def preview(app: App, page: str, html_path: str | None, text: bool, note: str | None) -> None:
    """Render PAGE as the mail would show it, without sending.

    \b
      mailpage preview 98487 --html /tmp/page.html
      mailpage preview export/Release-notes_98487.html --text | less
    """
    from mailpage_cli import pipeline  # noqa: PLC0415 - rendering libraries load only here

    composed = pipeline.preview(app.settings, app.env, page, note, app.output)
    for warning in composed.warnings:
        app.output.warn(warning)
    if html_path:
        html = pipeline.with_data_uris(composed.rendered)
        if html_path == "-":
            app.output.raw(html.encode())
        else:
            pipeline.write_private_file(Path(html_path), html.encode(), "--html")
            app.output.summary(f"Wrote {html_path}; open it in a browser.")
    if text or not html_path:
        app.output.result(composed.rendered.text)


@cli.command("lint")
@click.argument("page")
@json_option("Print the findings as JSON.")
@click.pass_obj
def lint_command(app: App, page: str, as_json: bool) -> None:
    """Check the mail PAGE makes: alt text, contrast, lang and dir, layout tables, Gmail's
    clipping, Outlook's page break, CSS that Outlook or Gmail ignores. Exit 8 on errors.

    \b
      mailpage lint 98487
      mailpage lint export/Release-notes_98487.html --json | jq '.findings[]'
    """
    from mailpage_cli import lint, pipeline  # noqa: PLC0415 - rendering libraries load here

    composed = pipeline.preview(app.settings, app.env, page, None, app.output)
    findings = lint.check(composed.rendered)
    errors = sum(f.severity == "error" for f in findings)
    if as_json:
        app.output.json({"page": {"id": composed.page.id, "title": composed.page.title},
                         "errors": errors, "warnings": len(findings) - errors,
                         "findings": [f.as_dict() for f in findings]})
    else:
        for finding in findings:
            app.output.result(f"{finding.severity}: [{finding.rule}] {finding.message}")
        app.output.summary(f"{composed.page.title!r}: {errors} error(s),"
                           f" {len(findings) - errors} warning(s).")
    sys.exit(ExitCode.POLICY if errors else ExitCode.OK)


@cli.command("recipients")
@click.argument("specs", nargs=-1, required=True, metavar="R...")
@click.option("--page", metavar="PAGE", help="The page whose watchers `watchers` means.")
@click.option("--skip-unresolvable", is_flag=True, help="Warn about hidden e-mails; go on.")
@json_option("Print as JSON.")
@click.pass_obj
def recipients_command(
    app: App, specs: tuple[str, ...], page: str | None, skip_unresolvable: bool, as_json: bool,
) -> None:
    """Show the addresses recipient specs stand for: name, address and source.

    \b
      mailpage recipients me group:release-team user:'Ann Example'
      mailpage recipients watchers --page 98487 --json
    """
    from mailpage_cli import pipeline  # noqa: PLC0415 - HTTP libraries load only here

    found, warnings = pipeline.resolve_recipients(app.settings, app.env, specs, page,
                                                  skip_unresolvable, app.output)
    for warning in warnings:
        app.output.warn(warning)
    # found_in: where a Confluence user's address came from (confluence, address book,
    # directory); none for an address given as such
    rows = [{"name": r.name, "address": r.address, "source": r.source,
             **({"found_in": r.found_in} if r.found_in else {})} for r in found.to]
    if as_json:
        app.output.json({"recipients": rows, "warnings": list(warnings)})
        return
    for r in found.to:
        who = f"{r.name} <{r.address}>" if r.name else r.address
        elsewhere = f" ({r.found_in})" if r.found_in not in ("", "confluence") else ""
        app.output.result(f"{who}\t{r.source}{elsewhere}")
    app.output.summary(f"{len(rows)} recipient(s).")


@cli.group()
def config() -> None:
    """Show and change settings; store secrets in the OS keyring.

    \b
      mailpage config set-smtp --host smtp.example.com --username ann --password-stdin
      mailpage config set-sender --name 'Ann Example' --address ann@example.com
      mailpage config show
    """


def _read_secret(app: App, kind: SecretKind, from_stdin: bool) -> Secret | None:
    """The secret from stdin or a hidden prompt; ``None`` when neither can give it."""
    from mailpage_cli import credentials  # noqa: PLC0415 - start-up time
    if from_stdin:
        value = sys.stdin.readline().rstrip("\r\n")
    elif app.output.interactive:
        value = click.prompt(kind.label, hide_input=True, confirmation_prompt=True, err=True)
    else:
        return None
    if not value:
        raise UsageError(f"The {kind.label} is empty", "Pass it on stdin or at the prompt.")
    return credentials.Secret(value)


def _store_secret(app: App, kind: SecretKind, from_stdin: bool,
                  destination: Destination) -> bool:
    """Read the secret from stdin or a hidden prompt and keep it in the keyring, bound to
    ``destination``."""
    from mailpage_cli import credentials  # noqa: PLC0415 - start-up time
    secret = _read_secret(app, kind, from_stdin)
    if secret:
        credentials.store(kind, app.profile, secret, destination)
    return secret is not None


@config.command("set-site")
@click.argument("url")
@click.option("--user", metavar="EMAIL", help="Cloud: your Atlassian e-mail (basic auth).")
@click.option("--auth", type=click.Choice(choices.AUTH),
              help="basic (Cloud API token) or bearer (Data Center PAT) [basic with --user].")
@click.option("--deployment", type=click.Choice(choices.DEPLOYMENTS),
              help="cloud or datacenter [cloud for *.atlassian.net].")
@click.option("--token-stdin", is_flag=True, help="Read the API token / PAT from stdin.")
@click.option("--address-book", type=click.Path(exists=True, dir_okay=False, resolve_path=True),
              help="A TOML or CSV file of addresses Confluence hides (accountId or name).")
@click.option("--api-gateway", is_flag=False, flag_value="https://api.atlassian.com",
              metavar="[URL]", help="Cloud: reach the site through Atlassian's API gateway"
              " (scoped tokens, service accounts) [detected when only the gateway takes the"
              " token].")
@click.pass_obj
def set_site(
    app: App, url: str, user: str | None, auth: str | None, deployment: str | None,
    token_stdin: bool, address_book: str | None, api_gateway: str | None,
) -> None:
    """Set the Confluence site and store its token in the keyring.

    \b
      printf '%s\\n' "$API_TOKEN" | mailpage config set-site https://acme.atlassian.net \\
          --user ann@acme.com --token-stdin
      printf '%s\\n' "$PAT" | mailpage config set-site https://wiki.example.com/confluence \\
          --token-stdin
    """
    from mailpage_cli import credentials, pipeline, settings  # noqa: PLC0415 - start-up time

    changes = {"url": url.strip().rstrip("/"), "user": user, "auth": auth,
               "deployment": deployment, "address_book": address_book}
    resolved = settings.load(app.config_path, app.profile, {},
                             {f"confluence.{k}": v for k, v in changes.items() if v})
    config = resolved.confluence
    token = _read_secret(app, credentials.CONFLUENCE_TOKEN, token_stdin)
    site = pipeline.reach_site(resolved, token, api_gateway, app.output)
    changes |= {"api_gateway": site.gateway or None, "cloud_id": site.cloud_id or None}
    destination = credentials.site_destination(site.url, app.profile, site.api)
    if token:
        credentials.store(credentials.CONFLUENCE_TOKEN, app.profile, token, destination)
    settings.update(app.config_path, app.profile, "confluence", changes, replace=True)
    through = (f", through the API gateway {site.gateway} (cloud id {site.cloud_id})"
               if site.gateway else "")
    app.output.summary(f"Confluence site saved in {app.config_path} (profile {app.profile}):"
                       f" {config.deployment}, {config.auth} auth{through}.")
    if token:
        app.output.summary(f"Token stored in the OS keyring, for {destination.where} only.")
    else:
        app.output.warn(f"no token stored for {destination.where} (a token stored for another"
                        " site is not sent there): pass --token-stdin, or set"
                        " MAILPAGE_CONFLUENCE_TOKEN")


@config.command("set-directory")
@click.argument("org_id")
@click.option("--api", metavar="URL", help="The admin API's address [https://api.atlassian.com].")
@click.option("--key-stdin", is_flag=True, help="Read the organization admin API key from stdin.")
@click.pass_obj
def set_directory(app: App, org_id: str, api: str | None, key_stdin: bool) -> None:
    """Look up addresses Confluence hides in your Atlassian organization's directory.

    \b
      printf '%s\\n' "$ADMIN_API_KEY" | mailpage config set-directory ORG_ID --key-stdin
    """
    from mailpage_cli import credentials, settings  # noqa: PLC0415 - start-up time

    changes = {"org_id": org_id.strip(), "api": api}
    resolved = settings.load(app.config_path, app.profile, {},
                             {f"directory.{k}": v for k, v in changes.items() if v})
    destination = credentials.directory_destination(resolved["directory.api"],
                                                    resolved["directory.org_id"], app.profile)
    stored = _store_secret(app, credentials.ADMIN_KEY, key_stdin, destination)
    settings.update(app.config_path, app.profile, "directory", changes, replace=True)
    app.output.summary(f"Organization directory saved in {app.config_path} (profile"
                       f" {app.profile}).")
    if stored:
        app.output.summary(f"Admin API key stored in the OS keyring, for {destination.where}"
                           " only.")
    else:
        app.output.warn("no admin API key stored: pass --key-stdin, or set"
                        " MAILPAGE_ATLASSIAN_ADMIN_KEY")


@config.command("check")
@click.pass_obj
def check(app: App) -> None:
    """Prove the Confluence and SMTP logins (EHLO, TLS, AUTH, QUIT); send nothing.

    \b
      mailpage config check && echo ready
    """
    from mailpage_cli import pipeline  # noqa: PLC0415

    results = pipeline.check(app.settings, app.env, app.output)
    for result in results:
        app.output.result(f"{result.name}: {'ok' if result.ok else 'FAILED'} - {result.detail}")
    failed = [r.exit_code for r in results if not r.ok]
    sys.exit(failed[0] if failed else ExitCode.OK)


@config.command("login")
@click.argument("what", type=click.Choice(["smtp"]))
@click.pass_obj
def login(app: App, what: str) -> None:  # noqa: ARG001 - smtp is the one there is
    """Sign in to the mail provider (OAuth2) and keep the refresh token in the keyring.

    \b
      mailpage config login smtp
    """
    from mailpage_cli import pipeline  # noqa: PLC0415

    app.output.summary(pipeline.login_smtp(app.settings, app.env, app.output))


@config.command("set-smtp")
@click.option("--host", required=True, help="SMTP server host name.")
@click.option("--port", type=click.IntRange(1, 65535), help="Port [465 ssl, 587 starttls, 25].")
@click.option("--security", type=click.Choice(choices.SECURITY), default="starttls",
              show_default=True, help="ssl = implicit TLS; starttls is mandatory when chosen.")
@click.option("--username", help="Login name (oauth2: the mailbox); secrets go to the keyring.")
@click.option("--password-stdin", is_flag=True, help="Read the password from stdin.")
@click.option("--ca-file", type=click.Path(exists=True, dir_okay=False, resolve_path=True),
              help="Extra trusted CA certificate (PEM) for a private server.")
@click.option("--auth", "auth_method", type=click.Choice(choices.SMTP_AUTH), default="password",
              show_default=True, help="oauth2: sign in with Microsoft 365 or Google (XOAUTH2).")
@click.option("--oauth-provider", type=click.Choice(choices.OAUTH_PROVIDERS),
              help="Whose sign-in (with --auth oauth2).")
@click.option("--client-id", help="Your app registration's client id (Google: or from its JSON).")
@click.option("--tenant", help="Microsoft: the tenant id or domain [organizations].")
@click.option("--authority", help="Microsoft: the sign-in host [https://login.microsoftonline.com].")
@click.option("--client-secret-stdin", is_flag=True,
              help="App-only or Google: read the client secret, or Google's client or"
                   " service-account JSON, from stdin.")
@click.option("--client-certificate", type=click.Path(exists=True, dir_okay=False,
                                                      resolve_path=True),
              help="Microsoft app-only: a PEM with the certificate and its private key.")
@click.pass_obj
def set_smtp(
    app: App, host: str, port: int | None, security: str, username: str | None,
    password_stdin: bool, ca_file: str | None, auth_method: str, oauth_provider: str | None,
    client_id: str | None, tenant: str | None, authority: str | None,
    client_secret_stdin: bool, client_certificate: str | None,
) -> None:
    """Set the SMTP account (replaces the profile's previous one).

    \b
      printf '%s\\n' "$PASSWORD" | mailpage config set-smtp --host smtp.example.com \\
          --username ann@example.com --password-stdin
      mailpage config set-smtp --host smtp.office365.com --auth oauth2 \\
          --oauth-provider microsoft --client-id ID --tenant acme.com --username ann@acme.com
    """
    from mailpage_cli import credentials, settings  # noqa: PLC0415 - start-up time

    if security == "none" and username:
        raise ConfigError(
            "A login over an unencrypted connection would expose the password",
            "Use --security starttls or ssl, or leave out --username.",
        )
    values: dict[str, Any] = {"host": host.strip(), "port": port, "security": security,
                              "username": username, "ca_file": ca_file}
    if auth_method == "oauth2":
        values |= _oauth_settings(app, values, oauth_provider, client_id, tenant, authority,
                                  client_secret_stdin, client_certificate, password_stdin)
        settings.update(app.config_path, app.profile, "smtp", values, replace=True)
        app.output.summary(f"SMTP settings saved in {app.config_path} (profile {app.profile}):"
                           f" OAuth2 with {oauth_provider}, {values['oauth_flow']} flow.")
        if values["oauth_flow"] in ("device", "browser"):
            app.output.summary("Next, sign in once: `mailpage config login smtp`.")
        return
    if client_secret_stdin or client_certificate or oauth_provider:
        raise UsageError("OAuth2 options need --auth oauth2", "Add --auth oauth2.")
    if password_stdin and not username:
        raise UsageError("--password-stdin needs --username", "Give the login name too.")
    destination = credentials.smtp_destination(host.strip(), port, security, username or "",
                                               app.profile)
    stored = bool(username) and _store_secret(app, credentials.SMTP_PASSWORD, password_stdin,
                                              destination)
    settings.update(app.config_path, app.profile, "smtp", values, replace=True)
    app.output.summary(f"SMTP settings saved in {app.config_path} (profile {app.profile}).")
    if stored:
        app.output.summary(f"Password stored in the OS keyring, for {destination.where} only.")
    elif username:
        app.output.warn(f"no password stored for {destination.where} (a password stored for"
                        " another server is not sent there): pass --password-stdin, or set"
                        " MAILPAGE_SMTP_PASSWORD")


def _oauth_settings(
    app: App, values: dict[str, Any], provider: str | None, client_id: str | None,
    tenant: str | None, authority: str | None, secret_stdin: bool, certificate: str | None,
    password_stdin: bool,
) -> dict[str, Any]:
    """The OAuth2 settings of ``set-smtp``, the flow they imply, and the client secret
    stored for that client (read from stdin before anything is saved)."""
    from mailpage_cli import credentials, oauth, pipeline, settings  # noqa: PLC0415

    if password_stdin:
        raise UsageError("--password-stdin is for --auth password",
                         "OAuth2 uses no password: leave it out.")
    if not provider or not values["username"]:
        raise UsageError("--auth oauth2 needs --oauth-provider and --username (the mailbox)",
                         "Add both.")
    secret = sys.stdin.read().strip() if secret_stdin else ""
    if secret_stdin and not secret:
        raise UsageError("The client secret on stdin is empty", "Pipe it in.")
    found = oauth.read_client_json(secret) if secret else None
    if provider == "google":
        if certificate:
            raise UsageError("--client-certificate is for Microsoft",
                             "Google service accounts come as JSON on --client-secret-stdin.")
        installed = found.get("installed") if found else None
        flow = "service-account" if found and not installed else "browser"
        client_id = client_id or (installed or found or {}).get("client_id")
    else:
        flow = "client-credentials" if secret or certificate else "device"
    oauth_values = {"auth": "oauth2", "oauth_provider": provider, "oauth_flow": flow,
                    "client_id": client_id, "tenant": tenant, "authority": authority,
                    "client_certificate": certificate}
    resolved = settings.load(app.config_path, app.profile, {},
                             {f"smtp.{k}": v for k, v in (values | oauth_values).items() if v})
    client = pipeline.oauth_client(resolved)
    if flow == "client-credentials" and client.tenant in ("organizations", "common"):
        raise UsageError("App-only sign-in needs your tenant", "Add --tenant ID-or-domain.")
    if secret:
        destination = client.secret_destination()
        credentials.store(credentials.SMTP_CLIENT_SECRET, app.profile,
                          credentials.Secret(secret), destination)
        app.output.summary(f"Client secret stored in the OS keyring, for {destination.where}"
                           " only.")
    elif provider == "google" or (flow == "client-credentials" and not certificate):
        app.output.warn("no client secret stored: pass it with --client-secret-stdin, or set"
                        " MAILPAGE_SMTP_CLIENT_SECRET")
    return oauth_values


@config.command("set-sender")
@click.option("--name", help="Display name in From.")
@click.option("--address", help="From address.")
@click.option("--subject-prefix", help="Text for {prefix} in subjects, e.g. '[Wiki]'.")
@click.option("--reply-to", help="me (your Confluence address), none, or an address.")
@click.pass_obj
def set_sender(
    app: App, name: str | None, address: str | None, subject_prefix: str | None,
    reply_to: str | None,
) -> None:
    """Set who the mail is from.

    \b
      mailpage config set-sender --name 'Ann Example' --address ann@example.com --reply-to me
    """
    from mailpage_cli import settings  # noqa: PLC0415 - start-up time
    from mailpage_cli.recipients import (  # noqa: PLC0415
        ADDRESS_FORMS,
        REPLY_TO_FORMS,
        clean_text,
        parse_address,
    )

    changes: dict[str, object] = {}
    if name is not None:
        changes["name"] = clean_text(name)
    if address is not None:
        changes["address"] = parse_address(address, forms=ADDRESS_FORMS).address
    if subject_prefix is not None:
        changes["subject_prefix"] = clean_text(subject_prefix)
    if reply_to is not None:
        keyword = reply_to.strip().lower()
        changes["reply_to"] = keyword if keyword in ("me", "none") else (
            parse_address(reply_to, forms=REPLY_TO_FORMS).address)
    if not changes:
        raise UsageError("Nothing to set",
                         "Give --name, --address, --subject-prefix or --reply-to.")
    settings.update(app.config_path, app.profile, "sender", changes)
    app.output.summary(f"Sender settings saved in {app.config_path} (profile {app.profile}).")


@config.command("set-policy")
@click.option("--allowed-domain", "domains", multiple=True, metavar="DOMAIN",
              help="Only these domains (and subdomains) may receive (repeatable; '' clears).")
@click.option("--max-recipients", type=click.IntRange(min=1), help="Ask above this many [50].")
@click.option("--max-size", type=click.FloatRange(0, choices.MAX_SIZE_MB, min_open=True),
              metavar="MB",
              help="Largest message in MB [20].")
@click.pass_obj
def set_policy(
    app: App, domains: tuple[str, ...], max_recipients: int | None, max_size: float | None,
) -> None:
    """Set what may be sent.

    \b
      mailpage config set-policy --allowed-domain example.com --max-recipients 100
    """
    from mailpage_cli import settings  # noqa: PLC0415 - start-up time

    changes: dict[str, object] = {}
    if domains:
        try:
            changes["allowed_domains"] = settings.normalise_domains(domains) or None
        except TypeError as exc:
            raise UsageError(f"--allowed-domain must be {exc}", "Give a domain name.") from None
    if max_recipients is not None:
        changes["max_recipients"] = max_recipients
    if max_size is not None:
        changes["max_size_mb"] = max_size
    if not changes:
        raise UsageError("Nothing to set",
                         "Give --allowed-domain, --max-recipients or --max-size.")
    settings.update(app.config_path, app.profile, "policy", changes)
    app.output.summary(f"Policy saved in {app.config_path} (profile {app.profile}).")


@config.command("show")
@json_option("Print as JSON.")
@click.pass_obj
def show(app: App, as_json: bool) -> None:
    """Show every setting with its source; secrets only as where they come from.

    \b
      mailpage --profile work config show --json
    """
    from mailpage_cli import credentials  # noqa: PLC0415 - start-up time

    resolved = app.settings
    rows = {
        name: {"value": list(v.value) if isinstance(v.value, tuple) else v.value,
               "source": v.source}
        for name, v in resolved.values.items()
    }
    for kind in credentials.KINDS.values():
        state, source = credentials.describe(kind, app.env)
        rows[kind.setting] = {"value": state, "source": source}
    if as_json:
        app.output.json({"profile": app.profile, "config": str(app.config_path),
                         "settings": rows})
        return
    app.output.result(f"profile: {app.profile}\nconfig:  {app.config_path}")
    width = max(map(len, rows))
    for name, row in rows.items():
        value = row["value"]
        shown = ", ".join(value) if isinstance(value, list) else value
        shown = "" if shown is None else shown
        app.output.result(f"{name:<{width}}  {shown!s:<28}  ({row['source']})")


@config.command("forget")
@click.argument("what", type=click.Choice(choices.FORGET), default="all")
@click.pass_obj
def forget(app: App, what: str) -> None:
    """Remove stored secrets and settings of the profile (default: all of them).

    \b
      mailpage config forget smtp
    """
    from mailpage_cli import credentials, settings  # noqa: PLC0415 - start-up time

    kinds = [k for k in credentials.KINDS.values() if what in ("all", k.section)]
    for kind in kinds:
        try:
            if credentials.forget(kind, app.profile):
                app.output.summary(f"Removed the {kind.label} from the keyring.")
        except KeyringUnavailableError as exc:
            app.output.warn(str(exc))
    sections = settings.SECTIONS if what == "all" else (what,)
    changed = [s for s in sections if settings.update(app.config_path, app.profile, s, {},
                                                        replace=True)]
    if changed:
        app.output.summary(f"Removed {', '.join(changed)} settings of profile {app.profile}"
                           f" from {app.config_path}.")


def _terminate(signum: int, _frame: object) -> None:
    """SIGTERM (systemd, timeout, CI cancellation) stops the run as Ctrl-C does."""
    raise Terminated(signum)


def main() -> None:
    import signal  # noqa: PLC0415 - the installed command only; tests drive cli() directly

    signal.signal(signal.SIGTERM, _terminate)
    cli(prog_name="mailpage")
