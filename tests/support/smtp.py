"""Real SMTP servers on loopback (aiosmtpd), with TLS from a trustme CA, that record what
they receive: the client under test talks to them over TCP exactly as to a mail provider."""

from __future__ import annotations

import asyncio
import socket
import ssl
import time
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import trustme
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult

USERNAME = "ann@example.com"
PASSWORD = "correct horse battery staple"


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

    @property
    def connections(self) -> int:
        return len(self.peers)

    async def handle_EHLO(self, server: Any, session: Any, envelope: Any, hostname: str,
                          responses: list[str]) -> list[str]:
        self.peers.add(tuple(session.peer))
        session.host_name = hostname
        if not self.offer_auth:
            return [line for line in responses if not line.startswith("250-AUTH")]
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
        over_tls = session.ssl is not None or (  # STARTTLS, or implicit TLS
            server.transport.get_extra_info("ssl_object") is not None)
        self.logins.append((mechanism, over_tls))
        ok = auth_data.login == USERNAME.encode() and auth_data.password == PASSWORD.encode()
        return AuthResult(success=ok, handled=False)  # handled=False: aiosmtpd replies 535


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


class _Controller(Controller):
    def __init__(self, recorder: Recorder, **kwargs: Any) -> None:
        super().__init__(recorder, **kwargs)
        self.recorder = recorder

    def factory(self) -> SMTP:
        server = _BusySMTP(self.handler, **self.SMTP_kwargs)
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
          size_limit: int = 33554432) -> SmtpServer:
    """``security``: "starttls" (STARTTLS required), "ssl" (implicit TLS) or "none"
    (plaintext; with ``auth`` it even offers AUTH without TLS, as a careless server would).
    ``size_limit`` is advertised as SIZE (RFC 1870), as Postfix's message_size_limit is."""
    recorder = recorder or Recorder(offer_auth=auth)
    port = free_port()
    kwargs: dict[str, Any] = {"hostname": "127.0.0.1", "port": port,
                              "data_size_limit": size_limit}
    if auth:
        kwargs["authenticator"] = recorder.authenticate
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
