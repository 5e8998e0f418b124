"""SMTP delivery: verified TLS, AUTH only over TLS, retries of transient failures, refusals.

One connection carries every message of a run. A recipient the server refuses for good
(5xx) is reported with the server's reply; the others still get the message. Transient
trouble (4xx, a dropped connection) is retried with backoff, only for the recipients that
have not yet received the message, so nobody gets it twice from one run.
"""

from __future__ import annotations

import base64
import logging
import random
import smtplib
import socket
import ssl
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from mailpage_cli.credentials import Secret
from mailpage_cli.errors import (
    AuthError,
    ConfigError,
    InterruptedSendError,
    TLSError,
    UnavailableError,
)
from mailpage_cli.models import Delivery

log = logging.getLogger(__name__)

TIMEOUT = 30.0
ATTEMPTS = 4
BACKOFF = 1.0  # seconds before the second attempt; doubles, with jitter


@dataclass(frozen=True)
class Account:
    host: str
    port: int
    security: str  # ssl | starttls | none
    username: str | None = None
    password: Secret | None = field(default=None, repr=False)
    ca_file: Path | None = None
    timeout: float | None = None  # None: TIMEOUT


@dataclass(frozen=True)
class Envelope:
    sender: str
    recipients: tuple[str, ...]
    message: Callable[[], bytes]  # made when sent: 500 personal copies are never all in memory


class _TransientError(Exception):
    """A failure worth another attempt."""


@dataclass
class _Report:
    """What happened so far to one envelope's recipients."""

    envelope: Envelope
    in_flight: tuple[str, ...] = ()  # sent, the server's answer not yet in
    delivered: list[str] = field(default_factory=list)
    refused: dict[str, str] = field(default_factory=dict)
    deferred: dict[str, str] = field(default_factory=dict)  # last 4xx reply, worth a retry

    def pending(self) -> list[str]:
        done = set(self.delivered) | set(self.refused)
        return [a for a in self.envelope.recipients if a not in done]

    def freeze(self) -> Delivery:
        """After the last attempt a 4xx stands as the refusal; the rest were not attempted."""
        refused = dict(self.refused)
        not_attempted = []
        for address in self.pending():
            if address in self.deferred:
                refused[address] = self.deferred[address]
            else:
                not_attempted.append(address)
        return Delivery(tuple(self.delivered), refused, tuple(not_attempted))


def tls_context(ca_file: Path | None) -> ssl.SSLContext:
    """The system's trust store, plus ``ca_file`` as an extra anchor; always verifying."""
    context = ssl.create_default_context()
    if ca_file:
        try:
            context.load_verify_locations(cafile=str(ca_file))
        except (OSError, ssl.SSLError) as exc:
            raise ConfigError(
                f"Cannot load the CA file {ca_file} ({exc})",
                "Point `mailpage config set-smtp --ca-file` or MAILPAGE_SMTP_CA_FILE at a PEM"
                " file.",
            ) from exc
    return context


def _step(name: str, started: float, reply: object = "") -> None:
    log.debug("smtp %s %s %.0f ms", name, reply, (time.perf_counter() - started) * 1000)


