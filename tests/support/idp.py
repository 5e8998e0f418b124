"""A loopback OAuth2 identity provider over HTTPS, playing both Microsoft Entra ID (v2.0
endpoints) and Google (OAuth2 for installed apps, service accounts), for the real ``msal``,
``google-auth`` and ``google-auth-oauthlib`` libraries to talk to over TCP.

Microsoft, under ``{url}/{tenant}`` (``microsoft_authority()``; give msal
``instance_discovery=False``, or it asks login.microsoftonline.com about the host):

- ``GET  /{tenant}/v2.0/.well-known/openid-configuration`` (what msal fetches first),
- ``POST /{tenant}/oauth2/v2.0/devicecode`` and ``POST /{tenant}/oauth2/v2.0/token``
  (device code, refresh token with ROTATION, client credentials with a secret or a
  certificate's signed client assertion, authorization code with PKCE),
- ``GET  /{tenant}/oauth2/v2.0/authorize`` and ``GET /{tenant}/discovery/v2.0/keys``.

Google: ``GET /google/auth`` (the consent screen, played by :meth:`IdentityProvider.browser`),
``POST /google/token`` (authorization code with PKCE, refresh token, service-account JWT
bearer) and ``GET /google/userinfo``.

Every answer carries ``Connection: close``: no idle keep-alive connection outlives a test.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import html
import http.client
import json
import re
import secrets
import socket
import ssl
import sys
import threading
import time
import uuid
import webbrowser
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

import jwt
import trustme
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa

SMTP_SEND_SCOPE = "https://outlook.office.com/SMTP.Send"  # Microsoft, delegated
EXCHANGE_APP_SCOPE = "https://outlook.office365.com/.default"  # Microsoft, app-only
GMAIL_SCOPE = "https://mail.google.com/"
# google-auth (2.63) signs service-account assertions for this audience whatever token_uri
# says, and Google takes it; so does this fake, besides its own token URI:
GOOGLE_REAL_TOKEN_URI = "https://oauth2.googleapis.com/token"
DEVICE_CODE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"
JWT_BEARER_GRANT = "urn:ietf:params:oauth:grant-type:jwt-bearer"
CLIENT_ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
RESERVED_SCOPES = frozenset({"openid", "profile", "offline_access", "email"})
GOOGLE_SCOPE_ALIASES = {  # Google answers these with their long names: oauthlib notices
    "email": "https://www.googleapis.com/auth/userinfo.email",
    "profile": "https://www.googleapis.com/auth/userinfo.profile",
}
USER_HEADER = "X-Test-User"  # who is signed in to the browser (set by IdentityProvider.browser)
CONSENT_HEADER = "X-Test-Consent"  # "yes" or "no": what they click on the consent screen
APP_PREFIX = "app:"  # check() of an app-only (client credentials) token: "app:<client_id>"
_NAMESPACE = uuid.UUID("0b6f0c63-3f1e-4d3b-8f0e-6a3b1f2d9c11")
_USER_CODE_ALPHABET = "BCDFGHJKLMNPQRSTVWXZ23456789"
_LOOPBACK = ("127.0.0.1", "localhost", "::1")


class BrowserError(AssertionError):
    """The "browser" did not get from the IdP to the app's redirect URI."""


class _OAuthError(Exception):
    def __init__(self, error: str, description: str, status: int = 400) -> None:
        super().__init__(f"{error}: {description}")
        self.error = error
        self.description = description
        self.status = status


@dataclass
class _Response:
    status: int = 200
    body: bytes = b""
    content_type: str = "application/json; charset=utf-8"
    headers: dict[str, str] = field(default_factory=dict)


def _json(data: dict[str, Any], status: int = 200) -> _Response:
    return _Response(status, json.dumps(data).encode(),
                     headers={"Cache-Control": "no-store", "Pragma": "no-cache"})


def _page(status: int, text: str) -> _Response:
    return _Response(status, f"<!doctype html><title>{text}</title><p>{text}".encode(),
                     "text/html; charset=utf-8")


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _random(length: int, prefix: str = "") -> str:
    """Exactly ``length`` characters: ``prefix`` (if there is room for 8 random characters
    after it), then URL-safe random ones."""
    length = max(length, 1)
    if length < len(prefix) + 8:
        prefix = ""
    return prefix + secrets.token_urlsafe(length)[: length - len(prefix)]


def _new_rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def _pem(key: rsa.RSAPrivateKey) -> str:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption()).decode()


# --------------------------------------------------------------------------- state


@dataclass
class _Client:
    client_id: str
    kind: str  # "public", "confidential" (Microsoft) or "google"
    secret: str | None = None
    certificate: x509.Certificate | None = None


@dataclass
class _ServiceAccount:
    client_email: str
    key_id: str
    public_key: Any


@dataclass
class _Token:
    user: str  # the mailbox, or "app:<client_id>"
    client_id: str
    scopes: frozenset[str]
    expires_at: float
    revoked: bool = False


@dataclass
class _Refresh:
    user: str
    client_id: str
    scopes: tuple[str, ...]  # as granted, reserved ones (openid, offline_access...) included
    provider: str  # "microsoft" or "google"
    tenant: str
    valid: bool = True


@dataclass
class _DeviceCode:
    device_code: str
    user_code: str
    client_id: str
    scopes: tuple[str, ...]
    tenant: str
    expires_at: float
    user: str | None = None
    declined: bool = False
    redeemed: bool = False
    polls: int = 0


@dataclass
class _Code:
    code: str
    provider: str
    tenant: str
    client_id: str
    redirect_uri: str
    scopes: tuple[str, ...]
    challenge: str | None
    user: str
    nonce: str | None
    expires_at: float
    redeemed: bool = False


# --------------------------------------------------------------------------- HTTPS plumbing


