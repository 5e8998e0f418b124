"""Real SMTP servers on loopback (aiosmtpd), with TLS from a trustme CA, that record what
they receive: the client under test talks to them over TCP exactly as to a mail provider.

With ``start(..., oauth=idp)`` a server also takes OAuth2 bearer tokens (SASL XOAUTH2, as
Gmail and Exchange Online do, and OAUTHBEARER, RFC 7628) and checks them against the
:class:`tests.support.idp.IdentityProvider` that issued them."""

from __future__ import annotations

import asyncio
import base64
import binascii
import collections
import json
import re
import socket
import ssl
import time
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import TYPE_CHECKING, Any

import trustme
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import MISSING, SMTP, AuthResult

if TYPE_CHECKING:
    from tests.support.idp import IdentityProvider

USERNAME = "ann@example.com"
PASSWORD = "correct horse battery staple"
OAUTH_MECHANISMS = ("XOAUTH2", "OAUTHBEARER")
PASSWORD_MECHANISMS = ("LOGIN", "PLAIN")
AUTH_LINE_LIMIT = 12288  # RFC 4954 section 4: an AUTH line (and each response) may be this long
# What Gmail says about a bad token, base64'd into a 334 before its final 535:
OAUTH_ERROR_CHALLENGE = json.dumps(
    {"status": "400", "schemes": "Bearer", "scope": "https://mail.google.com/"})
OAUTH_REFUSED = "535 5.7.8 Username and Password not accepted"
_XOAUTH2 = re.compile(rb"user=([^\x01]+)\x01auth=Bearer ([\x21-\x7e]+)\x01\x01")
_OAUTHBEARER = re.compile(rb"n,a=([^,\x01]+),\x01((?:[A-Za-z]+=[^\x01]*\x01)+)\x01")


@dataclass
class Received:
    mail_from: str
    rcpt_tos: list[str]
    data: bytes

    @property
    def message(self) -> EmailMessage:
        return message_from_bytes(self.data, policy=policy.default)  # type: ignore[return-value]


@dataclass
class Recorder:
    """aiosmtpd handler: records messages and logins; refuses the addresses in ``refuse``."""

    refuse: dict[str, str] = field(default_factory=dict)
    received: list[Received] = field(default_factory=list)
    logins: list[tuple[str, bool]] = field(default_factory=list)  # (mechanism, over TLS)
    peers: set[tuple[str, int]] = field(default_factory=set)  # one client port a connection
    offer_auth: bool = True
    busy: int = 0  # the next N connections get "421" and are closed
    drop_at_data: int = 0  # the next N DATA commands drop the connection (no message yet)
    queue_then_drop: int = 0  # the next N messages are queued, then dropped without a reply
    refuse_data: int = 0  # the next N DATA commands are answered 554 (the transaction stays)
    stall_rcpt: float = 0.0  # seconds each RCPT waits before it is answered
    stall_data: float = 0.0  # seconds each message waits after its final dot for the reply
    data_started: list[list[str]] = field(default_factory=list)  # recipients, as DATA begins
    mail_options: list[list[str]] = field(default_factory=list)  # of each MAIL FROM, at DATA
    accepted_at: list[float] = field(default_factory=list)  # time.monotonic() of each 250
    password_failure: str | None = None  # set: LOGIN/PLAIN get exactly this reply
    # OAuth2 (start(..., oauth=idp)):
    oauth: IdentityProvider | None = None  # checks the bearer tokens
    mechanisms: tuple[str, ...] = ()  # advertised in this order (with oauth only)
    oauth_failure: str | None = None  # set: every OAuth AUTH gets exactly this reply
    # (mechanism, "inline" | "two-step", len(token), user) of each well-formed OAuth AUTH:
    oauth_logins: list[tuple[str, str, int, str]] = field(default_factory=list)
    oauth_fields: list[dict[str, str]] = field(default_factory=list)  # OAUTHBEARER key=values
    oauth_malformed: list[str] = field(default_factory=list)  # why each unparseable one was
    oauth_error_acks: int = 0  # "AQ==" (\x01) answers to the 334 error challenge

    @property
    def connections(self) -> int:
        return len(self.peers)

    async def handle_EHLO(self, server: Any, session: Any, envelope: Any, hostname: str,
                          responses: list[str]) -> list[str]:
        self.peers.add(tuple(session.peer))
        session.host_name = hostname
        if not self.offer_auth:
            return [line for line in responses if not line.startswith("250-AUTH")]
        if self.oauth is not None:  # aiosmtpd sorts them; providers have their own order
            return [f"250-AUTH {' '.join(self.mechanisms)}" if line.startswith("250-AUTH ")
                    else line for line in responses]
        return responses

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str,
                          rcpt_options: list[str]) -> str:
        if self.stall_rcpt:
            await asyncio.sleep(self.stall_rcpt)
        if address in self.refuse:
            return self.refuse[address]
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.data_started.append(list(envelope.rcpt_tos))
        self.mail_options.append(list(envelope.mail_options))
        if self.stall_data:
            await asyncio.sleep(self.stall_data)
        self.received.append(Received(envelope.mail_from, list(envelope.rcpt_tos),
                                      envelope.original_content))
        if self.queue_then_drop > 0:  # a load balancer's idle timeout, a crashed filter
            self.queue_then_drop -= 1
            server.transport.abort()
            return "421 4.4.2 Connection dropped"
        self.accepted_at.append(time.monotonic())
        return "250 Message accepted for delivery"

    def authenticate(self, server: Any, session: Any, envelope: Any, mechanism: str,
                     auth_data: Any) -> AuthResult:
        self.logins.append((mechanism, _over_tls(server, session)))
        if self.password_failure is not None:  # e.g. Exchange Online without basic auth
            return AuthResult(success=False, handled=False, message=self.password_failure)
        ok = auth_data.login == USERNAME.encode() and auth_data.password == PASSWORD.encode()
        return AuthResult(success=ok, handled=False)  # handled=False: aiosmtpd replies 535


