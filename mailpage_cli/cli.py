"""The command line: every command parses, calls one use case (``pipeline``, ``configure``,
``logins``) and prints. The frame they run in (global options, errors to exit codes, the
run's :class:`Environment`) is ``app``.

The use cases, and the heavy libraries behind them, load inside the commands that need them,
so that ``mailpage --help`` starts fast.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

import click

from mailpage_cli import __version__, choices
from mailpage_cli.app import (
    CONTEXT,
    App,
    MailpageGroup,
    global_options,
    json_option,
    read_environment,
)
from mailpage_cli.environment import Environment
from mailpage_cli.errors import (
    ExitCode,
    KeyringUnavailableError,
    Terminated,
    UsageError,
)
from mailpage_cli.output import REPORT_LABELS, send_mark, send_report, send_summary
from mailpage_cli.wording import count

if TYPE_CHECKING:
    from mailpage_cli.choices import ExternalImages
    from mailpage_cli.configure import Profile, ReadSecret
    from mailpage_cli.logins import Check
    from mailpage_cli.models import SendResult

@click.group(cls=MailpageGroup, context_settings=CONTEXT,
             epilog="These options may come after the command too; the later one wins.")
@global_options
@click.version_option(__version__, prog_name="mailpage")
@click.pass_context
def cli(
    ctx: click.Context, profile: str, config_flag: str | None, quiet: bool, verbose: bool,
    debug: bool, no_input: bool, no_color: bool,
) -> None:
    """Send Confluence pages as e-mail.

    \b
      mailpage send 'ENG:Release notes 2.4' --to team@example.com
      mailpage send page.html --to ann@example.com --save message.eml
      mailpage config set-smtp --host smtp.example.com --username ann --password-stdin
    """
    # A caller (a test) may hand in the environment: ``cli.main(obj=Environment(...))``.
    environment = ctx.obj if isinstance(ctx.obj, Environment) else read_environment()
    ctx.obj = App(environment, profile, config_flag, quiet=quiet, verbose=verbose,
                  debug=debug, no_input=no_input, no_color=no_color)


def _read_note(app: App, note: str | None, note_file: str | None) -> str | None:
    if note is not None and note_file is not None:
        raise UsageError("--message and --message-file exclude each other", "Give one of them.")
    if note_file is None:
        return note
    if note_file == "-":
        return app.environment.read_stdin()
    try:
        return Path(note_file).expanduser().read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"Cannot read the message file {note_file} ({exc})",
                         "Check the path (a UTF-8 Markdown file).") from exc


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
    out.summary(send_summary(result, save), send_mark(result))
    sys.exit(result.exit_code)


def send_options(command: Any) -> Any:
    """The options ``send`` and ``digest`` share: recipients, note, and what to do."""
    for option in reversed([
        click.option("--to", multiple=True, metavar="R",
                     help="Recipient (repeatable; lists, file:PATH, me, user:, group:, watchers)."),
        click.option("--cc", multiple=True, metavar="R", help="Copy recipient (repeatable)."),
        click.option("--bcc", multiple=True, metavar="R",
                     help="Blind copy (never in any header)."),
        click.option("--subject", metavar="TEXT",
                     help="Subject; {title} {space} {version} {prefix} ({version}: pages)."),
        click.option("--message", "note", metavar="TEXT",
                     help="A note in Markdown, above the page (or the digest's list)."),
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


def _common(app: App, values: dict[str, Any]) -> dict[str, Any]:
    if values["as_json"] and values["save"] == "-":
        raise UsageError("--json and --save - would both write to stdout", "Save to a file.")
    from mailpage_cli import pipeline

    pipeline.one_stdin_reader(values["note_file"], (*values["to"], *values["cc"], *values["bcc"]))
    note = _read_note(app, values.pop("note"), values.pop("note_file"))
    values.pop("as_json")
    return {**values, "note": note}


@cli.command()
@click.argument("page")
@send_options
@click.option("--attachments", is_flag=True, help="Attach all the page's attachments.")
@click.option("--attach", multiple=True, metavar="GLOB", help="Attach those matching GLOB.")
@click.option("--attach-file", multiple=True, metavar="PATH",
              help="Attach a local file too (repeatable).")
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
    from mailpage_cli import pipeline

    as_json, save = values["as_json"], values["save"]
    options = pipeline.SendOptions(**_common(app, values))
    _report(app, pipeline.send(app.settings, app.environment, options, app.output), as_json,
            save)


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
    from mailpage_cli import pipeline

    as_json, save = values["as_json"], values["save"]
    options = pipeline.DigestOptions(**_common(app, values))
    _report(app, pipeline.digest(app.settings, app.environment, options, app.output), as_json,
            save)


@cli.command()
@click.argument("page")
@click.option("--html", "html_path", metavar="FILE",
              help="Write browser-viewable HTML (images inline) to FILE (- = stdout).")
@click.option("--text", is_flag=True, help="Print the plain-text alternative.")
@click.option("--message", "note", metavar="TEXT", help="A personal note, as send would show it.")
@click.option("--message-file", "note_file", metavar="PATH",
              help="The note from a file (- = stdin).")
@click.option("--external-images", type=click.Choice(choices.EXTERNAL_IMAGES), default="link",
              show_default=True, help="Images from other sites, as send would treat them.")
@click.option("--open", "open_it", is_flag=True, help="Open the --html FILE in a browser.")
@click.pass_obj
def preview(app: App, page: str, html_path: str | None, text: bool, note: str | None,
            note_file: str | None, external_images: ExternalImages, open_it: bool) -> None:
    """Render PAGE as the mail would show it, without sending.

    \b
      mailpage preview 98487 --html /tmp/page.html --open
      mailpage preview export/Release-notes_98487.html --text | less
    """
    from mailpage_cli import pipeline

    if open_it and html_path in (None, "-"):
        raise UsageError("--open opens the file --html writes", "Add --html FILE.")
    composed = pipeline.preview(app.settings, app.environment, page,
                                _read_note(app, note, note_file), app.output, external_images)
    for warning in composed.warnings:
        app.output.warn(warning)
    if html_path:
        html = pipeline.browser_html(composed)
        if html_path == "-":
            app.output.raw(html.encode())
        else:
            pipeline.write_private_file(Path(html_path), html.encode(), "--html")
            app.output.summary(f"Wrote {html_path}; open it in a browser.")
        if open_it:
            import webbrowser

            if not webbrowser.open(Path(html_path).resolve().as_uri()):
                app.output.warn(f"no browser could be started: open {html_path} yourself")
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
    from mailpage_cli import pipeline

    composed = pipeline.preview(app.settings, app.environment, page, None, app.output)
    findings = composed.findings
    errors = sum(f.severity == "error" for f in findings)
    if as_json:
        app.output.json({"page": {"id": composed.page.id, "title": composed.page.title},
                         "errors": errors, "warnings": len(findings) - errors,
                         "findings": [f.as_dict() for f in findings]})
    else:
        for finding in findings:
            app.output.result(f"{finding.severity}: [{finding.rule}] {finding.message}")
        app.output.summary(f"{composed.page.title!r}: {count(errors, 'error')},"
                           f" {count(len(findings) - errors, 'warning')}.")
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
    from mailpage_cli import pipeline

    found, warnings = pipeline.resolve_recipients(app.settings, app.environment, specs, page,
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
    app.output.summary(f"{count(len(rows), 'recipient')}.")


@cli.group()
def config() -> None:
    """Show and change settings; store secrets in the OS keyring.

    \b
      mailpage config set-smtp --host smtp.example.com --username ann --password-stdin
      mailpage config set-sender --name 'Ann Example' --address ann@example.com
      mailpage config show
    """


def _secret_reader(app: App, from_stdin: bool) -> ReadSecret:
    """Reads a secret from stdin's next line, or at a hidden prompt typed twice; ``None``
    off a TTY or with ``--no-input``. ``--password-stdin`` and the like at a terminal get the
    hidden prompt too: a secret typed there is not shown."""
    def read(label: str) -> str | None:
        if from_stdin and _piped(app, label):
            return app.environment.stdin.readline().rstrip("\r\n")
        return app.output.new_secret(label)

    return read


def _piped(app: App, label: str) -> bool:
    """Whether to read the secret ``label`` from stdin rather than at a hidden prompt: stdin
    is not a terminal. At a terminal with ``--no-input`` it is refused: what is typed there
    would show."""
    if not app.environment.stdin_isatty:
        return True
    if app.output.interactive:
        return False
    raise UsageError(f"The {label} would be typed in clear at the terminal: --no-input"
                     " forbids the hidden prompt",
                     "Pipe it in (printf '%s\\n' \"$SECRET\" | mailpage …), or leave out"
                     " --no-input to be asked.")


def _saved(app: App, what: str, profile: Profile, detail: str = "") -> None:
    app.output.summary(f"{what} saved in {profile.path} (profile {profile.name}){detail}.")


@config.command("set-site")
@click.argument("url", required=False)
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
    app: App, url: str | None, user: str | None, auth: str | None, deployment: str | None,
    token_stdin: bool, address_book: str | None, api_gateway: str | None,
) -> None:
    """Set the Confluence site and store its token in the keyring; without URL, store only a
    new token for the profile's site.

    \b
      printf '%s\\n' "$API_TOKEN" | mailpage config set-site https://acme.atlassian.net \\
          --user ann@acme.com --token-stdin
      printf '%s\\n' "$PAT" | mailpage config set-site https://wiki.example.com/confluence \\
          --token-stdin
      printf '%s\\n' "$NEW_TOKEN" | mailpage config set-site --token-stdin
    """
    from mailpage_cli import configure

    if url is None:
        if user or auth or deployment or address_book or api_gateway:
            raise UsageError("Setting the site needs its URL",
                             "Give the URL, or only --token-stdin to change the token.")
        kept = configure.set_site_token(app.config, _secret_reader(app, token_stdin))
        app.output.summary(f"Token stored in the OS keyring, for {kept.where} only (profile"
                           f" {app.config.name}; its settings are unchanged).")
        return

    saved = configure.set_site(
        app.config, url, user=user, auth=auth, deployment=deployment,
        address_book=address_book, api_gateway=api_gateway,
        read_token=_secret_reader(app, token_stdin), ui=app.output)
    site, token = saved.site, saved.token
    if saved.from_page_url:
        app.output.summary(f"Note: that is a page URL; the site is {site.url}.")
    through = (f", through the API gateway {site.gateway} (cloud id {site.cloud_id})"
               if site.gateway else "")
    _saved(app, "Confluence site", saved.profile,
           f": {site.deployment}, {site.auth} auth{through}")
    if token.stored:
        app.output.summary(f"Token stored in the OS keyring, for {token.where} only.")
    else:
        app.output.warn(f"no token stored for {token.where} (a token stored for another"
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
    from mailpage_cli import configure

    key = configure.set_directory(app.config, org_id, api=api,
                                  read_key=_secret_reader(app, key_stdin))
    _saved(app, "Organization directory", app.config)
    if key.stored:
        app.output.summary(f"Admin API key stored in the OS keyring, for {key.where} only.")
    else:
        app.output.warn("no admin API key stored: pass --key-stdin, or set"
                        " MAILPAGE_ATLASSIAN_ADMIN_KEY")


@config.command("check")
@json_option("Print the checks as JSON: [{name, ok, detail, exit}].")
@click.pass_obj
def check(app: App, as_json: bool) -> None:
    """Prove the Confluence and SMTP logins (EHLO, TLS, AUTH, QUIT), and that there is a
    sender; send nothing. The exit code is the first failure's.

    \b
      mailpage config check && echo ready
      mailpage --profile work config check --json
    """
    from mailpage_cli import logins

    _checked(app, logins.check(app.settings, app.environment, app.output), as_json)


def _checked(app: App, results: list[Check], as_json: bool = False) -> NoReturn:
    """Each check's line (or one JSON object of them all), then the first failure's exit."""
    failed = [r.exit_code for r in results if not r.ok]
    code = failed[0] if failed else ExitCode.OK
    if as_json:
        app.output.json({"status": "failed" if failed else "ok", "exit": int(code),
                         "checks": [{"name": r.name, "ok": r.ok, "detail": r.detail,
                                     "exit": int(r.exit_code)} for r in results]})
    else:
        for r in results:
            app.output.check(r.name, r.ok, r.detail)
    sys.exit(code)


@config.command("init")
@click.pass_obj
def init(app: App) -> None:
    """Set up the profile at a terminal, step by step: the Confluence site and its token, the
    SMTP account, the sender; each login is checked as it is given, then everything.

    \b
      mailpage config init
      mailpage --profile work config init
    """
    from mailpage_cli import guide

    _checked(app, guide.init(app.config, app.environment, app.output))


@config.command("login")
@click.argument("what", type=click.Choice(["smtp"]))
@click.pass_obj
def login(app: App, what: str) -> None:  # noqa: ARG001 - smtp is the one there is
    """Sign in to the mail provider (OAuth2) and keep the refresh token in the keyring.

    \b
      mailpage config login smtp
    """
    from mailpage_cli import logins

    app.output.summary(logins.login_smtp(app.settings, app.environment, app.output))


@config.command("set-smtp")
@click.option("--host", help="SMTP server host name (without it: --password-stdin alone"
              " stores a new password for the profile's account).")
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
    app: App, host: str | None, port: int | None, security: str, username: str | None,
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
      printf '%s\\n' "$NEW_PASSWORD" | mailpage config set-smtp --password-stdin
    """
    from mailpage_cli import configure

    if host is None:
        _set_smtp_password(app, password_stdin)
        return

    oauth = None
    if auth_method == "oauth2":
        if password_stdin:
            raise UsageError("--password-stdin is for --auth password",
                             "OAuth2 uses no password: leave it out.")
        oauth = configure.OAuth(oauth_provider, client_id, tenant, authority,
                                client_certificate,
                                _read_client_secret(app) if client_secret_stdin else None)
    elif client_secret_stdin or client_certificate or oauth_provider:
        raise UsageError("OAuth2 options need --auth oauth2", "Add --auth oauth2.")
    elif password_stdin and not username:
        raise UsageError("--password-stdin needs --username", "Give the login name too.")
    saved = configure.set_smtp(app.config, host, port=port, security=security,
                               username=username, ca_file=ca_file,
                               read_password=_secret_reader(app, password_stdin), oauth=oauth)
    secret = saved.secret
    if saved.oauth_flow:
        if secret and secret.stored:
            app.output.summary(f"Client secret stored in the OS keyring, for {secret.where}"
                               " only.")
        elif secret:
            app.output.warn("no client secret stored: pass it with --client-secret-stdin, or"
                            " set MAILPAGE_SMTP_CLIENT_SECRET")
        _saved(app, "SMTP settings", saved.profile,
               f": OAuth2 with {saved.oauth_provider}, {saved.oauth_flow} flow")
        if saved.sign_in:
            app.output.summary("Next, sign in once: `mailpage config login smtp`.")
        return
    _saved(app, "SMTP settings", saved.profile)
    if secret and secret.stored:
        app.output.summary(f"Password stored in the OS keyring, for {secret.where} only.")
    elif secret:
        app.output.warn(f"no password stored for {secret.where} (a password stored for"
                        " another server is not sent there): pass --password-stdin, or set"
                        " MAILPAGE_SMTP_PASSWORD")