class _Server(ThreadingHTTPServer):
    """TLS per connection, in the connection's own thread (a client that never says hello
    holds up no one); joins its handler threads on close."""

    daemon_threads = False
    block_on_close = True

    def __init__(self, idp: IdentityProvider, context: ssl.SSLContext) -> None:
        self.idp = idp
        self.context = context
        self.open_sockets: set[ssl.SSLSocket] = set()
        self.sockets_lock = threading.Lock()
        super().__init__(("127.0.0.1", 0), _Handler)

    def finish_request(self, request: Any, client_address: Any) -> None:
        request.settimeout(10)
        try:
            tls = self.context.wrap_socket(request, server_side=True)
        except OSError:  # the client hung up, or did not trust the certificate
            return
        with self.sockets_lock:
            self.open_sockets.add(tls)
        try:
            self.RequestHandlerClass(tls, client_address, self)  # type: ignore[arg-type]
        finally:
            with self.sockets_lock:
                self.open_sockets.discard(tls)
            tls.close()

    def handle_error(self, request: Any, client_address: Any) -> None:
        if not isinstance(sys.exc_info()[1], OSError):  # a client that hung up is no news
            super().handle_error(request, client_address)

    def cut_connections(self) -> None:
        with self.sockets_lock:
            for sock in self.open_sockets:
                with contextlib.suppress(OSError):  # the socket's, not the TLS layer's
                    socket.socket.shutdown(sock, socket.SHUT_RDWR)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True
    timeout = 10
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        pass  # quiet

    def _any(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length).decode("utf-8", "replace") if length else ""
        split = urlsplit(self.path)
        query = dict(parse_qsl(split.query, keep_blank_values=True))
        form = dict(parse_qsl(body, keep_blank_values=True))
        headers = {name.lower(): value for name, value in self.headers.items()}
        response = self.server.idp.respond(self.command, split.path, query, form, headers)
        self.send_response(response.status)
        for name, value in {"Content-Type": response.content_type, **response.headers}.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(response.body)))
        self.send_header("Connection", "close")
        self.close_connection = True
        self.end_headers()
        self.wfile.write(response.body)

    do_GET = do_POST = _any  # noqa: N815 - http.server's names


class _Browser(webbrowser.BaseBrowser):
    """A ``webbrowser`` browser whose ``open`` runs :meth:`IdentityProvider.browser` in a
    thread, as a real one would load the page while the app waits for the redirect."""

    def __init__(self, idp: IdentityProvider, user: str, *, consent: bool) -> None:
        super().__init__("mailpage-test-idp")
        self.idp = idp
        self.user = user
        self.consent = consent
        self.opened: list[str] = []

    def open(self, url: str, new: int = 0, autoraise: bool = True) -> bool:  # noqa: ARG002
        self.opened.append(url)
        thread = threading.Thread(target=self._visit, args=(url,), daemon=True,
                                  name="idp-browser")
        self.idp.browser_threads.append(thread)
        thread.start()
        return True

    def _visit(self, url: str) -> None:
        try:
            self.idp.browser(url, self.user, consent=self.consent)
        except Exception as error:  # noqa: BLE001 - kept for the test to look at
            self.idp.browser_errors.append(error)


# --------------------------------------------------------------------------- the IdP


