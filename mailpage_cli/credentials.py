"""Secrets: environment > OS keyring > hidden prompt (TTY only) > an error naming the fix.

The keyring is reached only through the ``keyring`` API (so ``PYTHON_KEYRING_BACKEND``
applies), under service ``mailpage`` and usernames ``PROFILE/smtp`` and ``PROFILE/confluence``.
A secret travels as :class:`models.Secret`, whose ``repr`` and ``str`` never show it.

A stored secret is bound to its destination: the keyring holds it together with the site
(scheme, host, port, path) or the SMTP account (username, host, port) it was stored for, and
it is handed out only for that destination. Whoever changes the config file (or the
environment) to point elsewhere gets an error, not the secret.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from mailpage_cli import settings
from mailpage_cli.errors import ConfigError, KeyringUnavailableError
from mailpage_cli.models import Secret

if TYPE_CHECKING:
    from pathlib import Path
    from types import ModuleType

log = logging.getLogger(__name__)

SERVICE = "mailpage"


@dataclass(frozen=True)
class SecretKind:
    """What a secret is called, where it may come from, and the command that stores it."""

    name: str
    label: str
    setting: str  # its row in ``config show``
    env: str | None  # None: the keyring only (a refresh token must be replaced where it is)
    stdin_option: str | None  # the config command's option that reads it; None: a sign-in

    @property
    def section(self) -> str:
        return self.setting.partition(".")[0]


SMTP_PASSWORD = SecretKind(
    "smtp", "SMTP password", "smtp.password", "MAILPAGE_SMTP_PASSWORD",
    "--password-stdin",
)
SMTP_CLIENT_SECRET = SecretKind(
    "smtp-client", "OAuth client secret", "smtp.client_secret", "MAILPAGE_SMTP_CLIENT_SECRET",
    "--client-secret-stdin",
)
SMTP_REFRESH_TOKEN = SecretKind(
    "smtp-oauth", "OAuth refresh token", "smtp.refresh_token", None,
    None,
)
CONFLUENCE_TOKEN = SecretKind(
    "confluence", "Confluence token", "confluence.token", "MAILPAGE_CONFLUENCE_TOKEN",
    "--token-stdin",
)
ADMIN_KEY = SecretKind(
    "atlassian-admin", "Atlassian organization admin API key", "directory.admin_key",
    "MAILPAGE_ATLASSIAN_ADMIN_KEY", "--key-stdin",
)
KINDS = {kind.name: kind for kind in (SMTP_PASSWORD, SMTP_CLIENT_SECRET, SMTP_REFRESH_TOKEN,
                                      CONFLUENCE_TOKEN, ADMIN_KEY)}


def directory_destination(api: str, org_id: str, profile: str) -> Destination:
    return Destination(f"{api.rstrip('/')}/admin orgs/{org_id}",
                       f"{settings.mailpage_command(profile)} config set-directory {org_id}"
                       " --key-stdin")

Prompt = Callable[[str], str]


@dataclass(frozen=True)
class Destination:
    """Where a secret may go (``where``), and the command that stores one for it."""

    where: str
    store_command: str


def site_destination(url: str, profile: str, api: str = "", *,
                     in_file: bool = False) -> Destination:
    """The site at ``url``, reached at ``api`` (a gateway's address, when not the site's).
    ``in_file``: it is the profile's site, as the config file holds it, so the short
    ``config set-site --token-stdin`` stores a token for it (keeping its other settings)."""
    parts = urlsplit(api or url)
    port = parts.port or {"https": 443, "http": 80}.get(parts.scheme.lower(), 0)
    where = (f"{parts.scheme.lower()}://{(parts.hostname or '').lower()}:{port}"
             f"{parts.path.rstrip('/')}")
    site = "" if in_file else f" {url}"
    return Destination(
        where, f"{settings.mailpage_command(profile)} config set-site{site} --token-stdin")


def smtp_destination(host: str, port: int | None, security: str, username: str,
                     profile: str, ca_file: Path | str | None = None, *,
                     in_file: bool = False) -> Destination:
    """The SMTP account, its port the security's default when none is set (so that a
    password stored without ``--port`` is the one a send uses). ``in_file``: it is the
    profile's account, as the config file holds it, so the short ``config set-smtp
    --password-stdin`` stores a password for it; else the command sets every option."""
    port = port or settings.DEFAULT_PORTS.get(security)
    where = f"smtp://{host.lower()}:{port or 'default'} as {username}"
    command = (settings.smtp_password_command(profile) if in_file else
               settings.smtp_command(host, port, security, username, profile, ca_file,
                                     "--password-stdin"))
    return Destination(where, command)


def _pack(secret: Secret, destination: Destination) -> str:
    return json.dumps({"mailpage": 1, "for": destination.where, "secret": secret.reveal()})


def _unpack(stored: str) -> tuple[str, str | None]:
    """The secret and the destination it was stored for (``None``: stored unbound, by an
    older mailpage or by hand)."""
    try:
        data = json.loads(stored)
    except ValueError:
        return stored, None
    if isinstance(data, dict) and isinstance(data.get("secret"), str):
        bound = data.get("for")
        return data["secret"], bound if isinstance(bound, str) else None
    return stored, None


def _keyring() -> ModuleType:
    import keyring  # noqa: PLC0415 - loads its backends; only commands that need a secret pay

    return keyring


def _account(kind: SecretKind, profile: str) -> str:
    return f"{profile}/{kind.name}"


def _unavailable(kind: SecretKind, exc: Exception | str, *, storing: bool = False,
                 ) -> KeyringUnavailableError:
    """No backend works (``exc``: what the backend raised, for --debug only)."""
    if isinstance(exc, Exception):
        log.debug("keyring: %s", type(exc).__name__)  # its text is the backend's: not logged
        reason = ""
    else:
        reason = f" ({exc})"
    install = "install a keyring backend (see PYTHON_KEYRING_BACKEND)"
    if storing:
        option = kind.stdin_option
        instead = (f"Run the command again without {option} and set {kind.env} in the"
                   f" environment, or {install}" if kind.env and option else install.capitalize())
        return KeyringUnavailableError(
            f"No usable OS keyring to keep the {kind.label}{reason}; nothing was saved",
            f"{instead}.")
    instead = f"Set {kind.env} in the environment instead, or {install}" if kind.env else (
        install.capitalize())
    return KeyringUnavailableError(
        f"No usable OS keyring to read the {kind.label} from{reason}", f"{instead}.")


def from_keyring(kind: SecretKind, profile: str, destination: Destination) -> Secret | None:
    """The secret stored for ``destination``, ``None`` if there is none; raises when no
    backend works, and when the one stored was stored for somewhere else."""
    try:
        stored = _keyring().get_password(SERVICE, _account(kind, profile))
    except Exception as exc:  # noqa: BLE001 - backends raise anything from D-Bus to OS errors
        raise _unavailable(kind, exc) from None
    if not stored:
        return None
    value, bound = _unpack(stored)
    if bound != destination.where:
        stored_for = f"stored for {bound}" if bound else "stored without its destination"
        raise ConfigError(
            f"The {kind.label} in the keyring was {stored_for}; it is not sent to"
            f" {destination.where}",
            f"Store one for it with `{destination.store_command}`"
            + (f" (or set {kind.env})." if kind.env else "."),
        )
    return Secret(value) if value else None


def lookup(kind: SecretKind, profile: str, env: Mapping[str, str],
           destination: Destination) -> tuple[Secret | None, str]:
    """The secret and its source ("env VAR", "keyring"), without prompting."""
    if kind.env and env.get(kind.env):
        return Secret(env[kind.env]), f"env {kind.env}"
    return from_keyring(kind, profile, destination), "keyring"


def describe(kind: SecretKind, profile: str, env: Mapping[str, str]) -> dict[str, object]:
    """Whether the secret is there and where it comes from, never the secret (for ``config
    show``): ``value`` "set", "not set" or "unknown", ``source``, and ``stored`` (in the
    keyring: true, false, or null when there is no usable keyring). One keyring read."""
    row: dict[str, object]
    try:
        stored = _keyring().get_password(SERVICE, _account(kind, profile))
    except Exception as exc:  # noqa: BLE001 - see from_keyring
        log.debug("keyring: %s", type(exc).__name__)  # its text is the backend's: not logged
        row = {"value": "unknown", "source": "no keyring", "stored": None}
    else:
        bound = _unpack(stored)[1] if stored else None
        nowhere = f"neither keyring nor {kind.env}" if kind.env else "not in the keyring"
        row = {"value": "set" if stored else "not set",
               "source": "keyring" if stored else nowhere,
               "stored": bool(stored), **({"for": bound} if bound else {})}
    if kind.env and env.get(kind.env):
        row |= {"value": "set", "source": f"env {kind.env}"}
    return row


def require(
    kind: SecretKind, profile: str, env: Mapping[str, str], prompt: Prompt | None,
    destination: Destination,
) -> Secret:
    """env > keyring > prompt (``prompt`` is ``None`` off a TTY) > ``ConfigError``."""
    try:
        secret, _ = lookup(kind, profile, env, destination)
    except KeyringUnavailableError:
        if prompt is None:
            raise
        secret = None
    if secret:
        return secret
    if prompt is not None:
        value = prompt(f"{kind.label} for profile {profile}")
        if value:
            return Secret(value)
    either = f"Set {kind.env}, or store" if kind.env else "Store"
    raise ConfigError(
        f"No {kind.label} for profile {profile!r}",
        f"{either} it in the keyring with `{destination.store_command}`.",
    )


def store(kind: SecretKind, profile: str, secret: Secret, destination: Destination) -> None:
    """Save to the keyring, bound to ``destination``, and read it back: some backends (null,
    fail) drop it silently."""
    keyring = _keyring()
    account = _account(kind, profile)
    packed = _pack(secret, destination)
    try:
        keyring.set_password(SERVICE, account, packed)
        stored = keyring.get_password(SERVICE, account)
    except Exception as exc:  # noqa: BLE001 - see from_keyring
        raise _unavailable(kind, exc, storing=True) from None
    if stored != packed:
        raise _unavailable(kind, "the backend did not keep it", storing=True)


def forget(kind: SecretKind, profile: str) -> bool:
    """Delete the stored secret; ``True`` if there was one."""
    keyring = _keyring()
    try:
        if keyring.get_password(SERVICE, _account(kind, profile)) is None:
            return False
        keyring.delete_password(SERVICE, _account(kind, profile))
    except Exception as exc:  # noqa: BLE001 - see from_keyring
        raise _unavailable(kind, exc) from None
    return True
