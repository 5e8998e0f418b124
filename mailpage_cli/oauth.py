"""OAuth2 sign-in to SMTP, for Microsoft 365 and Google, for people and for cron/CI.

Four flows, each through the provider's own library (loaded only when used)::

    microsoft  device              a person: a code to enter at the provider's page (msal)
    microsoft  client-credentials  app-only: a client secret or certificate (msal)
    google     browser             a person: loopback authorization code with PKCE
                                   (google-auth-oauthlib)
    google     service-account     domain-wide delegation, impersonating the mailbox
                                   (google-auth)

The people's flows leave a refresh token in the OS keyring, bound (like every secret) to the
identity provider, the client id and the mailbox. Each use returns a new one (Microsoft
rotates them), which replaces the old one under an exclusive lock: two cron runs at once
never lose the rotated token. Access tokens live only in memory. The client secret (or a
Google client or service-account JSON) lives in the keyring or ``MAILPAGE_SMTP_CLIENT_SECRET``.
"""

from __future__ import annotations

import contextlib
import json
import sys
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mailpage_cli import credentials, settings
from mailpage_cli.choices import OAuthFlow, OAuthProvider
from mailpage_cli.credentials import Destination
from mailpage_cli.errors import AuthError, ConfigError, UnavailableError
from mailpage_cli.models import Secret
from mailpage_cli.privatefiles import exclusive_lock

MICROSOFT_AUTHORITY = "https://login.microsoftonline.com"
MICROSOFT_SEND = "https://outlook.office.com/SMTP.Send"  # delegated; msal adds offline_access
MICROSOFT_APP = "https://outlook.office365.com/.default"  # SMTP.SendAsApp, or RBAC
GOOGLE_SCOPE = "https://mail.google.com/"
GOOGLE_AUTH_URI = "https://accounts.google.com/o/oauth2/auth"
GOOGLE_TOKEN_URI = "https://oauth2.googleapis.com/token"  # noqa: S105 - an address
TIMEOUT = 30  # seconds for each call to the identity provider
LOGIN_TIMEOUT = 300  # seconds the browser flow waits for the person
EXPIRED = ("invalid_grant", "interaction_required", "AADSTS700082", "AADSTS70008",
           "AADSTS50173", "AADSTS700084")

Tell = Callable[[str], None]


@dataclass(frozen=True)
class Client:
    """One OAuth client as the settings describe it, signing in for ``username``."""

    provider: OAuthProvider
    flow: OAuthFlow
    username: str  # the mailbox: XOAUTH2's user=, a service account's subject
    profile: str
    client_id: str = ""
    tenant: str = "organizations"
    authority: str = MICROSOFT_AUTHORITY
    certificate: Path | None = None

    @property
    def issuer(self) -> str:
        """Where the client's secrets go (for Google, the token URI in its JSON)."""
        if self.provider == "microsoft":
            return f"{self.authority.rstrip('/')}/{self.tenant}"
        return "google"

    @property
    def interactive(self) -> bool:
        return self.flow in ("device", "browser")

    def secret_destination(self) -> Destination:
        return Destination(f"oauth2 {self.issuer} client {self.client_id}",
                           f"{settings.mailpage_command(self.profile)} config set-smtp ..."
                           " --auth oauth2 --client-secret-stdin")

    def token_destination(self) -> Destination:
        return Destination(f"oauth2 {self.issuer} client {self.client_id} as {self.username}",
                           f"{settings.mailpage_command(self.profile)} config login smtp")


def read_client_json(text: str) -> dict[str, Any] | None:
    """A Google client (``installed``) or service-account JSON, ``None`` for a bare secret."""
    try:
        data = json.loads(text)
    except ValueError:
        return None
    if isinstance(data, dict) and data.get("type") == "service_account":
        return data
    if isinstance(data, dict) and isinstance(data.get("installed"), dict):
        return data
    return None


def access_token(client: Client, env: Mapping[str, str], lock: Path, tell: Tell | None,
                 *, sign_in: bool = False) -> Secret:
    """A fresh access token. For the people's flows the stored refresh token is redeemed and
    its successor stored, under ``lock``; a person signs in (``tell`` shows them how) when
    there is none or when ``sign_in`` asks; with nobody there (``tell`` is ``None``) a
    missing one is an error naming ``config login smtp``."""
    if client.flow == "client-credentials":
        return Secret(_microsoft_app(client, env)["access_token"])
    if client.flow == "service-account":
        return _service_account(client, env)
    secret = _client_secret(client, env) if client.provider == "google" else None
    with exclusive_lock(lock):
        refresh = None if sign_in else credentials.from_keyring(
            credentials.SMTP_REFRESH_TOKEN, client.profile, client.token_destination())
        if refresh is None:
            if tell is None:
                raise ConfigError(
                    f"Not signed in to {client.provider.title()} for {client.username}",
                    f"Run `{client.token_destination().store_command}` once on a terminal.",
                )
            grant = _device(client, tell) if client.provider == "microsoft" else _browser(
                client, secret, tell)
        elif client.provider == "microsoft":
            grant = _microsoft_refresh(client, refresh)
        else:
            assert secret is not None  # noqa: S101 - read above for Google
            grant = _google_refresh(client, secret, refresh)
        _keep(client, grant, refresh)
        return Secret(grant["access_token"])