class IdentityProvider:
    """Microsoft and Google sign-in on ``https://127.0.0.1:PORT``, trusted through ``ca``."""

    def __init__(self, ca: trustme.CA) -> None:
        self.ca = ca
        self.port = 0
        # -- what tests inspect
        self.requests: list[tuple[str, str, dict[str, str]]] = []  # (method, path, fields)
        self.refresh_tokens_used: list[str] = []
        self.browser_errors: list[BaseException] = []
        self.browser_threads: list[threading.Thread] = []
        # -- settings
        self.token_bytes: int = 40  # length of each access token issued
        self.expires_in: int = 3600  # lifetime of access tokens, in seconds
        self.device_interval: int = 0  # the "interval" of device codes (msal int()s it)
        self.device_expires_in: int = 900  # the "expires_in" of device codes, as advertised
        # ... and how long one really lives before polling gets "expired_token": with interval
        # 0, msal polls until an answer that is not "pending", so a test that forgets to
        # approve fails after this long instead of hanging:
        self.device_code_lifetime: float = 10.0
        self.pending_hold: float = 0.05  # a pending poll waits this long for approval
        # A refresh waits this long before it redeems: clients that do not take turns (a
        # lock) then present the same refresh token, and the second is refused.
        self.refresh_hold: float = 0.0
        self.google_rotates: bool = False  # Google normally keeps the refresh token
        self.require_pkce: bool = True  # an authorization request without S256 is refused
        # -- state
        self._cond = threading.Condition()
        self._failures: list[tuple[str, str, int]] = []
        self._clients: dict[str, _Client] = {}
        self._service_accounts: dict[str, _ServiceAccount] = {}
        self._tokens: dict[str, _Token] = {}
        self._refresh: dict[str, _Refresh] = {}
        self._device_codes: dict[str, _DeviceCode] = {}
        self._codes: dict[str, _Code] = {}
        self._auto_approve: tuple[str, int] | None = None
        self._signing_key = _new_rsa_key()
        self._signing_kid = _b64url(secrets.token_bytes(12))
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle

    def start(self) -> IdentityProvider:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        self.ca.issue_cert("127.0.0.1", "localhost").configure_cert(context)
        self._server = _Server(self, context)
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever,
                                        kwargs={"poll_interval": 0.01}, name="fake-idp",
                                        daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        for thread in self.browser_threads:
            thread.join(timeout=5)
        if self._server is not None and self._thread is not None:
            self._server.shutdown()
            self._server.cut_connections()
            self._server.server_close()  # joins the handler threads
            self._thread.join()
        self._server = self._thread = None

    def __enter__(self) -> IdentityProvider:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- addresses

    @property
    def url(self) -> str:
        return f"https://127.0.0.1:{self.port}"

    def microsoft_authority(self, tenant: str = "contoso") -> str:
        return f"{self.url}/{tenant}"

    def microsoft_token_endpoint(self, tenant: str = "contoso") -> str:
        return f"{self.url}/{tenant}/oauth2/v2.0/token"

    @property
    def google_token_uri(self) -> str:
        return self.url + "/google/token"

    @property
    def google_auth_uri(self) -> str:
        return self.url + "/google/auth"

    @property
    def google_userinfo_uri(self) -> str:
        return self.url + "/google/userinfo"

    def google_client_config(self, client_id: str, client_secret: str) -> dict[str, Any]:
        """The "Desktop app" client_secret JSON, as Google's console downloads it."""
        return {"installed": {
            "client_id": client_id, "project_id": "proj", "auth_uri": self.google_auth_uri,
            "token_uri": self.google_token_uri, "client_secret": client_secret,
            "auth_provider_x509_cert_url": self.url + "/google/certs",
            "redirect_uris": ["http://localhost"],
        }}

    # -- registrations

    def public_client(self, client_id: str) -> None:
        with self._cond:
            self._clients[client_id] = _Client(client_id, "public")

    def confidential_client(self, client_id: str, secret: str | None = None,
                            certificate_pem: bytes | None = None) -> None:
        if secret is None and certificate_pem is None:
            raise ValueError("a confidential client needs a secret or a certificate")
        certificate = (x509.load_pem_x509_certificate(certificate_pem)
                       if certificate_pem is not None else None)
        with self._cond:
            self._clients[client_id] = _Client(client_id, "confidential", secret, certificate)

    def google_client(self, client_id: str, client_secret: str) -> None:
        with self._cond:
            self._clients[client_id] = _Client(client_id, "google", client_secret)

    def service_account(self, client_email: str = "robot@proj.iam.gserviceaccount.com"
                        ) -> dict[str, str]:
        key = _new_rsa_key()
        key_id = secrets.token_hex(20)
        with self._cond:
            self._service_accounts[key_id] = _ServiceAccount(client_email, key_id,
                                                             key.public_key())
        project = client_email.partition("@")[2].split(".")[0] or "proj"
        return {
            "type": "service_account",
            "project_id": project,
            "private_key_id": key_id,
            "private_key": _pem(key),
            "client_email": client_email,
            "client_id": str(10**20 + secrets.randbelow(9 * 10**20)),
            "auth_uri": self.google_auth_uri,
            "token_uri": self.google_token_uri,
            "auth_provider_x509_cert_url": self.url + "/google/certs",
            "client_x509_cert_url": f"{self.url}/google/certs/{client_email}",
            "universe_domain": "googleapis.com",
        }

    # -- the human

    def approve_device_code(self, user_code: str, user: str = "ann@example.com") -> None:
        """The user opens the verification page, enters ``user_code`` and signs in."""
        with self._cond:
            self._device_code(user_code).user = user
            self._cond.notify_all()

    def decline_device_code(self, user_code: str) -> None:
        """The user enters the code, then clicks "Cancel"."""
        with self._cond:
            self._device_code(user_code).declined = True
            self._cond.notify_all()

    def auto_approve(self, user: str = "ann@example.com", *, after_polls: int = 1) -> None:
        """Approve every device code once it has been polled ``after_polls`` times (each of
        those polls answers "authorization_pending"): the user reads the code off the
        terminal, without the test needing a thread."""
        with self._cond:
            self._auto_approve = (user, after_polls)

    def _device_code(self, user_code: str) -> _DeviceCode:
        wanted = user_code.strip().upper()
        for code in self._device_codes.values():
            if code.user_code == wanted:
                return code
        raise KeyError(f"no device code has the user code {user_code!r}")

    def browser(self, authorize_url: str, user: str = "ann@example.com", *,
                consent: bool = True) -> None:
        """Play the browser: GET ``authorize_url`` (signed in as ``user``, clicking "Allow",
        or "Cancel" if not ``consent``), expect a 302 to a loopback ``http://`` redirect URI
        and GET that, so the app's local server receives the code (or the error). With
        ``response_mode=form_post`` (msal's interactive flow) the IdP answers a self-posting
        form instead, and the browser POSTs its fields to the redirect URI."""
        split = urlsplit(authorize_url)
        if split.scheme != "https" or split.hostname != "127.0.0.1" or split.port != self.port:
            raise BrowserError(f"{authorize_url!r} is not this identity provider")
        context = ssl.create_default_context()
        self.ca.configure_trust(context)
        connection = http.client.HTTPSConnection("127.0.0.1", self.port, context=context,
                                                 timeout=10)
        try:
            connection.request("GET", split.path + (f"?{split.query}" if split.query else ""),
                               headers={USER_HEADER: user,
                                        CONSENT_HEADER: "yes" if consent else "no"})
            answer = connection.getresponse()
            page = answer.read()
            location = answer.getheader("Location")
        finally:
            connection.close()
        text = page.decode("utf-8", "replace")
        form = re.search(r'<form method="post" action="([^"]*)">(.*)</form>', text)
        if answer.status == 200 and form:
            location = html.unescape(form.group(1))
            fields = {html.unescape(k): html.unescape(v) for k, v in re.findall(
                r'<input type="hidden" name="([^"]*)" value="([^"]*)">', form.group(2))}
        elif answer.status != 302 or not location:
            raise BrowserError(f"the identity provider answered {answer.status}: {text}")
        target = urlsplit(location)
        if target.scheme != "http" or target.hostname not in _LOOPBACK:
            raise BrowserError(f"the identity provider redirected to {location!r}")
        app = http.client.HTTPConnection(target.hostname, target.port or 80, timeout=10)
        path = (target.path or "/") + (f"?{target.query}" if target.query else "")
        try:
            if form:
                app.request("POST", path, body=urlencode(fields), headers={
                    "Content-Type": "application/x-www-form-urlencoded"})
            else:
                app.request("GET", path)
            reply = app.getresponse()
            reply.read()
        finally:
            app.close()
        if not 200 <= reply.status < 400:
            raise BrowserError(f"the app's redirect URI answered {reply.status}")

    def web_browser(self, user: str = "ann@example.com", *,
                    consent: bool = True) -> webbrowser.BaseBrowser:
        """A ``webbrowser`` browser that plays :meth:`browser` in a thread (errors go to
        ``browser_errors``): register it, or monkeypatch ``webbrowser.get`` to return it."""
        return _Browser(self, user, consent=consent)

    # -- inspection and faults

    def check(self, access_token: str) -> str | None:
        """The mailbox ``access_token`` was issued for ("app:<client_id>" for an app-only
        token); None if it is unknown, expired or revoked."""
        with self._cond:
            token = self._tokens.get(access_token)
            if token is None or token.revoked or token.expires_at <= time.time():
                return None
            return token.user

    def scopes_of(self, access_token: str) -> set[str]:
        with self._cond:
            token = self._tokens.get(access_token)
            return set(token.scopes) if token else set()

    def fail_next(self, error: str, description: str, status: int = 400) -> None:
        """The next token-endpoint call (Microsoft or Google, any grant) answers ``status``
        with ``{"error": error, "error_description": description}``; calls queue up."""
        with self._cond:
            self._failures.append((error, description, status))

    def expire_access_tokens(self) -> None:
        """Every access token issued so far expires now (refresh tokens stay valid)."""
        with self._cond:
            for token in self._tokens.values():
                token.expires_at = min(token.expires_at, time.time() - 1)

    def revoke(self, token: str) -> None:
        """Revoke an access or a refresh token (the password changed, an admin revoked it)."""
        with self._cond:
            if token in self._tokens:
                self._tokens[token].revoked = True
            if token in self._refresh:
                self._refresh[token].valid = False

    # -- HTTP

    def respond(self, method: str, path: str, query: dict[str, str], form: dict[str, str],
                headers: dict[str, str]) -> _Response:
        fields = dict(form if method == "POST" else query)
        if "authorization" in headers:
            fields["authorization"] = headers["authorization"]
        with self._cond:
            self.requests.append((method, path, fields))
        routes: list[tuple[str, str, Any]] = [
            ("GET", r"/google/auth", lambda: self._authorize("google", "", query, headers)),
            ("POST", r"/google/token", lambda: self._google_token(form, headers)),
            ("GET", r"/google/userinfo", lambda: self._userinfo(headers)),
            ("GET", r"/devicelogin", lambda: _page(200, "Enter code")),
            ("GET", r"/(?P<t>[^/]+)/v2\.0/\.well-known/openid-configuration",
             lambda t: _json(self._openid_configuration(t))),
            ("GET", r"/(?P<t>[^/]+)/discovery/v2\.0/keys", lambda t: self._jwks()),  # noqa: ARG005
            ("GET", r"/(?P<t>[^/]+)/oauth2/v2\.0/authorize",
             lambda t: self._authorize("microsoft", t, query, headers)),
            ("POST", r"/(?P<t>[^/]+)/oauth2/v2\.0/devicecode",
             lambda t: self._device_authorization(t, form)),
            ("POST", r"/(?P<t>[^/]+)/oauth2/v2\.0/token",
             lambda t: self._microsoft_token(t, form, headers)),
        ]
        for route_method, pattern, handler in routes:
            match = re.fullmatch(pattern, path)
            if match and method == route_method:
                try:
                    return handler(**match.groupdict())  # type: ignore[no-any-return]
                except _OAuthError as error:
                    return self._error(error, microsoft=not path.startswith("/google/"))
                except Exception as error:  # noqa: BLE001 - a bug in the fake answers 500, visibly
                    return _json({"error": "server_error",
                                  "error_description": f"fake IdP bug: {error!r}"}, 500)
        return _json({"error": "not_found", "error_description": f"no {method} {path}"}, 404)

    def _error(self, error: _OAuthError, *, microsoft: bool) -> _Response:
        body: dict[str, Any] = {"error": error.error, "error_description": error.description}
        code = re.match(r"AADSTS(\d+)", error.description)
        if microsoft and code:
            body |= {"error_codes": [int(code.group(1))],
                     "timestamp": time.strftime("%Y-%m-%d %H:%M:%SZ", time.gmtime()),
                     "trace_id": str(uuid.uuid4()), "correlation_id": str(uuid.uuid4()),
                     "error_uri": f"{self.url}/error?code={code.group(1)}"}
        return _json(body, error.status)

    def _take_failure(self) -> None:
        with self._cond:
            if self._failures:
                error, description, status = self._failures.pop(0)
                raise _OAuthError(error, description, status)

    # -- Microsoft

    def _tenant_id(self, tenant: str) -> str:
        return str(uuid.uuid5(_NAMESPACE, f"tenant:{tenant.lower()}"))

    def _openid_configuration(self, tenant: str) -> dict[str, Any]:
        base = f"{self.url}/{tenant}"
        return {
            "token_endpoint": f"{base}/oauth2/v2.0/token",
            "token_endpoint_auth_methods_supported": ["client_secret_post", "private_key_jwt",
                                                      "client_secret_basic"],
            "jwks_uri": f"{base}/discovery/v2.0/keys",
            "response_modes_supported": ["query", "fragment", "form_post"],
            "subject_types_supported": ["pairwise"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "response_types_supported": ["code", "id_token", "code id_token",
                                         "id_token token"],
            "scopes_supported": ["openid", "profile", "email", "offline_access"],
            "issuer": f"{self.url}/{self._tenant_id(tenant)}/v2.0",
            "request_uri_parameter_supported": False,
            "userinfo_endpoint": f"{self.url}/oidc/userinfo",
            "authorization_endpoint": f"{base}/oauth2/v2.0/authorize",
            "device_authorization_endpoint": f"{base}/oauth2/v2.0/devicecode",
            "http_logout_supported": True,
            "frontchannel_logout_supported": True,
            "end_session_endpoint": f"{base}/oauth2/v2.0/logout",
            "claims_supported": ["sub", "iss", "aud", "exp", "iat", "nonce",
                                 "preferred_username", "name", "tid", "ver", "oid"],
            "tenant_region_scope": "EU",
            "cloud_instance_name": "microsoftonline.com",
            "cloud_graph_host_name": "graph.windows.net",
            "msgraph_host": "graph.microsoft.com",
        }

    def _jwks(self) -> _Response:
        jwk = jwt.algorithms.RSAAlgorithm.to_jwk(self._signing_key.public_key(), as_dict=True)
        return _json({"keys": [{**jwk, "kid": self._signing_kid, "use": "sig",
                                "alg": "RS256"}]})

    def _microsoft_scopes(self, form: dict[str, str]) -> tuple[str, ...]:
        scopes = tuple(form.get("scope", "").split())
        if not scopes:
            raise _OAuthError("invalid_request", "AADSTS900144: The request body must contain "
                              "the following parameter: 'scope'.")
        if SMTP_SEND_SCOPE not in scopes:
            raise _OAuthError("invalid_scope", "AADSTS70011: The provided request must include "
                              f"the scope '{SMTP_SEND_SCOPE}'; it asked for "
                              f"'{' '.join(scopes)}'.")
        return scopes

    def _microsoft_client(self, tenant: str, form: dict[str, str],
                          headers: dict[str, str]) -> _Client:
        """The client, authenticated as its kind requires (a public client must not send a
        credential; a confidential one must send its secret or a signed assertion)."""
        basic_id, basic_secret = _basic(headers)
        client_id = form.get("client_id") or basic_id
        if not client_id:
            raise _OAuthError("invalid_request", "AADSTS900144: The request body must contain "
                              "the following parameter: 'client_id'.")
        with self._cond:
            client = self._clients.get(client_id)
        if client is None or client.kind == "google":
            raise _OAuthError("unauthorized_client", f"AADSTS700016: Application with "
                              f"identifier '{client_id}' was not found in the directory "
                              f"'{tenant}'.")
        secret = form.get("client_secret") or basic_secret
        assertion = form.get("client_assertion")
        if client.kind == "public":
            if secret or assertion:
                raise _OAuthError("invalid_client", "AADSTS700025: Client is public so neither "
                                  "'client_assertion' nor 'client_secret' should be presented.",
                                  401)
            return client
        if assertion:
            self._check_assertion(client, tenant, form)
        elif secret:
            if client.secret is None or not secrets.compare_digest(secret, client.secret):
                raise _OAuthError("invalid_client", "AADSTS7000215: Invalid client secret "
                                  "provided. Ensure the secret being sent in the request is "
                                  f"the client secret value, not the client secret ID, for a "
                                  f"secret added to app '{client_id}'.", 401)
        else:
            raise _OAuthError("invalid_client", "AADSTS7000218: The request body must contain "
                              "the following parameter: 'client_assertion' or "
                              "'client_secret'.", 401)
        return client

    def _check_assertion(self, client: _Client, tenant: str, form: dict[str, str]) -> None:
        if form.get("client_assertion_type") != CLIENT_ASSERTION_TYPE:
            raise _OAuthError("invalid_request", "AADSTS50027: client_assertion_type must be "
                              f"'{CLIENT_ASSERTION_TYPE}'.")
        assertion = form["client_assertion"]
        certificate = client.certificate
        try:
            header = jwt.get_unverified_header(assertion)
        except jwt.PyJWTError as error:
            raise _OAuthError("invalid_client", f"AADSTS50027: Invalid JWT token: {error}",
                              401) from error
        # msal keeps the base64 padding ("...=") that RFC 7515 leaves out; Entra takes both
        sha1 = str(header.get("x5t", "")).rstrip("=")
        sha256 = str(header.get("x5t#S256", "")).rstrip("=")
        if certificate is None or not (
                sha1 == _b64url(certificate.fingerprint(hashes.SHA1()))  # noqa: S303
                or sha256 == _b64url(certificate.fingerprint(hashes.SHA256()))):
            raise _OAuthError("invalid_client", "AADSTS700027: The certificate with identifier "
                              "used to sign the client assertion is not registered on "
                              f"application '{client.client_id}'.", 401)
        try:
            claims = jwt.decode(
                assertion, certificate.public_key(),  # type: ignore[arg-type]
                algorithms=["RS256", "PS256"], audience=self.microsoft_token_endpoint(tenant),
                issuer=client.client_id, leeway=60,
                options={"require": ["aud", "iss", "sub", "exp", "jti"]})
        except jwt.PyJWTError as error:
            raise _OAuthError("invalid_client", "AADSTS700027: Client assertion failed "
                              f"signature validation: {error}", 401) from error
        if claims["sub"] != client.client_id:
            raise _OAuthError("invalid_client", "AADSTS700023: Client assertion subject "
                              "must be the client id.", 401)

    def _device_authorization(self, tenant: str, form: dict[str, str]) -> _Response:
        client = self._microsoft_client(tenant, form, {})
        scopes = self._microsoft_scopes(form)
        user_code = "".join(secrets.choice(_USER_CODE_ALPHABET) for _ in range(9))
        device_code = _random(160, "DAQABIQEAAAD")
        with self._cond:
            self._device_codes[device_code] = _DeviceCode(
                device_code, user_code, client.client_id, scopes, tenant,
                time.time() + min(self.device_code_lifetime, self.device_expires_in))
        verification_uri = self.url + "/devicelogin"
        return _json({
            "user_code": user_code, "device_code": device_code,
            "verification_uri": verification_uri,
            "expires_in": self.device_expires_in,
            "interval": self.device_interval,
            "message": f"To sign in, use a web browser to open the page {verification_uri} "
                       f"and enter the code {user_code} to authenticate.",
        })

    def _microsoft_token(self, tenant: str, form: dict[str, str],
                         headers: dict[str, str]) -> _Response:
        self._take_failure()
        grant = form.get("grant_type", "")
        if grant == "refresh_token":
            with self._cond:
                self.refresh_tokens_used.append(form.get("refresh_token", ""))
        client = self._microsoft_client(tenant, form, headers)
        if grant == DEVICE_CODE_GRANT:
            return self._device_code_grant(client, tenant, form)
        if grant == "refresh_token":
            return self._refresh_grant(client, "microsoft", form)
        if grant == "authorization_code":
            return self._code_grant(client, "microsoft", form)
        if grant == "client_credentials":
            return self._client_credentials_grant(client, form)
        raise _OAuthError("unsupported_grant_type", f"AADSTS70003: The app requested an "
                          f"unsupported grant type '{grant}'.")

    def _device_code_grant(self, client: _Client, tenant: str,
                           form: dict[str, str]) -> _Response:
        with self._cond:
            code = self._device_codes.get(form.get("device_code", ""))
            if code is None or code.client_id != client.client_id or code.tenant != tenant:
                raise _OAuthError("invalid_grant", "AADSTS70000: Provided grant is invalid or "
                                  "malformed.")
            code.polls += 1
            if self._auto_approve and code.user is None and code.polls > self._auto_approve[1]:
                code.user = self._auto_approve[0]
            if code.user is None and not code.declined and code.expires_at > time.time():
                self._cond.wait(self.pending_hold)  # a long poll: answer soon after approval
            if code.redeemed:
                raise _OAuthError("invalid_grant", "AADSTS54005: OAuth2 Authorization code "
                                  "was already redeemed, please retry with a new valid code.")
            if code.declined:
                raise _OAuthError("authorization_declined", "AADSTS70000: The user declined "
                                  "the authorization request.")
            if code.expires_at <= time.time():
                raise _OAuthError("expired_token", "AADSTS70020: The provided value for the "
                                  "input parameter 'device_code' is not valid. This device "
                                  "code has expired.")
            if code.user is None:
                raise _OAuthError("authorization_pending", "AADSTS70016: OAuth 2.0 device "
                                  "flow error. Authorization is pending. Continue polling.")
            code.redeemed = True
            user = code.user
        return self._user_tokens(client, "microsoft", tenant, user, code.scopes, form)

    def _client_credentials_grant(self, client: _Client, form: dict[str, str]) -> _Response:
        scopes = form.get("scope", "").split()
        if len(scopes) != 1 or not scopes[0].endswith("/.default"):
            raise _OAuthError("invalid_scope", "AADSTS1002012: The provided value for scope "
                              f"{' '.join(scopes)} is not valid. Client credential flows must "
                              "have a scope value with /.default suffixed to the resource "
                              "identifier (application ID URI).")
        if scopes[0] != EXCHANGE_APP_SCOPE:
            raise _OAuthError("invalid_resource", "AADSTS500011: The resource principal named "
                              f"{scopes[0].removesuffix('/.default')} was not found in the "
                              "tenant.")
        access = self._issue_access(APP_PREFIX + client.client_id, client.client_id,
                                    "microsoft", scopes)
        return _json({"token_type": "Bearer", "expires_in": self.expires_in,
                      "ext_expires_in": self.expires_in, "access_token": access})

    def _id_token(self, provider: str, tenant: str, client_id: str, user: str,
                  nonce: str | None) -> str:
        now = int(time.time())
        if provider == "microsoft":
            tid = self._tenant_id(tenant)
            claims: dict[str, Any] = {
                "aud": client_id, "iss": f"{self.url}/{tid}/v2.0", "iat": now, "nbf": now,
                "exp": now + self.expires_in, "name": user.partition("@")[0].title(),
                "oid": self._oid(user), "preferred_username": user,
                "sub": _b64url(hashlib.sha256(f"{user}:{client_id}".encode()).digest()),
                "tid": tid, "ver": "2.0"}
        else:
            claims = {"iss": "https://accounts.google.com", "azp": client_id, "aud": client_id,
                      "sub": str(uuid.uuid5(_NAMESPACE, user).int)[:21], "email": user,
                      "email_verified": True, "iat": now, "exp": now + self.expires_in}
        if nonce:
            claims["nonce"] = nonce
        return jwt.encode(claims, self._signing_key, algorithm="RS256",
                          headers={"kid": self._signing_kid})

    def _oid(self, user: str) -> str:
        return str(uuid.uuid5(_NAMESPACE, f"user:{user.lower()}"))

    # -- both

    def _issue_access(self, user: str, client_id: str, provider: str,
                      scopes: tuple[str, ...] | list[str]) -> str:
        prefix = "ya29." if provider == "google" else "eyJ0eXAiOiJKV1Qi"
        with self._cond:
            access = _random(self.token_bytes, prefix)
            while access in self._tokens:
                access = _random(self.token_bytes, prefix)
            self._tokens[access] = _Token(user, client_id, frozenset(scopes),
                                          time.time() + self.expires_in)
        return access

    def _issue_refresh(self, user: str, client_id: str, provider: str, tenant: str,
                       scopes: tuple[str, ...]) -> str:
        refresh = _random(96, "1//0" if provider == "google" else "0.AXoA")
        with self._cond:
            self._refresh[refresh] = _Refresh(user, client_id, scopes, provider, tenant)
        return refresh

    def _user_tokens(self, client: _Client, provider: str, tenant: str, user: str,
                     scopes: tuple[str, ...], form: dict[str, str], nonce: str | None = None,
                     *, new_refresh: bool = True) -> _Response:
        """The answer to a delegated grant (device code, authorization code, refresh)."""
        granted = [s for s in scopes if s not in RESERVED_SCOPES] if provider == "microsoft" \
            else list(scopes)
        body: dict[str, Any] = {
            "token_type": "Bearer", "scope": " ".join(granted), "expires_in": self.expires_in,
            "access_token": self._issue_access(user, client.client_id, provider, granted),
        }
        if provider == "microsoft":
            body["ext_expires_in"] = self.expires_in
            if "offline_access" in scopes:
                body["refresh_token"] = self._issue_refresh(user, client.client_id, provider,
                                                            tenant, scopes)
            if form.get("client_info") == "1":
                body["client_info"] = _b64url(json.dumps(
                    {"uid": self._oid(user), "utid": self._tenant_id(tenant)}).encode())
        elif new_refresh:
            body["refresh_token"] = self._issue_refresh(user, client.client_id, provider,
                                                        tenant, scopes)
        if "openid" in scopes:
            body["id_token"] = self._id_token(provider, tenant, client.client_id, user, nonce)
        return _json(body)

    def _refresh_grant(self, client: _Client, provider: str, form: dict[str, str]) -> _Response:
        presented = form.get("refresh_token", "")
        time.sleep(self.refresh_hold)
        ms_scopes = self._microsoft_scopes(form) if provider == "microsoft" else ()
        with self._cond:
            record = self._refresh.get(presented)
            if record is None or not record.valid or record.provider != provider \
                    or record.client_id != client.client_id:
                if provider == "google":
                    raise _OAuthError("invalid_grant", "Token has been expired or revoked.")
                raise _OAuthError("invalid_grant", "AADSTS70000: Provided grant is invalid or "
                                  "malformed. The refresh token has been redeemed already or "
                                  "was revoked.")
            rotate = provider == "microsoft" or self.google_rotates
            if rotate:
                record.valid = False
        if provider == "microsoft":
            scopes = ms_scopes
        else:
            scopes = record.scopes
            asked = form.get("scope", "").split()
            extra = set(_google_scopes(asked)) - set(record.scopes)
            if extra:
                raise _OAuthError("invalid_scope", "Some requested scopes were invalid or were "
                                  f"not granted: {' '.join(sorted(extra))}")
        return self._user_tokens(client, provider, record.tenant, record.user, scopes, form,
                                 new_refresh=rotate)

    def _authorize(self, provider: str, tenant: str, query: dict[str, str],  # noqa: PLR0911
                   headers: dict[str, str]) -> _Response:
        """The sign-in and consent screen: errors about the client or the redirect URI are a
        page (as both providers show them); the rest redirect back to the app."""
        client_id = query.get("client_id", "")
        with self._cond:
            client = self._clients.get(client_id)
        wanted = "google" if provider == "google" else "microsoft"
        if client is None or (client.kind == "google") != (wanted == "google"):
            return _page(401, f"Error 401: invalid_client. The OAuth client {client_id!r} "
                              "was not found.")
        redirect_uri = query.get("redirect_uri", "")
        target = urlsplit(redirect_uri)
        if target.scheme != "http" or target.hostname not in _LOOPBACK or target.fragment:
            return _page(400, f"Error 400: redirect_uri_mismatch ({redirect_uri!r} is not a "
                              "loopback http:// address)")
        user = headers.get(USER_HEADER.lower())
        if not user:
            return _page(200, "Sign in")  # no (scripted) human at this browser

        def back(**params: str) -> _Response:
            params = {"state": query["state"], **params} if "state" in query else params
            if query.get("response_mode") == "form_post":  # msal's choice: a self-posting form
                inputs = "".join(f'<input type="hidden" name="{html.escape(k)}" '
                                 f'value="{html.escape(v)}">' for k, v in params.items())
                return _Response(200, (f'<!doctype html><body onload="document.forms[0].'
                                       f'submit()"><form method="post" action="'
                                       f'{html.escape(redirect_uri)}">{inputs}</form>').encode(),
                                 "text/html; charset=utf-8")
            glue = "&" if target.query else "?"
            return _Response(302, b"", "text/html",
                             {"Location": redirect_uri + glue + urlencode(params)})

        if query.get("response_type") != "code":
            return back(error="unsupported_response_type",
                        error_description="response_type must be code")
        if headers.get(CONSENT_HEADER.lower(), "yes") != "yes":
            return back(error="access_denied", error_description="The user denied access.")
        challenge = query.get("code_challenge")
        if self.require_pkce and (not challenge or query.get("code_challenge_method") != "S256"):
            return back(error="invalid_request",
                        error_description="code_challenge and code_challenge_method=S256 "
                                          "are required")
        scopes = tuple(query.get("scope", "").split())
        if provider == "google":
            scopes = _google_scopes(scopes)
            if GMAIL_SCOPE not in scopes:
                return back(error="invalid_scope",
                            error_description=f"the scope must include {GMAIL_SCOPE}")
        elif SMTP_SEND_SCOPE not in scopes:
            return back(error="invalid_scope",
                        error_description=f"AADSTS70011: the scope must include "
                                          f"{SMTP_SEND_SCOPE}")
        code = _random(72, "4/0A" if provider == "google" else "0.AXoA")
        with self._cond:
            self._codes[code] = _Code(code, provider, tenant, client_id, redirect_uri, scopes,
                                      challenge, user, query.get("nonce"), time.time() + 600)
        if provider == "google":
            return back(code=code, scope=" ".join(scopes), authuser="0", prompt="consent")
        extra = ({"client_info": _b64url(json.dumps(
            {"uid": self._oid(user), "utid": self._tenant_id(tenant)}).encode())}
            if query.get("client_info") == "1" else {})
        return back(code=code, session_state=str(uuid.uuid4()), **extra)

    def _code_grant(self, client: _Client, provider: str, form: dict[str, str]) -> _Response:
        bad = ("invalid_grant", "Bad Request" if provider == "google" else
               "AADSTS70000: Provided grant is invalid or malformed.")
        with self._cond:
            code = self._codes.get(form.get("code", ""))
            if code is None or code.provider != provider or code.client_id != client.client_id \
                    or code.redeemed or code.expires_at <= time.time():
                raise _OAuthError(*bad)
            code.redeemed = True
        if form.get("redirect_uri") != code.redirect_uri:
            raise _OAuthError("redirect_uri_mismatch" if provider == "google" else
                              "invalid_grant", "Bad Request" if provider == "google" else
                              "AADSTS50148: The redirect_uri does not match the one used in "
                              "the authorization request.")
        if code.challenge is not None:
            verifier = form.get("code_verifier")
            if not verifier:
                raise _OAuthError("invalid_grant", "Missing code verifier.")
            if _b64url(hashlib.sha256(verifier.encode()).digest()) != code.challenge:
                raise _OAuthError("invalid_grant", "Invalid code verifier.")
        return self._user_tokens(client, provider, code.tenant, code.user, code.scopes, form,
                                 code.nonce)

    # -- Google

    def _google_token(self, form: dict[str, str], headers: dict[str, str]) -> _Response:
        self._take_failure()
        grant = form.get("grant_type", "")
        if grant == JWT_BEARER_GRANT:
            return self._service_account_grant(form)
        if grant == "refresh_token":
            with self._cond:
                self.refresh_tokens_used.append(form.get("refresh_token", ""))
        basic_id, basic_secret = _basic(headers)
        client_id = form.get("client_id") or basic_id
        with self._cond:
            client = self._clients.get(client_id or "")
        if client is None or client.kind != "google":
            raise _OAuthError("invalid_client", "The OAuth client was not found.", 401)
        secret = form.get("client_secret") or basic_secret or ""
        if client.secret is None or not secrets.compare_digest(secret, client.secret):
            raise _OAuthError("invalid_client", "Unauthorized", 401)
        if grant == "authorization_code":
            return self._code_grant(client, "google", form)
        if grant == "refresh_token":
            return self._refresh_grant(client, "google", form)
        raise _OAuthError("unsupported_grant_type", f"Invalid grant_type: {grant}")

    def _service_account_grant(self, form: dict[str, str]) -> _Response:
        assertion = form.get("assertion", "")
        try:
            header = jwt.get_unverified_header(assertion)
            unverified = jwt.decode(assertion, options={"verify_signature": False})
        except jwt.PyJWTError as error:
            raise _OAuthError("invalid_grant", "Invalid JWT Signature.") from error
        with self._cond:
            account = self._service_accounts.get(str(header.get("kid")))
            if account is None:
                account = next((a for a in self._service_accounts.values()
                                if a.client_email == unverified.get("iss")), None)
        if account is None or header.get("alg") != "RS256":
            raise _OAuthError("invalid_grant", "Invalid JWT Signature.")
        try:
            claims = jwt.decode(assertion, account.public_key, algorithms=["RS256"],
                                audience=[self.google_token_uri, GOOGLE_REAL_TOKEN_URI],
                                issuer=account.client_email,
                                leeway=60, options={"require": ["iss", "aud", "exp", "iat"]})
        except jwt.InvalidAudienceError as error:
            raise _OAuthError("invalid_grant", "Invalid JWT: Failed audience check. The right "
                              f"audience is {self.google_token_uri}") from error
        except (jwt.ExpiredSignatureError, jwt.ImmatureSignatureError) as error:
            raise _OAuthError("invalid_grant", "Invalid JWT: Token must be a short-lived token "
                              "(60 minutes) and in a reasonable timeframe. Check your iat and "
                              "exp values in the JWT claim.") from error
        except jwt.PyJWTError as error:
            raise _OAuthError("invalid_grant", "Invalid JWT Signature.") from error
        if int(claims["exp"]) - int(claims["iat"]) > 3600:
            raise _OAuthError("invalid_grant", "Invalid JWT: Token must be a short-lived token "
                              "(60 minutes) and in a reasonable timeframe.")
        scopes = tuple(str(claims.get("scope", "")).split())
        if not scopes:
            raise _OAuthError("invalid_scope", "Empty or missing scope not allowed.")
        if GMAIL_SCOPE not in scopes:
            raise _OAuthError("invalid_scope", f"The scope must include {GMAIL_SCOPE}.")
        user = str(claims.get("sub") or account.client_email)
        access = self._issue_access(user, account.client_email, "google", scopes)
        return _json({"access_token": access, "expires_in": self.expires_in,
                      "token_type": "Bearer"})

    def _userinfo(self, headers: dict[str, str]) -> _Response:
        scheme, _, token = headers.get("authorization", "").partition(" ")
        user = self.check(token) if scheme.lower() == "bearer" else None
        if user is None:
            return _json({"error": "invalid_request",
                          "error_description": "Invalid Credentials"}, 401)
        return _json({"sub": str(uuid.uuid5(_NAMESPACE, user).int)[:21], "email": user,
                      "email_verified": True})


def _basic(headers: dict[str, str]) -> tuple[str | None, str | None]:
    """(client_id, client_secret) of an ``Authorization: Basic`` header (client_secret_basic,
    which requests-oauthlib uses), or (None, None)."""
    scheme, _, value = headers.get("authorization", "").partition(" ")
    if scheme.lower() != "basic":
        return None, None
    try:
        client_id, _, secret = base64.b64decode(value).decode().partition(":")
    except ValueError:
        return None, None
    return client_id, secret


def _google_scopes(scopes: tuple[str, ...] | list[str]) -> tuple[str, ...]:
    """The scopes as Google names them in its answers (``email`` -> its userinfo URL)."""
    return tuple(GOOGLE_SCOPE_ALIASES.get(scope, scope) for scope in scopes)
