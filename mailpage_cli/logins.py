"""The logins, proved and set up: ``config check`` (Confluence, SMTP, the sender, the policy),
the site a token reaches (directly, or through Atlassian's API gateway), and the OAuth2
sign-in to SMTP. Built on :class:`pipeline.Run`; prints nothing."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from mailpage_cli import confluence, downloads, headers, mailer, sites
from mailpage_cli.environment import Environment
from mailpage_cli.errors import AuthError, ConfigError, ExitCode, MailpageError
from mailpage_cli.models import Secret
from mailpage_cli.pipeline import Conversation, Run, oauth_client
from mailpage_cli.settings import Settings


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str
    exit_code: ExitCode = ExitCode.OK
    email: str | None = None  # confluence: the user's address, when Confluence shows it


def check(settings: Settings, environment: Environment, ui: Conversation,
          only: Sequence[str] = ("confluence", "smtp", "sender", "policy")) -> list[Check]:
    """Prove the Confluence login and the SMTP login (EHLO, TLS, AUTH, QUIT), that there is a
    sender, and show the policy; or only the checks ``only`` names. Sends nothing."""
    run = Run(settings, environment, ui)
    email: str | None = None

    def confluence_login() -> str:
        nonlocal email
        if not settings.confluence.url:
            return "not configured (local exports only)"
        with ui.step("log in to Confluence"):
            me = run.confluence.me()
        email = me.email
        site = run.confluence.site
        return f"logged in to {site.url} ({site.deployment}) as {me.display_name}"

    def smtp_login() -> str:
        account = run.smtp_account()
        with ui.step("log in to SMTP"):
            mailer.check(account)
        run.offer_to_keep_password()
        login = "logged in" if account.username else "no login configured"
        if account.token:
            login = f"logged in with OAuth2 as {account.username}"
        return f"{account.host}:{account.port} ({account.security}), {login}"

    def sender() -> str:
        from email.utils import formataddr  # noqa: PLC0415 - only for this line

        address = run.sender_address()
        return f"From: {formataddr((headers.clean_text(settings.sender.name or ''), address))}"

    def policy() -> str:
        rules = settings.policy
        domains = ", ".join(rules.allowed_domains) or "any domain"
        return (f"to {domains}; asks above {rules.max_recipients} recipients; messages up to"
                f" {rules.max_size_mb:g} MB")

    results = []
    for name, attempt in (("confluence", confluence_login), ("smtp", smtp_login),
                          ("sender", sender), ("policy", policy)):
        if name not in only:
            continue
        try:
            results.append(Check(name, ok=True, detail=attempt(),
                                 email=email if name == "confluence" else None))
        except MailpageError as exc:
            results.append(Check(name, ok=False, detail=str(exc), exit_code=exc.exit_code))
    return results


def reach_site(settings: Settings, token: Secret | None, gateway: str | None,
               ui: Conversation) -> sites.Site:
    """The site as ``set-site`` keeps it: through a gateway when asked (``gateway``), or when
    the site refuses the token and Atlassian's gateway takes it (a scoped token, a service
    account's)."""
    config = settings.confluence
    site = sites.make_site(config.url, config.deployment, config.auth, config.user)
    if gateway := sites.gateway(gateway, config.auth):  # the flag's: set-site replaces the file's
        return _through(site, gateway)
    if token is not None and site.cloud:
        with ui.step("check the token"):
            if _takes(site, token) is False:
                through = _through(site, sites.GATEWAY)
                if _takes(through, token):
                    return through
    return site


def _through(site: sites.Site, gateway: str) -> sites.Site:
    cloud_id = confluence.cloud_id_of(site.url, downloads.bare_session())
    return sites.make_site(site.url, site.deployment, site.auth, site.user, gateway,
                                cloud_id)


def _takes(site: sites.Site, token: Secret) -> bool | None:
    """Whether the site (or gateway) accepts ``token``; ``None`` when it cannot be told."""
    try:
        confluence.Client(site, token, attempts=1).me()
    except AuthError:
        return False
    except MailpageError:
        return None
    return True


def login_smtp(settings: Settings, environment: Environment, ui: Conversation) -> str:
    """Sign in to the SMTP account's OAuth2 provider now (keeping the refresh token), and
    prove the token with an SMTP login; send nothing."""
    if settings.smtp.auth != "oauth2":
        raise ConfigError(
            f"The SMTP account of profile {settings.profile} signs in with a password",
            "Switch it to OAuth2 with `mailpage config set-smtp --auth oauth2 ...` first.",
        )
    account = Run(settings, environment, ui).smtp_account(sign_in=True)
    with ui.step("log in to SMTP"):
        mailer.check(account)
    client = oauth_client(settings)
    kept = " (the refresh token is in the OS keyring)" if client.interactive else ""
    return (f"Signed in to {client.provider.title()} as {account.username}{kept}; the SMTP"
            f" login at {account.host}:{account.port} works.")