def _keep(client: Client, grant: dict[str, Any], old: Secret | None) -> None:
    """Store the refresh token that came with ``grant`` when it is new (still under the lock:
    the old one may be spent)."""
    new = grant.get("refresh_token")
    if new and (old is None or new != old.reveal()):
        credentials.store(credentials.SMTP_REFRESH_TOKEN, client.profile, Secret(new),
                          client.token_destination())


def _client_secret(client: Client, env: Mapping[str, str]) -> Secret:
    return credentials.require(credentials.SMTP_CLIENT_SECRET, client.profile, env, None,
                               client.secret_destination())


# Microsoft, through msal


def _msal_options(client: Client) -> dict[str, Any]:
    return {"authority": client.issuer, "instance_discovery": False, "timeout": TIMEOUT,
            "token_cache": None}


def _public(client: Client) -> Any:
    import msal  # noqa: PLC0415 - only for this flow

    return msal.PublicClientApplication(client.client_id, **_msal_options(client))


def _device(client: Client, tell: Tell) -> dict[str, Any]:
    app = _public(client)
    with _network(client):
        flow = app.initiate_device_flow(scopes=[MICROSOFT_SEND])
        if "user_code" not in flow:
            raise _refused(client, flow, None)
        tell(flow["message"])
        return _granted(client, app.acquire_token_by_device_flow(flow), None)


def _microsoft_refresh(client: Client, refresh: Secret) -> dict[str, Any]:
    app = _public(client)
    with _network(client):
        answer = app.acquire_token_by_refresh_token(refresh.reveal(), scopes=[MICROSOFT_SEND])
    return _granted(client, answer, refresh)


def _microsoft_app(client: Client, env: Mapping[str, str]) -> dict[str, Any]:
    import msal  # noqa: PLC0415 - only for this flow

    if client.certificate:
        credential: Any = _certificate(client.certificate)
    else:
        credential = _client_secret(client, env).reveal()
    app = msal.ConfidentialClientApplication(client.client_id, client_credential=credential,
                                             **_msal_options(client))
    with _network(client):
        answer = app.acquire_token_for_client(scopes=[MICROSOFT_APP])
    return _granted(client, answer, None)


def _certificate(path: Path) -> dict[str, str]:
    """msal's form of a PEM holding the certificate and its private key (kept private, as
    ssh keeps its keys)."""
    from cryptography import x509  # noqa: PLC0415 - only for this flow
    from cryptography.hazmat.primitives import hashes, serialization  # noqa: PLC0415

    try:
        if path.stat().st_mode & 0o077:
            raise ConfigError(f"The client certificate {path} can be read by others",
                              f"Make it private: chmod 600 {path}")
        pem = path.read_bytes()
        certificate = x509.load_pem_x509_certificate(pem)
    except OSError as exc:
        raise ConfigError(f"Cannot read the client certificate {path} ({exc.strerror})",
                          "Give a PEM file with the certificate and its private key.") from exc
    except ValueError as exc:
        raise ConfigError(f"{path} holds no PEM certificate",
                          "Give a PEM file with the certificate and its private key.") from exc
    text = pem.decode("ascii", "replace")
    if "PRIVATE KEY-----" not in text:
        raise ConfigError(f"{path} holds no private key",
                          "Put the certificate and its private key in one PEM file.")
    thumbprint = certificate.fingerprint(hashes.SHA1()).hex()  # noqa: S303 - Entra ID's
    public = certificate.public_bytes(serialization.Encoding.PEM).decode()
    return {"private_key": text, "thumbprint": thumbprint, "public_certificate": public}


def _granted(client: Client, answer: dict[str, Any] | None,
             refresh: Secret | None) -> dict[str, Any]:
    if answer and answer.get("access_token"):
        return answer
    raise _refused(client, answer or {}, refresh)


# Google, through google-auth and google-auth-oauthlib


def _google_config(client: Client, secret: Secret) -> dict[str, Any]:
    data = read_client_json(secret.reveal())
    installed = data.get("installed") if data else None
    if isinstance(installed, dict):
        return {"installed": installed}
    return {"installed": {"client_id": client.client_id, "client_secret": secret.reveal(),
                          "auth_uri": GOOGLE_AUTH_URI, "token_uri": GOOGLE_TOKEN_URI}}