def _set_smtp_password(app: App, password_stdin: bool) -> None:
    """``config set-smtp`` without --host: a new password for the profile's account, the
    only option given."""
    from mailpage_cli import configure

    ctx = click.get_current_context()
    flags = {param.name: param.opts[0] for param in ctx.command.params}
    given = [flags[name] for name in ctx.params if name not in ("host", "password_stdin")
             and ctx.get_parameter_source(name) is not click.core.ParameterSource.DEFAULT]
    if given:
        raise UsageError(f"Setting the SMTP account ({', '.join(given)}) needs --host",
                         "Give --host too, or only --password-stdin to change the password.")
    kept = configure.set_smtp_password(app.config, _secret_reader(app, password_stdin))
    app.output.summary(f"Password stored in the OS keyring, for {kept.where} only (profile"
                       f" {app.config.name}; its settings are unchanged).")


def _read_client_secret(app: App) -> Callable[[], str]:
    label = "OAuth client secret"

    def read() -> str:
        if _piped(app, label):
            secret = app.environment.read_stdin().strip()
        else:
            secret = (app.output.new_secret(label) or "").strip()
        if not secret:
            raise UsageError("The client secret is empty",
                             "Pipe it in (a JSON file too), or type it at the prompt.")
        return secret

    return read


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
    from mailpage_cli import configure

    profile = configure.set_sender(app.config, name=name, address=address,
                                   subject_prefix=subject_prefix, reply_to=reply_to)
    _saved(app, "Sender settings", profile)


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
    from mailpage_cli import configure

    profile = configure.set_policy(app.config, domains=domains, max_recipients=max_recipients,
                                   max_size=max_size)
    _saved(app, "Policy", profile)