def _over_tls(server: Any, session: Any) -> bool:
    return session.ssl is not None or (  # STARTTLS, or implicit TLS
        server.transport.get_extra_info("ssl_object") is not None)


class _BusySMTP(SMTP):
    """Says 421 to the first ``recorder.busy`` connections, as a server under load does; drops
    the first ``recorder.drop_at_data`` DATA commands and answers the next
    ``recorder.refuse_data`` with 554."""

    recorder: Recorder

    async def _handle_client(self) -> None:
        if self.recorder.busy > 0:
            self.recorder.busy -= 1
            await self.push("421 4.3.2 Too busy, try again later")
            assert self.transport is not None
            self.transport.close()
            return
        await super()._handle_client()

    async def smtp_DATA(self, arg: str) -> None:
        if self.recorder.drop_at_data > 0:
            self.recorder.drop_at_data -= 1
            assert self.transport is not None
            self.transport.abort()
            return
        if self.recorder.refuse_data > 0:
            self.recorder.refuse_data -= 1
            await self.push("554 5.7.1 Transaction refused")
            return
        await super().smtp_DATA(arg)


class _OAuthSMTP(_BusySMTP):
    """Also takes XOAUTH2 and OAUTHBEARER, inline (``AUTH XOAUTH2 <b64>``) or in two steps
    (``AUTH XOAUTH2``, ``334 ``, ``<b64>``), with AUTH lines up to 12288 octets (a 3 KB
    token is 4 KB of base64). A bad token gets Gmail's answer: a 334 with a JSON error, and,
    after the client's ``AQ==``, a 535. Which mechanisms EHLO offers is ``start``'s choice
    (aiosmtpd's ``auth_exclude_mechanism``)."""

    line_length_limit = AUTH_LINE_LIMIT + 2  # what SMTP.__init__ gives the StreamReader

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.line_length_limit = 1001  # a message's lines: RFC 5321's limit, as elsewhere
        self.command_size_limits = collections.defaultdict(
            lambda: SMTP.command_size_limit, {"AUTH": AUTH_LINE_LIMIT})

    async def auth_XOAUTH2(self, _: Any, args: list[str]) -> AuthResult:
        return await self._oauth("XOAUTH2", args)

    async def auth_OAUTHBEARER(self, _: Any, args: list[str]) -> AuthResult:
        return await self._oauth("OAUTHBEARER", args)

    async def _oauth(self, mechanism: str, args: list[str]) -> AuthResult:
        recorder = self.recorder
        assert recorder.oauth is not None
        recorder.logins.append((mechanism, _over_tls(self, self.session)))
        handled = AuthResult(success=False, handled=True)  # the reply has been sent
        form = "two-step" if len(args) == 1 else "inline"
        blob = await self._initial_response(args)
        if blob is None:
            return handled
        parsed = (_parse_xoauth2(blob) if mechanism == "XOAUTH2"
                  else self._parse_oauthbearer(blob))
        if isinstance(parsed, str):
            recorder.oauth_malformed.append(f"{mechanism} {form}: {parsed}")
            await self.push("501 5.5.2 Cannot Decode response")
            return handled
        user, token = parsed
        recorder.oauth_logins.append((mechanism, form, len(token), user))
        if recorder.oauth_failure is not None:  # e.g. Exchange Online's tenant switch is off
            await self.push(recorder.oauth_failure)
            return handled
        owner = recorder.oauth.check(token)
        if owner is not None and (owner.startswith("app:") or owner.lower() == user.lower()):
            return AuthResult(success=True, auth_data=user)  # "235 2.7.0 Authentication ..."
        answer = await self.challenge_auth(OAUTH_ERROR_CHALLENGE)
        if answer is MISSING:
            return handled
        if answer == b"\x01":
            recorder.oauth_error_acks += 1
        return AuthResult(success=False, handled=False, message=OAUTH_REFUSED)

    async def _initial_response(self, args: list[str]) -> bytes | None:
        """The client's decoded response, inline or after a "334 "; None once a 501 has been
        sent for bad base64 or a "*" (the client gave up)."""
        if len(args) == 1:
            blob = await self.challenge_auth("")  # "334 ", then the client's base64
            return blob if isinstance(blob, bytes) else None  # MISSING: aiosmtpd said 501
        try:
            return base64.b64decode(args[1], validate=True)
        except binascii.Error:
            await self.push("501 5.5.2 Can't decode base64")
            return None

    def _parse_oauthbearer(self, blob: bytes) -> tuple[str, str] | str:
        """(user, token) of ``n,a=U,^Ahost=H^Aport=P^Aauth=Bearer T^A^A`` (RFC 7628; a= is
        required here, as the token is checked against it), or what is wrong with it."""
        match = _OAUTHBEARER.fullmatch(blob)
        if not match:
            return "not n,a=U,^A(key=value^A)+^A"
        pairs = [pair.partition(b"=") for pair in match.group(2).split(b"\x01")[:-1]]
        fields = {key.decode(): value.decode("utf-8", "replace") for key, _, value in pairs}
        self.recorder.oauth_fields.append(fields)
        scheme, _, token = fields.get("auth", "").partition(" ")
        saslname = match.group(1)
        problems = [
            (len(fields) != len(pairs), "a key appears twice"),
            (scheme != "Bearer" or not re.fullmatch(r"[\x21-\x7e]+", token), "no auth=Bearer T"),
            ("port" in fields and not fields["port"].isdigit(), "port is not a number"),
            (re.search(rb"=(?!2C|3D)", saslname) is not None,  # RFC 5801: "=2C" and "=3D"
             "a bare '=' in a="),
        ]
        for wrong, why in problems:
            if wrong:
                return why
        return _decoded(saslname.replace(b"=2C", b",").replace(b"=3D", b"="), token.encode())