def _browser(client: Client, secret: Secret | None, tell: Tell) -> dict[str, Any]:
    from google_auth_oauthlib.flow import InstalledAppFlow  # noqa: PLC0415 - this flow only

    assert secret is not None  # noqa: S101 - read by the caller for Google
    flow = InstalledAppFlow.from_client_config(_google_config(client, secret), [GOOGLE_SCOPE])
    tell("Sign in to Google as " + client.username + " in a browser on this machine.")
    with _network(client), contextlib.redirect_stdout(sys.stderr):
        creds = flow.run_local_server(
            host="localhost", port=0, open_browser=_browser_at_hand(),
            authorization_prompt_message="Open this address if no browser opened: {url}",
            success_message="Signed in: mailpage can send as you. You can close this tab.",
            timeout_seconds=LOGIN_TIMEOUT, login_hint=client.username,
            access_type="offline", prompt="consent")
    if not creds or not creds.token:
        raise AuthError("The Google sign-in did not finish",
                        "Run `mailpage config login smtp` again and approve in the browser.")
    return {"access_token": creds.token, "refresh_token": creds.refresh_token}


def _browser_at_hand() -> bool:
    """A person at a terminal with a browser to open (not a server over ssh)."""
    import webbrowser  # noqa: PLC0415 - this flow only

    try:
        webbrowser.get()
    except webbrowser.Error:
        return False
    return sys.stderr.isatty()


def _google_refresh(client: Client, secret: Secret, refresh: Secret) -> dict[str, Any]:
    from google.oauth2.credentials import Credentials  # noqa: PLC0415 - this flow only

    installed = _google_config(client, secret)["installed"]
    creds = Credentials(  # type: ignore[no-untyped-call]
        None, refresh_token=refresh.reveal(), token_uri=installed["token_uri"],
        client_id=installed["client_id"], client_secret=installed["client_secret"],
        scopes=[GOOGLE_SCOPE])
    _google_fetch(client, creds, refresh)
    return {"access_token": creds.token, "refresh_token": creds.refresh_token}


def _service_account(client: Client, env: Mapping[str, str]) -> Secret:
    from google.oauth2 import service_account  # noqa: PLC0415 - this flow only

    info = read_client_json(_client_secret(client, env).reveal())
    if not info or info.get("type") != "service_account":
        raise ConfigError("The stored client secret is not a Google service-account key",
                          "Store the key's JSON with `mailpage config set-smtp ... --auth"
                          " oauth2 --oauth-provider google --client-secret-stdin < key.json`.")
    try:
        creds = service_account.Credentials.from_service_account_info(  # type: ignore[no-untyped-call]
            info, scopes=[GOOGLE_SCOPE], subject=client.username)
    except (ValueError, KeyError) as exc:
        raise ConfigError("The Google service-account key cannot be read",
                          "Store the JSON key file as Google gave it.") from exc
    _google_fetch(client, creds, None)
    return Secret(creds.token)


def _google_fetch(client: Client, creds: Any, refresh: Secret | None) -> None:
    import google.auth.exceptions  # noqa: PLC0415 - this flow only
    from google.auth.transport.requests import Request  # noqa: PLC0415

    try:
        creds.refresh(Request())
    except google.auth.exceptions.RefreshError as exc:
        data = exc.args[1] if len(exc.args) > 1 and isinstance(exc.args[1], dict) else {}
        raise _refused(client, data or {"error": str(exc.args[0] if exc.args else exc)},
                       refresh) from None
    except google.auth.exceptions.TransportError as exc:
        raise _unreachable(client, exc) from None


# Errors


@contextlib.contextmanager
def _network(client: Client) -> Iterator[None]:
    import requests  # noqa: PLC0415 - loaded by the OAuth libraries already

    try:
        yield
    except requests.RequestException as exc:
        raise _unreachable(client, exc) from None


def _unreachable(client: Client, exc: Exception) -> UnavailableError:
    return UnavailableError(
        f"Cannot reach the {client.provider.title()} sign-in service ({type(exc).__name__})",
        "Check the network (and --authority), or try again later.")


def _refused(client: Client, answer: dict[str, Any], refresh: Secret | None) -> AuthError:
    """The identity provider's refusal, mapped to its cause and fix; never with a token."""
    code = str(answer.get("error") or "refused")
    said = str(answer.get("error_description") or "").splitlines()
    detail = said[0][:200] if said else code
    if refresh:
        detail = detail.replace(refresh.reveal(), "********")
    if any(word in f"{code} {detail}" for word in EXPIRED):
        error = AuthError(
            f"The {client.provider.title()} sign-in for {client.username} has expired or was"
            f" revoked ({detail})",
            f"Sign in again with `{client.token_destination().store_command}`.")
        error.reason = "login_expired"
    elif code in ("invalid_client", "unauthorized_client"):
        error = AuthError(
            f"{client.provider.title()} refused the client {client.client_id} ({detail})",
            "Check the client id, tenant and secret or certificate (`mailpage config set-smtp"
            " --auth oauth2 ...`), and that an admin consented to the app.")
        error.reason = "client_refused"
    else:
        error = AuthError(f"{client.provider.title()} gave no token ({detail})",
                          "Check the app registration's permissions and the settings shown"
                          " by `mailpage config show`.")
        error.reason = "token_refused"
    return error
