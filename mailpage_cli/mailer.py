"""SMTP delivery: verified TLS, AUTH only over TLS, retries of transient failures, refusals.

One connection carries every message of a run. A recipient the server refuses for good
(5xx) is reported with the server's reply; the others still get the message. Transient
trouble (4xx, a dropped connection) is retried with backoff, only for the recipients that
have not yet received the message, so nobody gets it twice from one run. A message whose
final reply never came (the connection dropped or timed out after the last dot of DATA) may
have been queued: its recipients are "unknown" and never retried.
"""

from __future__ import annotations

import base64
import contextlib
import json
import logging
import smtplib
import socket
import ssl
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

from mailpage_cli import settings
from mailpage_cli.choices import Security
from mailpage_cli.errors import (
    AuthError,
    ConfigError,
    InterruptedSendError,
    MailpageError,
    PolicyError,
    StateError,
    TLSError,
    UnavailableError,
)
from mailpage_cli.models import Delivery, Secret
from mailpage_cli.retry import SYSTEM_CLOCK, Backoff, Clock, TransientError

log = logging.getLogger(__name__)

TIMEOUT = 30.0
# RFC 5321 4.5.3.2.6: wait 10 minutes for the reply to the final dot; content filters run then.
FINAL_REPLY_TIMEOUT = 600.0
# At most 4 attempts; waits of 1, 2, 4 s before the 2nd to 4th, each within 25 %.
RETRIES = Backoff(attempts=4, base=1.0, jitter=(0.75, 1.25))


@dataclass(frozen=True)
class Account:
    host: str
    port: int
    security: Security
    username: str | None = None
    password: Secret | None = field(default=None, repr=False)
    ca_file: Path | None = None
    timeout: float | None = None  # None: TIMEOUT
    token: Secret | None = field(default=None, repr=False)  # OAuth2: XOAUTH2 or OAUTHBEARER
    profile: str = "default"  # for the commands that fix hints give
    in_file: bool = False  # the profile's account as the config file holds it

    def set_smtp(self, *more: str) -> str:
        """The ``config set-smtp`` command that keeps this account and adds ``more``; for a
        new password alone, the short one when the account is the config file's."""
        if self.in_file and more == ("--password-stdin",):
            return settings.smtp_password_command(self.profile)
        if self.token:  # the OAuth2 options are many: the person adds them
            return (f"{settings.mailpage_command(self.profile)} config set-smtp"
                    f" --auth oauth2 ... {' '.join(more)}")
        return settings.smtp_command(self.host, self.port, self.security, self.username,
                                        self.profile, self.ca_file, *more)

    def sasl(self, mechanism: str) -> str:
        """The OAuth2 SASL response for ``mechanism`` (RFC 7628; Google's XOAUTH2)."""
        token = self.token.reveal() if self.token else ""
        if mechanism == "OAUTHBEARER":
            return (f"n,a={self.username},\x01host={self.host}\x01port={self.port}"
                    f"\x01auth=Bearer {token}\x01\x01")
        return f"user={self.username}\x01auth=Bearer {token}\x01\x01"

    def secret_forms(self) -> list[str]:
        """The secret in every form it crosses the wire in, to mask in what servers say."""
        if self.token:
            sent = [self.sasl("XOAUTH2"), self.sasl("OAUTHBEARER")]
            secret = self.token.reveal()
        elif self.password:
            secret = self.password.reveal()
            sent = [secret, f"\0{self.username or ''}\0{secret}"]
        else:
            return []
        return [secret, *(base64.b64encode(form.encode()).decode() for form in sent)]


@dataclass(frozen=True)
class Envelope:
    sender: str
    recipients: tuple[str, ...]
    message: Callable[[], bytes]  # made when sent: 500 personal copies are never all in memory