@config.command("show")
@json_option("Print as JSON.")
@click.pass_obj
def show(app: App, as_json: bool) -> None:
    """Show every setting with its source; secrets only as where they come from.

    \b
      mailpage --profile work config show --json
    """
    from mailpage_cli import configure

    shown = configure.show(app.config, app.env)
    profile, rows = shown.profile, shown.rows
    if as_json:
        app.output.json({"profile": profile.name, "config": str(profile.path),
                         "settings": rows})
        return
    app.output.result(f"profile: {profile.name}\nconfig:  {profile.path}")
    width = max(map(len, rows))
    for name, row in rows.items():
        value = row["value"]
        text = ", ".join(value) if isinstance(value, list) else value
        text = "" if text is None else text
        app.output.result(f"{name:<{width}}  {text!s:<28}  ({row['source']})")


@config.command("forget")
@click.argument("what", type=click.Choice(choices.FORGET), default="all")
@click.option("-y", "--yes", is_flag=True, help="Do not ask before removing all of them.")
@click.pass_obj
def forget(app: App, what: str, yes: bool) -> None:
    """Remove stored secrets and settings of the profile (default: all of them, after a
    question at a terminal).

    \b
      mailpage config forget smtp
      mailpage --profile old config forget --yes
    """
    from mailpage_cli import configure

    profile = app.config
    if not configure.holds(profile, what):
        app.output.summary(f"Nothing to forget for profile {profile.name}.")
        return
    if what == "all" and not yes and app.output.interactive and not app.output.confirm(
            f"Remove every setting and secret of profile {profile.name}?"):
        app.output.summary("Nothing removed.")
        return
    forgotten = configure.forget(profile, what)
    for secret in forgotten.secrets:
        if isinstance(secret, KeyringUnavailableError):
            app.output.warn(str(secret))
        else:
            app.output.summary(f"Removed the {secret} from the keyring.")
    if forgotten.sections:
        app.output.summary(f"Removed {', '.join(forgotten.sections)} settings of profile"
                           f" {forgotten.profile.name} from {forgotten.profile.path}.")