class Connection:
    """An open, authenticated SMTP session."""

    def __init__(self, account: Account) -> None:
        self.account = account
        self.smtp = self._open()

    def _open(self) -> smtplib.SMTP:
        account = self.account
        if account.security == "none" and account.username:
            raise ConfigError(
                "Refusing to send the SMTP password over an unencrypted connection",
                "Use `mailpage config set-smtp --security starttls` (or ssl), or remove the"
                " username if the server needs no login.",
            )
        # Loading the system's CA store costs 30 ms: only for a connection that uses TLS.
        context = tls_context(account.ca_file) if account.security != "none" else None
        timeout = account.timeout or TIMEOUT
        started = time.perf_counter()
        try:
            if account.security == "ssl":
                smtp: smtplib.SMTP = smtplib.SMTP_SSL(
                    account.host, account.port, timeout=timeout, context=context
                )
            else:
                smtp = smtplib.SMTP(account.host, account.port, timeout=timeout)
            _step(f"connect {account.security}", started)
            # Commands and data go out in small writes that wait for replies: without this,
            # Nagle's algorithm and delayed ACKs add 40 ms to every message.
            if smtp.sock is not None:
                smtp.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            smtp.ehlo()
            if account.security == "starttls":
                assert context is not None  # noqa: S101 - made above for all but "none"
                self._starttls(smtp, context)
            if account.username:
                self._login(smtp)
        except ssl.SSLCertVerificationError as exc:
            raise TLSError(
                f"The certificate of {account.host} is not trusted ({exc.verify_message})",
                "If the server uses a private CA, add it with `mailpage config set-smtp --ca-file"
                " PEM` or MAILPAGE_SMTP_CA_FILE; check the host name matches the certificate.",
            ) from exc
        except ssl.SSLError as exc:
            raise TLSError(
                f"TLS with {account.host}:{account.port} failed ({exc.reason or exc})",
                f"Check that --security {account.security} suits port {account.port}"
                " (usually 465 is ssl, 587 is starttls).",
            ) from exc
        except (TimeoutError, smtplib.SMTPServerDisconnected) as exc:
            if not isinstance(exc, TimeoutError) and not isinstance(exc.__context__, TimeoutError):
                raise _TransientError(str(exc) or type(exc).__name__) from exc
            # A server that does not even greet will not do better on a retry; often the
            # security mode does not suit the port (a TLS port waits for us to speak first).
            raise UnavailableError(
                f"{account.host}:{account.port} did not answer within {timeout:g} s",
                "Check host, port and --security (465 is usually ssl, 587 starttls),"
                " or try again later.",
            ) from exc
        except smtplib.SMTPConnectError as exc:
            raise _TransientError(f"the server refused the connection ({exc.smtp_code})") from exc
        except OSError as exc:
            raise _TransientError(str(exc) or type(exc).__name__) from exc
        return smtp

    def _starttls(self, smtp: smtplib.SMTP, context: ssl.SSLContext) -> None:
        if not smtp.has_extn("starttls"):
            smtp.close()
            raise TLSError(
                f"{self.account.host}:{self.account.port} does not offer STARTTLS",
                "Check the port (465 is usually `--security ssl`), or ask the mail admin."
                " mailpage never falls back to an unencrypted connection.",
            )
        started = time.perf_counter()
        code, _ = smtp.starttls(context=context)
        _step("starttls", started, code)
        smtp.ehlo()

    def _login(self, smtp: smtplib.SMTP) -> None:
        account = self.account
        if not smtp.has_extn("auth"):
            smtp.close()
            raise ConfigError(
                f"{account.host} offers no login (AUTH), but a username is configured",
                "Remove the username with `mailpage config set-smtp --host HOST` (no --username),"
                " or check the host and port.",
            )
        started = time.perf_counter()
        username = account.username or ""
        password = account.password.reveal() if account.password else ""
        try:
            if (username + password).isascii():
                code, _ = smtp.login(username, password)
            else:  # smtplib encodes AUTH as ASCII; PLAIN is UTF-8 by RFC 4616
                code = _login_plain_utf8(smtp, username, password)
        except smtplib.SMTPAuthenticationError as exc:
            smtp.close()
            raise AuthError(
                f"The SMTP server refused the login ({exc.smtp_code})",
                "Check the username and store the right password with"
                " `mailpage config set-smtp --password-stdin` or MAILPAGE_SMTP_PASSWORD.",
            ) from None
        _step("auth", started, code)

    def send(self, report: _Report) -> None:
        """One transaction to the recipients still pending; the outcome goes into ``report``."""
        smtp, envelope, recipients = self.smtp, report.envelope, report.pending()
        if not recipients:
            return
        started = time.perf_counter()
        code, reply = smtp.mail(envelope.sender)
        _step("mail", started, code)
        if code == 552:  # the message is too big for the server: every recipient refused
            for address in recipients:
                report.refused[address] = _reply(code, reply)
            smtp.rset()
            return
        if code >= 500:
            raise ConfigError(
                f"The SMTP server refused the sender address ({_reply(code, reply)})",
                "Check sender.address (`mailpage config set-sender --address`) is allowed"
                " for this SMTP account.",
            )
        if code >= 400:
            smtp.rset()
            raise _TransientError(_reply(code, reply))
        accepted = self._rcpt(recipients, report)
        if not accepted:
            smtp.rset()
            return
        started = time.perf_counter()
        report.in_flight = tuple(accepted)
        code, reply = _data(smtp, envelope.message())
        report.in_flight = ()
        _step("data", started, code)
        for address in accepted:
            if code == 250:
                report.delivered.append(address)
            elif code >= 500:
                report.refused[address] = _reply(code, reply)
            else:
                report.deferred[address] = _reply(code, reply)

    def _rcpt(self, recipients: list[str], report: _Report) -> list[str]:
        """RCPT each address; returns those accepted, records the others in ``report``."""
        accepted = []
        for address in recipients:
            started = time.perf_counter()
            code, reply = self.smtp.rcpt(address)
            _step("rcpt", started, code)
            if code in (250, 251):
                accepted.append(address)
            elif code >= 500:
                report.refused[address] = _reply(code, reply)
            else:
                report.deferred[address] = _reply(code, reply)
        return accepted

    def close(self) -> None:
        started = time.perf_counter()
        try:
            self.smtp.quit()
        except (smtplib.SMTPException, OSError):
            self.smtp.close()
        _step("quit", started)