@dataclass
class _Report:
    """What happened so far to one envelope's recipients."""

    envelope: Envelope
    in_flight: tuple[str, ...] = ()  # sent, the server's answer not yet in
    delivered: list[str] = field(default_factory=list)
    unknown: list[str] = field(default_factory=list)  # the final reply was lost: may have it
    refused: dict[str, str] = field(default_factory=dict)
    deferred: dict[str, str] = field(default_factory=dict)  # last 4xx reply, worth a retry
    told: tuple[int, int] = (0, 0)  # how many delivered and unknown ``on_sent`` has heard of

    def pending(self) -> list[str]:
        done = set(self.delivered) | set(self.refused) | set(self.unknown)
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
        return Delivery(tuple(self.delivered), refused, tuple(not_attempted),
                        tuple(self.unknown))


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


def _refuse_mistakes(account: Account) -> None:
    """Settings that can only fail, caught before any connection."""
    settings.check_smtp_host(account.host, settings.mailpage_command(account.profile))
    if account.security == "none" and account.username:
        raise ConfigError(
            "Refusing to send the SMTP password over an unencrypted connection",
            "Use `mailpage config set-smtp --security starttls` (or ssl), or remove the"
            " username if the server needs no login.",
        )


def _unknown_host(host: str, exc: socket.gaierror) -> Exception:
    if exc.errno == socket.EAI_AGAIN:  # the resolver is down: that may pass
        return TransientError(f"cannot look up {host}: {exc.strerror}")
    # No such name: a typo, which no retry will fix.
    return ConfigError(
        f"Cannot find the SMTP server {host} ({exc.strerror})",
        "Check the host name with `mailpage config set-smtp --host` (or MAILPAGE_SMTP_HOST).",
    )


def _unreachable(account: Account, exc: OSError) -> Exception:
    """A connection that failed: retried, since a server restarting refuses connections too;
    the words say whether anything listened at all (a wrong host or port, if it lasts)."""
    where = f"{account.host}:{account.port}"
    if isinstance(exc, ConnectionRefusedError):
        return TransientError(f"nothing listens at {where}: connection refused")
    return TransientError(f"cannot talk to {where}: {_describe(exc, account)}")


def _step(name: str, started: float, reply: object = "") -> None:
    """One debug line: the step, the server's reply code if it gave one, how long it took."""
    said = f" {reply}" if reply != "" else ""
    log.debug("smtp %s%s %.0f ms", name, said, (time.perf_counter() - started) * 1000)


