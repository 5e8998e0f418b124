"""The config use cases: set the site, the SMTP account, the sender, the policy and the
organization directory of a profile; show it; forget it. They print nothing.

Each takes plain values, and a secret as a function that reads it (from stdin or a hidden
prompt; ``None`` when neither can give it), so that it is read only once the other values
are known to be good. Each writes one section of the profile and returns what it did, for the
command line to say. A guided setup calls them one at a time, checking each step with
:func:`mailpage_cli.logins.check`: the site, then the SMTP account, then the sender.

Settings and the keyring load here at start-up; the network parts only in the use cases that
reach a server.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mailpage_cli import credentials, settings
from mailpage_cli.errors import ConfigError, KeyringUnavailableError, UsageError
from mailpage_cli.headers import clean_text
from mailpage_cli.models import Secret

if TYPE_CHECKING:
    from mailpage_cli.credentials import SecretKind
    from mailpage_cli.pipeline import Conversation
    from mailpage_cli.sites import Site

Settings = settings.Settings  # what Profile.load gives, named for the command line
DEFAULT_PORTS = settings.DEFAULT_PORTS  # the SMTP port of each security, for a guided setup

ReadSecret = Callable[[str], str | None]
"""Reads the secret its label names: the text given (``""``: empty), ``None`` when nobody
can give one."""


@dataclass(frozen=True)
class Profile:
    """One profile of one config file: what the config commands change."""

    name: str
    path: Path

    @classmethod
    def find(cls, name: str, app_dir: str, flag: str | None,
             env: Mapping[str, str]) -> Profile:
        """The profile ``name`` of the file ``--config`` or ``MAILPAGE_CONFIG`` names, else
        the one in ``app_dir``."""
        return cls(name, settings.config_path(app_dir, flag, env))

    def load(self, env: Mapping[str, str], *, existing: bool = True) -> Settings:
        """Every setting, flag > environment > file > default; ``existing``: the profile must
        be in the file (a guided setup that is making it leaves that out)."""
        return settings.load(self.path, self.name, env, existing=existing)


def _as_if(profile: Profile, section: str, changes: Mapping[str, object]) -> Settings:
    """The settings as ``changes`` would make them, replacing the file's ``section`` (none of
    its old keys count) and the environment left out: checked before a secret is read."""
    flags = {f"{section}.{key}": value for key, value in changes.items() if value}
    return settings.load(profile.path, profile.name, {}, flags, replacing=section)


def _in_file(profile: Profile) -> Settings:
    """The settings as the file holds them, the environment left out."""
    return settings.load(profile.path, profile.name, {})


@dataclass(frozen=True)
class Kept:
    """A secret for the keyring: the destination it is bound to, and whether one was given
    and stored."""

    where: str
    stored: bool


@dataclass(frozen=True)
class SiteSaved:
    """What :func:`set_site` kept."""

    profile: Profile
    site: Site  # with the gateway and cloud id it is reached through, if any
    token: Kept
    from_page_url: bool = False  # a page's URL was given: the site is its start


@dataclass(frozen=True)
class SmtpSaved:
    """What :func:`set_smtp` kept."""

    profile: Profile
    oauth_provider: str | None  # None: a password login (or none)
    oauth_flow: str | None
    secret: Kept | None  # the password or OAuth client secret; None: the login needs none
    sign_in: bool  # a person must sign in once (`config login smtp`)


@dataclass(frozen=True)
class OAuth:
    """The OAuth2 options of an SMTP account; ``read_client_secret`` reads the client secret
    (or Google's JSON) when one is given."""

    provider: str | None
    client_id: str | None = None
    tenant: str | None = None
    authority: str | None = None
    certificate: str | None = None
    read_client_secret: Callable[[], str] | None = None


@dataclass(frozen=True)
class Shown:
    """What :func:`show` found."""

    profile: Profile
    rows: dict[str, dict[str, Any]]  # setting -> {"value": ..., "source": ...}


@dataclass(frozen=True)
class Forgotten:
    """What :func:`forget` removed."""

    profile: Profile
    # each secret removed (its label), or why the keyring could not be asked
    secrets: tuple[str | KeyringUnavailableError, ...]
    sections: tuple[str, ...]  # the sections removed from the file


def _secret(kind: SecretKind, read: ReadSecret) -> Secret | None:
    value = read(kind.label)
    if value is None:
        return None
    if not value:
        raise UsageError(f"The {kind.label} is empty", "Pass it on stdin or at the prompt.")
    return Secret(value)


def _keep(kind: SecretKind, profile: Profile, read: ReadSecret,
          destination: credentials.Destination) -> Kept:
    """Read the secret and keep it in the keyring, bound to ``destination``."""
    secret = _secret(kind, read)
    if secret:
        credentials.store(kind, profile.name, secret, destination)
    return Kept(destination.where, stored=secret is not None)


def set_site(
    profile: Profile, url: str, *, user: str | None, auth: str | None,
    deployment: str | None, address_book: str | None, api_gateway: str | None,
    read_token: ReadSecret, ui: Conversation,
) -> SiteSaved:
    """Keep the site (replacing the profile's previous one) and its token; the site is
    reached through a gateway when ``api_gateway`` names one, or when only Atlassian's
    gateway takes the token."""
    from mailpage_cli import logins  # noqa: PLC0415 - HTTP libraries load only here

    changes = {"url": url.strip().rstrip("/"), "user": user, "auth": auth,
               "deployment": deployment, "address_book": address_book}
    resolved = _as_if(profile, "confluence", changes)
    from_page_url = resolved.confluence.url != changes["url"]
    changes["url"] = resolved.confluence.url
    token = _secret(credentials.CONFLUENCE_TOKEN, read_token)
    site = logins.reach_site(resolved, token, api_gateway, ui)
    changes |= {"api_gateway": site.gateway or None, "cloud_id": site.cloud_id or None}
    destination = credentials.site_destination(site.url, profile.name, site.api)
    if token:
        credentials.store(credentials.CONFLUENCE_TOKEN, profile.name, token, destination)
    settings.update(profile.path, profile.name, "confluence", changes, replace=True)
    return SiteSaved(profile, site, Kept(destination.where, stored=token is not None),
                     from_page_url)


def set_site_token(profile: Profile, read_token: ReadSecret) -> Kept:
    """Keep a new token for the profile's site, as the config file holds it, changing
    nothing else (``config set-site --token-stdin`` without a URL)."""
    from mailpage_cli import sites  # noqa: PLC0415 - the parts load late

    site = _in_file(profile).confluence
    if not site.url:
        raise UsageError(f"Profile {profile.name} has no Confluence site yet, so its URL is"
                         " needed",
                         f"Set it with `{settings.mailpage_command(profile.name)} config"
                         " set-site URL --token-stdin`.")
    gateway = sites.gateway(site.api_gateway, site.auth)
    reached = sites.make_site(site.url, site.deployment, site.auth, site.user, gateway,
                              site.cloud_id)
    destination = credentials.site_destination(reached.url, profile.name, reached.api,
                                               in_file=True)
    kept = _keep(credentials.CONFLUENCE_TOKEN, profile, read_token, destination)
    if not kept.stored:
        raise UsageError("No token given, so nothing was changed", "Pass it with --token-stdin.")
    return kept


def set_smtp(
    profile: Profile, host: str, *, port: int | None, security: str, username: str | None,
    ca_file: str | None, read_password: ReadSecret, oauth: OAuth | None = None,
) -> SmtpSaved:
    """Keep the SMTP account (replacing the profile's previous one) and its password, or its
    OAuth2 client and the client secret."""
    if security == "none" and username:
        raise ConfigError(
            "A login over an unencrypted connection would expose the password",
            "Use --security starttls or ssl, or leave out --username.",
        )
    settings.check_smtp_host(host.strip(), settings.mailpage_command(profile.name))
    values: dict[str, Any] = {"host": host.strip(), "port": port, "security": security,
                              "username": username, "ca_file": ca_file}
    if oauth is not None:
        oauth_values, secret = _oauth_settings(profile, values, oauth)
        settings.update(profile.path, profile.name, "smtp", values | oauth_values,
                        replace=True)
        flow = oauth_values["oauth_flow"]
        return SmtpSaved(profile, oauth.provider, flow, secret,
                         sign_in=flow in ("device", "browser"))
    destination = credentials.smtp_destination(host.strip(), port, security, username or "",
                                               profile.name, ca_file)
    kept = (_keep(credentials.SMTP_PASSWORD, profile, read_password, destination)
            if username else None)
    settings.update(profile.path, profile.name, "smtp", values, replace=True)
    return SmtpSaved(profile, None, None, kept, sign_in=False)


def set_smtp_password(profile: Profile, read_password: ReadSecret) -> Kept:
    """Keep a new password for the profile's SMTP account, as the config file holds it,
    changing nothing else (``config set-smtp --password-stdin`` without ``--host``)."""
    smtp = _in_file(profile).smtp
    command = settings.mailpage_command(profile.name)
    if not smtp.host:
        raise UsageError(f"Profile {profile.name} has no SMTP account yet, so --host is needed",
                         f"Set it with `{command} config set-smtp --host HOST --username U"
                         " --password-stdin`.")
    if smtp.auth == "oauth2":
        raise UsageError(f"The SMTP account of profile {profile.name} signs in with OAuth2,"
                         " which uses no password",
                         f"Sign in again with `{command} config login smtp`.")
    if not smtp.username:
        raise UsageError(f"The SMTP account of profile {profile.name} has no username, so it"
                         " logs in with no password",
                         f"Give the login with `{command} config set-smtp --host {smtp.host}"
                         " --username U --password-stdin`.")
    destination = credentials.smtp_destination(smtp.host, smtp.port, smtp.security,
                                               smtp.username, profile.name, smtp.ca_file,
                                               in_file=True)
    kept = _keep(credentials.SMTP_PASSWORD, profile, read_password, destination)
    if not kept.stored:
        raise UsageError("No password given, so nothing was changed",
                         "Pass it with --password-stdin.")
    return kept


def _oauth_settings(profile: Profile, values: dict[str, Any],
                    options: OAuth) -> tuple[dict[str, Any], Kept | None]:
    """The OAuth2 settings, the flow they imply, and the client secret stored for that
    client (read before anything is saved)."""
    from mailpage_cli import oauth, pipeline  # noqa: PLC0415 - only for OAuth2

    provider, client_id, certificate = options.provider, options.client_id, options.certificate
    if not provider or not values["username"]:
        raise UsageError("--auth oauth2 needs --oauth-provider and --username (the mailbox)",
                         "Add both.")
    secret = options.read_client_secret() if options.read_client_secret else ""
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
                    "client_id": client_id, "tenant": options.tenant,
                    "authority": options.authority, "client_certificate": certificate}
    client = pipeline.oauth_client(_as_if(profile, "smtp", values | oauth_values))
    if flow == "client-credentials" and client.tenant in ("organizations", "common"):
        raise UsageError("App-only sign-in needs your tenant", "Add --tenant ID-or-domain.")
    if secret:
        destination = client.secret_destination()
        credentials.store(credentials.SMTP_CLIENT_SECRET, profile.name,
                          Secret(secret), destination)
        return oauth_values, Kept(destination.where, stored=True)
    if provider == "google" or (flow == "client-credentials" and not certificate):
        return oauth_values, Kept("", stored=False)  # one is needed, and none was given
    return oauth_values, None