def _parse_xoauth2(blob: bytes) -> tuple[str, str] | str:
    """(user, token) of ``user=U^Aauth=Bearer T^A^A``, or what is wrong with it."""
    match = _XOAUTH2.fullmatch(blob)
    if not match:
        return "not user=U^Aauth=Bearer T^A^A"
    return _decoded(match.group(1), match.group(2))


def _decoded(user: bytes, token: bytes) -> tuple[str, str] | str:
    try:
        return user.decode(), token.decode()
    except UnicodeDecodeError:
        return "the user is not UTF-8"


class _Controller(Controller):
    def __init__(self, recorder: Recorder, **kwargs: Any) -> None:
        super().__init__(recorder, **kwargs)
        self.recorder = recorder

    def factory(self) -> SMTP:
        kind = _OAuthSMTP if self.recorder.oauth is not None else _BusySMTP
        server = kind(self.handler, **self.SMTP_kwargs)
        server.recorder = self.recorder
        return server


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class SmtpServer:
    host: str
    port: int
    security: str
    recorder: Recorder
    controller: Controller

    @property
    def received(self) -> list[Received]:
        return self.recorder.received

    def env(self, ca_file: Path | None = None, *, login: bool = True,
            password: bool = False) -> dict[str, str]:
        """The MAILPAGE_* variables that point mailpage at this server (``password``: the
        right one in MAILPAGE_SMTP_PASSWORD too)."""
        env = {
            "MAILPAGE_SMTP_HOST": self.host,
            "MAILPAGE_SMTP_PORT": str(self.port),
            "MAILPAGE_SMTP_SECURITY": self.security,
        }
        if login:
            env["MAILPAGE_SMTP_USERNAME"] = USERNAME
        if ca_file:
            env["MAILPAGE_SMTP_CA_FILE"] = str(ca_file)
        if password:
            env["MAILPAGE_SMTP_PASSWORD"] = PASSWORD
        return env

    def stop(self) -> None:
        self.controller.stop()