class Connection:
    """An open, authenticated SMTP session."""

    def __init__(self, account: Account) -> None:
        self.account = account
        self.smtp = self._open()

    def _open(self) -> smtplib.SMTP:
        account = self.account
        _refuse_mistakes(account)
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
                "If the server uses a private CA, add it with"
                f" `{account.set_smtp('--ca-file', 'PEM')}` (PEM: its certificate) or"
                " MAILPAGE_SMTP_CA_FILE; check the host name matches the certificate.",
            ) from exc
        except ssl.SSLError as exc:
            raise TLSError(
                f"TLS with {account.host}:{account.port} failed ({exc.reason or exc})",
                f"Check that --security {account.security} suits port {account.port}"
                " (usually 465 is ssl, 587 is starttls).",
            ) from exc
        except (TimeoutError, smtplib.SMTPServerDisconnected) as exc:
            if not isinstance(exc, TimeoutError) and not isinstance(exc.__context__, TimeoutError):
                raise TransientError(str(exc) or type(exc).__name__) from exc
            # A server that does not even greet will not do better on a retry; often the
            # security mode does not suit the port (a TLS port waits for us to speak first).
            raise UnavailableError(
                f"{account.host}:{account.port} did not answer within {timeout:g} s",
                "Check host, port and --security (465 is usually ssl, 587 starttls),"
                " or try again later.",
            ) from exc
        except smtplib.SMTPConnectError as exc:
            raise TransientError(f"the server refused the connection ({exc.smtp_code})") from exc
        except socket.gaierror as exc:
            raise _unknown_host(account.host, exc) from None
        except OSError as exc:
            raise _unreachable(account, exc) from exc
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
        said: list[bytes] = []  # what the server said in its 334 challenges
        try:
            if account.token:
                code = _login_oauth(smtp, account, said)
            elif (username + password).isascii():
                code, _ = smtp.login(username, password)
            else:  # smtplib encodes AUTH as ASCII; PLAIN is UTF-8 by RFC 4616
                code = _login_plain_utf8(smtp, username, password)
        except smtplib.SMTPAuthenticationError as exc:
            smtp.close()
            raise _login_refused(exc, account, said) from None
        _step("auth", started, code)

    def send(self, report: _Report) -> None:
        """One transaction to the recipients still pending; the outcome goes into ``report``."""
        smtp, envelope, recipients = self.smtp, report.envelope, report.pending()
        if not recipients:
            return
        data = envelope.message()
        if not self._mail(envelope.sender, len(data), recipients, report):
            return
        accepted = self._rcpt(recipients, report)
        if not accepted:
            smtp.rset()
            return
        started = time.perf_counter()
        code, reply = smtp.docmd("data")
        if code == 354:
            _send_data(smtp, data)
            # From the final dot on, the server may queue the message whatever happens to
            # its reply: a lost reply leaves these recipients "unknown", never retried.
            report.in_flight = tuple(accepted)
            code, reply = self._final_reply()
            report.in_flight = ()
        else:  # refused before the message: the transaction is still open
            smtp.rset()
        _step("data", started, code)
        for address in accepted:
            if code == 250:
                report.delivered.append(address)
            elif code >= 500:
                report.refused[address] = _reply(code, reply, self.account)
            else:
                report.deferred[address] = _reply(code, reply, self.account)

    def _mail(self, sender: str, size: int, recipients: list[str], report: _Report) -> bool:
        """MAIL FROM; False when the server refused the message for every recipient."""
        started = time.perf_counter()
        code, reply = self.smtp.mail(sender, self._size_option(size))
        _step("mail", started, code)
        said = _reply(code, reply, self.account)
        if code == 552:  # the message is too big for the server: every recipient refused
            report.refused |= dict.fromkeys(recipients, said)
            self.smtp.rset()
            return False
        if code == 530:  # "Must issue a STARTTLS command first", "Authentication required"
            raise ConfigError(
                f"The SMTP server wants TLS or a login first ({said})",
                "Check --security (starttls or ssl) and the username with"
                " `mailpage config set-smtp`.",
            )
        if code >= 500:
            raise ConfigError(
                f"The SMTP server refused the sender address ({said})",
                "Check sender.address (`mailpage config set-sender --address`) is allowed"
                " for this SMTP account.",
            )
        if code >= 400:
            self.smtp.rset()
            raise TransientError(said)
        return True

    def _size_option(self, size: int) -> list[str]:
        """RFC 1870: say the size up front, and stop before uploading what the server
        has said it will not take."""
        if not self.smtp.has_extn("size"):
            return []
        limit = self.smtp.esmtp_features.get("size", "")
        if limit.isdigit() and 0 < int(limit) < size:
            raise PolicyError(
                f"The message is {size / 1e6:.1f} MB; {self.account.host} takes at most"
                f" {int(limit) / 1e6:.1f} MB",
                "Leave out attachments or large images, or ask the mail admin.",
            )
        return [f"SIZE={size}"]

    def _final_reply(self) -> tuple[int, bytes]:
        sock = self.smtp.sock
        if sock is not None:
            sock.settimeout(max(FINAL_REPLY_TIMEOUT, self.account.timeout or TIMEOUT))
        code, reply = self.smtp.getreply()
        if sock is not None:
            sock.settimeout(self.account.timeout or TIMEOUT)
        return code, reply

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
                report.refused[address] = _reply(code, reply, self.account)
            else:
                report.deferred[address] = _reply(code, reply, self.account)
        return accepted

    def close(self) -> None:
        started = time.perf_counter()
        try:
            self.smtp.quit()
        except (smtplib.SMTPException, OSError):
            self.smtp.close()
        _step("quit", started)