def set_sender(profile: Profile, *, name: str | None = None, address: str | None = None,
               subject_prefix: str | None = None, reply_to: str | None = None) -> Profile:
    """Change who the mail is from (the values not given stay)."""
    from mailpage_cli.recipients import (  # noqa: PLC0415 - the parts load late
        ADDRESS_FORMS,
        REPLY_TO_FORMS,
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
        value = settings.FIELDS_BY_NAME["sender.reply_to"].parse(reply_to)
        changes["reply_to"] = value if value in ("me", "none") else (
            parse_address(value, forms=REPLY_TO_FORMS).address)
    if not changes:
        raise UsageError("Nothing to set",
                         "Give --name, --address, --subject-prefix or --reply-to.")
    settings.update(profile.path, profile.name, "sender", changes)
    return profile


def set_policy(profile: Profile, *, domains: tuple[str, ...] = (),
               max_recipients: int | None = None, max_size: float | None = None) -> Profile:
    """Change what may be sent: the allowed domains (``("",)`` clears them), the number of
    recipients above which a person is asked, the largest message in MB."""
    changes: dict[str, object] = {}
    if domains:
        changes["allowed_domains"] = settings.normalise_domains(domains) or None
    if max_recipients is not None:
        changes["max_recipients"] = max_recipients
    if max_size is not None:
        changes["max_size_mb"] = max_size
    if not changes:
        raise UsageError("Nothing to set",
                         "Give --allowed-domain, --max-recipients or --max-size.")
    settings.update(profile.path, profile.name, "policy", changes)
    return profile


def set_directory(profile: Profile, org_id: str, *, api: str | None,
                  read_key: ReadSecret) -> Kept:
    """Keep the organization directory (replacing the previous one) and its admin API key."""
    changes = {"org_id": org_id.strip(), "api": api}
    resolved = _as_if(profile, "directory", changes)
    destination = credentials.directory_destination(resolved["directory.api"],
                                                    resolved["directory.org_id"], profile.name)
    kept = _keep(credentials.ADMIN_KEY, profile, read_key, destination)
    settings.update(profile.path, profile.name, "directory", changes, replace=True)
    return kept


def show(profile: Profile, env: Mapping[str, str]) -> Shown:
    """Every setting with its source; each secret only as where it would come from."""
    resolved = profile.load(env)
    rows = {
        name: {"value": list(v.value) if isinstance(v.value, tuple) else v.value,
               "source": v.source}
        for name, v in resolved.values.items()
    }
    for kind in credentials.KINDS.values():
        rows[kind.setting] = credentials.describe(kind, profile.name, env)
    return Shown(profile, rows)


def _forgettable(what: str) -> tuple[tuple[credentials.SecretKind, ...], tuple[str, ...]]:
    """The secrets and the sections ``forget`` removes for ``what`` (a section, or all)."""
    kinds = tuple(k for k in credentials.KINDS.values() if what in ("all", k.section))
    return kinds, settings.SECTIONS if what == "all" else (what,)


def holds(profile: Profile, what: str = "all") -> bool:
    """Whether the profile has anything :func:`forget` would remove (``True`` when the
    keyring cannot tell)."""
    settings.require_profile(profile.path, profile.name)
    kinds, sections = _forgettable(what)
    if set(sections) & set(settings.profile_sections(profile.path, profile.name)):
        return True
    return any(credentials.describe(kind, profile.name, {})["stored"] is not False
               for kind in kinds)


def profiles(profile: Profile) -> tuple[str, ...]:
    """The profiles in ``profile``'s config file, sorted."""
    return settings.profile_names(profile.path)


def forget(profile: Profile, what: str = "all") -> Forgotten:
    """Remove the stored secrets and the settings of one section of the profile, or all."""
    settings.require_profile(profile.path, profile.name)
    secrets: list[str | KeyringUnavailableError] = []
    kinds, sections = _forgettable(what)
    for kind in kinds:
        try:
            if credentials.forget(kind, profile.name):
                secrets.append(kind.label)
        except KeyringUnavailableError as exc:
            secrets.append(exc)
    removed = settings.remove_sections(profile.path, profile.name, sections)
    return Forgotten(profile, tuple(secrets), removed)