def _login_plain_utf8(smtp: smtplib.SMTP, username: str, password: str) -> int:
    if "PLAIN" not in smtp.esmtp_features.get("auth", "").upper().split():
        raise ConfigError("The SMTP server cannot take a non-ASCII username or password",
                          "It offers no AUTH PLAIN; use an ASCII password.")
    token = base64.b64encode(f"\0{username}\0{password}".encode()).decode("ascii")
    code, reply = smtp.docmd("AUTH", f"PLAIN {token}")
    if code != 235:
        raise smtplib.SMTPAuthenticationError(code, reply)
    return code


CHUNK = 1 << 20


def _data(smtp: smtplib.SMTP, data: bytes) -> tuple[int, bytes]:
    """DATA, streamed: the message (already CRLF) goes out a megabyte at a time, each chunk
    dot-stuffed on its own. smtplib's ``data()`` makes three whole copies first, which for a
    20 MB message is 60 MB more memory than the sending needs."""
    code, reply = smtp.docmd("data")
    if code != 354:  # refused before the message: the transaction is still open
        smtp.rset()
        return code, reply
    start, size = 0, len(data)
    while start < size:
        # Cut just before a CRLF: a "\r\n." never straddles two chunks.
        end = data.find(b"\r\n", min(start + CHUNK, size))
        end = size if end == -1 else end
        chunk = data[start:end].replace(b"\r\n.", b"\r\n..")
        if start == 0 and chunk.startswith(b"."):
            chunk = b"." + chunk
        if end == size:  # the terminator rides with the last chunk: one write, no stall
            chunk += b".\r\n" if chunk.endswith(b"\r\n") else b"\r\n.\r\n"
        smtp.send(chunk)
        start = end
    return smtp.getreply()


def _reply(code: int, reply: bytes) -> str:
    return f"{code} {reply.decode('utf-8', 'replace')}".strip()


def deliver(
    account: Account,
    envelopes: Sequence[Envelope],
    *,
    attempts: int = ATTEMPTS,
    sleep: Callable[[float], None] = time.sleep,
) -> list[Delivery]:
    """Send every envelope over one connection (reopened only after a transient failure).

    Raises :class:`UnavailableError` when nothing at all could be delivered or refused.
    """
    reports = [_Report(e) for e in envelopes]
    connection: Connection | None = None
    last_error = ""
    try:
        for attempt in range(attempts):
            if attempt:
                sleep(BACKOFF * 2 ** (attempt - 1) * random.uniform(0.75, 1.25))  # noqa: S311
            try:
                connection = connection or Connection(account)
                for report in reports:
                    connection.send(report)
            except (_TransientError, OSError) as exc:  # smtplib's errors are OSErrors
                last_error = _describe(exc)
                if connection:
                    connection.smtp.close()
                connection = None
            if not any(report.pending() for report in reports):
                break
    except KeyboardInterrupt:
        if connection:  # no polite QUIT: it would wait for the answer being interrupted
            connection.smtp.close()
            connection = None
        raise InterruptedSendError(
            delivered=tuple(a for r in reports for a in r.delivered),
            unknown=tuple(a for r in reports for a in r.in_flight),
            not_sent=tuple(a for r in reports for a in r.pending() if a not in r.in_flight),
        ) from None
    finally:
        if connection:
            connection.close()
    if all(not r.delivered and not r.refused for r in reports):
        raise UnavailableError(
            f"The SMTP server could not take the message ({last_error or 'try again'})",
            "Nothing was sent; try again later.",
        )
    return [report.freeze() for report in reports]


def _describe(exc: BaseException) -> str:
    if isinstance(exc, smtplib.SMTPResponseException):
        error = exc.smtp_error
        return _reply(exc.smtp_code, error if isinstance(error, bytes) else error.encode())
    return str(exc) or type(exc).__name__


def check(account: Account) -> None:
    """Connect, secure, log in and quit: proves the account without sending anything."""
    try:
        Connection(account).close()
    except (_TransientError, OSError) as exc:
        raise UnavailableError(f"Cannot talk to the SMTP server ({_describe(exc)})",
                               "Check host and port, or try again later.") from None