def _login_oauth(smtp: smtplib.SMTP, account: Account, said: list[bytes]) -> int:
    """XOAUTH2 (what Exchange Online and Gmail offer), else OAUTHBEARER; always two-step, as
    Microsoft documents it: tokens of 2,500 bytes and more exceed a command line's limit. A
    ``334`` after the response carries an error (JSON); ``\x01`` ends the exchange."""
    offered = smtp.esmtp_features.get("auth", "").upper().split()
    mechanism = next((m for m in ("XOAUTH2", "OAUTHBEARER") if m in offered), None)
    if mechanism is None:
        smtp.close()
        raise ConfigError(
            f"{account.host} offers no OAuth2 login (it offers {' '.join(offered)})",
            "Check the host, or use `mailpage config set-smtp --auth password`.",
        )

    def respond(challenge: bytes | None = None) -> str:
        said.append(challenge or b"")
        return account.sasl(mechanism) if len(said) == 1 else "\x01"

    code, _ = smtp.auth(mechanism, respond, initial_response_ok=False)
    return code


def _login_refused(exc: smtplib.SMTPAuthenticationError, account: Account,
                   said: list[bytes]) -> AuthError:
    """The refusal, mapped to its cause and fix (Microsoft 365 and Google say which)."""
    error = exc.smtp_error if isinstance(exc.smtp_error, bytes) else exc.smtp_error.encode()
    reply = _reply(exc.smtp_code, error, account)
    lowered = reply.lower()
    if "smtpclientauthentication is disabled" in lowered:
        refused = AuthError(
            f"SMTP AUTH is turned off for this mailbox or tenant ({reply})",
            "Ask the Microsoft 365 admin to allow it for the mailbox (Set-CASMailbox -Identity"
            " MAILBOX -SmtpClientAuthenticationDisabled $false); OAuth2 needs it too.")
        refused.reason = "smtp_auth_disabled"
    elif "5.7.30" in reply or "basic authentication" in lowered:
        refused = AuthError(
            f"The SMTP server no longer takes passwords ({reply})",
            "Sign in with OAuth2 instead: `mailpage config set-smtp --auth oauth2"
            " --oauth-provider microsoft --client-id ID --username MAILBOX ...`, then"
            " `mailpage config login smtp` (see the README's Microsoft 365 section).")
        refused.reason = "basic_auth_retired"
    elif account.token:
        problem = next(filter(None, map(_oauth_problem, said[1:])), "")
        refused = AuthError(
            f"The SMTP server refused the OAuth2 token for {account.username}"
            f" ({reply}{problem})",
            "The token must be for this mailbox: check --username, the app's permission"
            " (SMTP.Send; app-only: SMTP.SendAsApp and the mailbox permission; Google:"
            " https://mail.google.com/ and, for a service account, domain-wide delegation),"
            " then run `mailpage config check`.")
        refused.reason = "token_refused"
    else:
        refused = AuthError(
            f"The SMTP server refused the login ({reply})",
            "Check the username and store the right password with"
            f" `{account.set_smtp('--password-stdin')}` or MAILPAGE_SMTP_PASSWORD.")
        refused.reason = "password_refused"
    return refused


def _oauth_problem(challenge: bytes) -> str:
    """Google's and RFC 7628's error challenge: ``{"status": "400", "scope": ...}``."""
    try:
        data = json.loads(challenge)
    except ValueError:
        return ""
    if not isinstance(data, dict):
        return ""
    return "; " + ", ".join(f"{k} {v}" for k, v in data.items() if isinstance(v, str))


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


def _send_data(smtp: smtplib.SMTP, data: bytes) -> None:
    """The message (already CRLF) and the final dot, streamed a megabyte at a time, each chunk
    dot-stuffed on its own. smtplib's ``data()`` makes three whole copies first, which for a
    20 MB message is 60 MB more memory than the sending needs."""
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


def _reply(code: int, reply: bytes, account: Account) -> str:
    """The server's reply as text, with the password or token masked in any form it was sent
    in: a server (or a proxy) may echo what it received."""
    text = f"{code} {reply.decode('utf-8', 'replace')}".strip()
    for form in account.secret_forms():
        text = text.replace(form, "********")
    return text