@config.command("profiles")
@json_option("Print as JSON.")
@click.pass_obj
def profiles(app: App, as_json: bool) -> None:
    """List the profiles in the config file; * marks the one this run uses.

    \b
      mailpage config profiles
      mailpage --profile work config profiles --json
    """
    from mailpage_cli import configure

    profile = app.config
    names = configure.profiles(profile)
    if as_json:
        app.output.json({"config": str(profile.path), "active": profile.name,
                         "profiles": list(names)})
        return
    for name in names:
        app.output.result(f"{'*' if name == profile.name else ' '} {name}")
    if profile.name not in names:
        app.output.summary(f"No profile {profile.name} in {profile.path} yet (the one this run"
                           " uses); `config set-*` makes it.")


@config.command("path")
@click.pass_obj
def path(app: App) -> None:
    """Print the config file this run uses (--config, else $MAILPAGE_CONFIG, else the user
    config dir).

    \b
      mailpage config path
      "$EDITOR" "$(mailpage config path)"
    """
    profile = app.config
    app.output.result(str(profile.path))
    if not profile.path.exists():
        app.output.summary("(It does not exist yet: `mailpage config set-*` makes it.)")


def _terminate(signum: int, _frame: object) -> None:
    """SIGTERM (systemd, timeout, CI cancellation) stops the run as Ctrl-C does."""
    raise Terminated(signum)


def main() -> None:
    import signal

    signal.signal(signal.SIGTERM, _terminate)
    cli(prog_name="mailpage")