def server_context(ca: trustme.CA, *names: str) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert(*(names or ("localhost", "127.0.0.1"))).configure_cert(context)
    return context


def start(security: str, ca: trustme.CA | None = None, *, auth: bool = True,
          recorder: Recorder | None = None, cert_names: tuple[str, ...] = (),
          size_limit: int = 33554432, oauth: IdentityProvider | None = None,
          mechanisms: tuple[str, ...] = OAUTH_MECHANISMS) -> SmtpServer:
    """``security``: "starttls" (STARTTLS required), "ssl" (implicit TLS) or "none"
    (plaintext; with ``auth`` it even offers AUTH without TLS, as a careless server would).
    ``size_limit`` is advertised as SIZE (RFC 1870), as Postfix's message_size_limit is.

    ``oauth``: also take bearer tokens that identity provider issued; EHLO then offers
    exactly ``mechanisms``, in that order (any of XOAUTH2, OAUTHBEARER, LOGIN, PLAIN:
    ("LOGIN", "XOAUTH2") is Exchange Online). Without ``oauth``, ``mechanisms`` is ignored:
    the server offers LOGIN and PLAIN, as it always has."""
    recorder = recorder or Recorder(offer_auth=auth)
    port = free_port()
    kwargs: dict[str, Any] = {"hostname": "127.0.0.1", "port": port,
                              "data_size_limit": size_limit}
    if auth:
        kwargs["authenticator"] = recorder.authenticate
    if oauth is not None:
        known = OAUTH_MECHANISMS + PASSWORD_MECHANISMS
        if not auth or not mechanisms or not set(mechanisms) <= set(known):
            raise ValueError(f"oauth needs auth and mechanisms among {known}")
        recorder.oauth = oauth
        recorder.mechanisms = mechanisms
        kwargs["auth_exclude_mechanism"] = [m for m in known if m not in mechanisms]
    if security == "starttls":
        assert ca is not None
        kwargs |= {"tls_context": server_context(ca, *cert_names), "require_starttls": True,
                   "auth_require_tls": True}
    elif security == "ssl":
        assert ca is not None
        # aiosmtpd counts only STARTTLS as TLS for auth_require_tls; implicit TLS is TLS too.
        kwargs |= {"ssl_context": server_context(ca, *cert_names), "auth_require_tls": False}
    else:
        kwargs |= {"auth_require_tls": False}
    controller = _Controller(recorder, **kwargs)
    controller.start()
    return SmtpServer("localhost", port, security, recorder, controller)