def deliver(
    account: Account,
    envelopes: Sequence[Envelope],
    *,
    clock: Clock = SYSTEM_CLOCK,
    on_sent: Callable[[Delivery], None] = lambda _: None,
) -> list[Delivery]:
    """Send every envelope over one connection (reopened only after a transient failure).

    ``on_sent`` hears who has each message as soon as the server has answered (or failed to
    answer) its final dot, before the next one goes out. A :class:`StateError` it raises
    stops the sending, and carries the report of who has the message. The waits between
    attempts are taken on ``clock``.

    Raises :class:`UnavailableError` when nothing at all could be delivered or refused.
    """
    retries = replace(RETRIES, clock=clock)
    reports = [_Report(e) for e in envelopes]
    connection: Connection | None = None
    last_error = ""
    attempt = 0
    try:
        while True:
            attempt += 1
            try:
                connection = connection or Connection(account)
                for report in reports:
                    connection.send(report)
                    _tell(report, on_sent)
            except (TransientError, OSError) as exc:  # smtplib's errors are OSErrors
                last_error = _describe(exc, account)
                if connection:
                    connection.smtp.close()
                connection = None
                _settle(reports, on_sent)  # a final dot went out: the server may have it
            if not any(report.pending() for report in reports):
                break
            wait = retries.next_wait(attempt)
            if wait is None:
                break
            clock.sleep(wait)
    except (KeyboardInterrupt, StateError) as exc:
        if connection:  # no polite QUIT: it would wait for the answer being interrupted
            connection.smtp.close()
            connection = None
        if isinstance(exc, KeyboardInterrupt):  # keep who has it, or may, for the rerun
            with contextlib.suppress(StateError):
                _settle(reports, on_sent)
        raise _stopped(exc, reports) from None
    finally:
        if connection:
            connection.close()
    if all(not r.delivered and not r.refused and not r.unknown for r in reports):
        raise UnavailableError(
            f"The message was not sent ({last_error or 'the server did not take it'})",
            "Check host and port if this persists, or try again later.",
        )
    return [report.freeze() for report in reports]


def _stopped(exc: KeyboardInterrupt | StateError, reports: list[_Report]) -> MailpageError:
    """The error that ends a delivery stopped part-way, with who has the message."""
    who = {
        "delivered": tuple(a for r in reports for a in r.delivered),
        "unknown": tuple(a for r in reports for a in r.unknown),
        "not_sent": tuple(a for r in reports for a in r.pending()),
    }
    if isinstance(exc, StateError):
        exc.report = who
        return exc
    return InterruptedSendError(**who, signal=getattr(exc, "signal", 2))


def _settle(reports: list[_Report], on_sent: Callable[[Delivery], None]) -> None:
    """After a failure: recipients of a message whose final dot went out may have it."""
    for report in reports:
        report.unknown += report.in_flight
        report.in_flight = ()
        _tell(report, on_sent)


def _tell(report: _Report, on_sent: Callable[[Delivery], None]) -> None:
    """Pass on the recipients settled since the last call (delivered or unknown)."""
    told = report.told
    news = Delivery(tuple(report.delivered[told[0]:]), unknown=tuple(report.unknown[told[1]:]))
    report.told = (len(report.delivered), len(report.unknown))
    if news.delivered or news.unknown:
        on_sent(news)


def _describe(exc: BaseException, account: Account) -> str:
    if isinstance(exc, smtplib.SMTPResponseException):
        error = exc.smtp_error
        return _reply(exc.smtp_code, error if isinstance(error, bytes) else error.encode(),
                      account)
    return str(exc) or type(exc).__name__


def check(account: Account) -> None:
    """Connect, secure, log in and quit: proves the account without sending anything."""
    try:
        Connection(account).close()
    except (TransientError, OSError) as exc:
        raise UnavailableError(f"Cannot talk to the SMTP server ({_describe(exc, account)})",
                               "Check host and port, or try again later.") from None
