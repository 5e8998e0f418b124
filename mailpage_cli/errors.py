"""Exit codes and the exception tree; ``app`` is the one place that turns them into exits.

Every error the user can meet is a :class:`MailpageError` carrying its exit code, a sentence
saying what happened and, last, how to fix it::

    MailpageError                 (1, a bug when nothing more specific applies)
    ├── UsageError                2  bad arguments: unknown placeholder, unreadable file
    ├── ConfigError               3  missing or invalid setting or secret, no TTY to prompt,
    │   ├── TLSError                 certificate or STARTTLS trouble
    │   ├── KeyringUnavailableError  no usable OS keyring backend
    │   └── StateError               the --if-changed state cannot be read or written
    ├── AuthError                 4  credentials refused (SMTP 535, Confluence 401/403)
    ├── NotFoundError             5  page, user or group not found
    ├── UnavailableError          6  service down or rate-limited after retries
    │   └── DownloadError            a file could not be downloaded (4 when it is refused)
    ├── PolicyError               8  allowed domains, recipient count, message size
    ├── InterruptedSendError    130/143  Ctrl-C or SIGTERM while sending: who has the message
    └── InterruptedSetupError   130/143  Ctrl-C or SIGTERM in `config init`: what was saved

An error raised part-way through delivery carries ``report``: who has the message
(``delivered``), who may have it (``unknown``) and who does not (``not_sent``).

Partial delivery (7) is not an exception: the send finishes and its report says who refused.
"""

from __future__ import annotations

from enum import IntEnum, unique

from mailpage_cli.wording import count

__all__ = [
    "AuthError",
    "ConfigError",
    "DownloadError",
    "ExitCode",
    "InterruptedSendError",
    "InterruptedSetupError",
    "KeyringUnavailableError",
    "MailpageError",
    "NotFoundError",
    "PolicyError",
    "StateError",
    "TLSError",
    "Terminated",
    "UnavailableError",
    "UsageError",
]


@unique
class ExitCode(IntEnum):
    """Process exit codes; the README table is tested against this enum."""

    OK = 0  # sent, saved, dry run done, unchanged, or an empty digest
    UNEXPECTED = 1  # unexpected failure (a bug)
    USAGE = 2  # usage error
    CONFIG = 3  # missing or invalid setting or secret, refused URL host, no TTY to prompt
    AUTH = 4  # authentication refused (Confluence 401/403, SMTP 535)
    NOT_FOUND = 5  # page, user or group not found; user without visible e-mail; ambiguous name
    UNAVAILABLE = 6  # service unavailable or rate-limited after retries (safe to retry later)
    PARTIAL = 7  # partial delivery: some recipients refused
    POLICY = 8  # refused by policy: domain, recipient count, size
    INTERRUPTED = 130  # interrupted (Ctrl-C)
    TERMINATED = 143  # stopped by SIGTERM (systemd, timeout, CI cancellation)


class MailpageError(Exception):
    """An error with a message for the user and, last, how to fix it."""

    exit_code = ExitCode.UNEXPECTED
    report: dict[str, tuple[str, ...]] | None = None  # set when raised part-way through sending
    reason: str | None = None  # a stable word for --json where one cause has several fixes

    def __init__(self, message: str, fix: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.fix = fix

    def __str__(self) -> str:
        return f"{self.message}. {self.fix}" if self.fix else self.message


class UsageError(MailpageError):
    exit_code = ExitCode.USAGE


class ConfigError(MailpageError):
    exit_code = ExitCode.CONFIG


class TLSError(ConfigError):
    """The server's certificate is not trusted, or it does not offer STARTTLS."""


class KeyringUnavailableError(ConfigError):
    """No usable OS keyring on this machine (a headless server, a container)."""


class StateError(ConfigError):
    """The ``--if-changed`` state file cannot be read, locked or written."""


class AuthError(MailpageError):
    exit_code = ExitCode.AUTH


class NotFoundError(MailpageError):
    exit_code = ExitCode.NOT_FOUND


class UnavailableError(MailpageError):
    exit_code = ExitCode.UNAVAILABLE


class DownloadError(UnavailableError):
    """A file could not be downloaded (the caller decides whether that is fatal).

    ``status`` is the HTTP status, or 0 when there was no answer (``reason`` says why).
    """

    def __init__(self, status: int, filename: str, reason: str = "") -> None:
        super().__init__(f"Downloading {filename} failed ({reason or status})",
                         "Try again later." if reason else "Check your access to it (a scoped"
                         " token needs read:attachment:confluence).")
        self.status = status
        if status in (401, 403):  # refused, not unavailable: trying again will not help
            self.exit_code = ExitCode.AUTH


class PolicyError(MailpageError):
    exit_code = ExitCode.POLICY


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised where the program is so that it stops as Ctrl-C does: temporary
    files removed, the report of who has the message printed, the state saved."""

    signal = 15


class InterruptedSendError(MailpageError):
    """Interrupted in the middle of delivery; says who already has the message."""

    exit_code = ExitCode.INTERRUPTED

    def __init__(self, *, delivered: tuple[str, ...], unknown: tuple[str, ...],
                 not_sent: tuple[str, ...], signal: int = 2) -> None:
        super().__init__(
            f"Interrupted while sending: {count(len(delivered), 'recipient')}"
            f" {'has' if len(delivered) == 1 else 'have'} the message, {len(not_sent)}"
            f" {'does' if len(not_sent) == 1 else 'do'} not"
            + (f", {len(unknown)} may" if unknown else ""),
            "Send again only to those who do not (listed below).",
        )
        self.report = {"delivered": delivered, "unknown": unknown, "not_sent": not_sent}
        if signal == Terminated.signal:
            self.exit_code = ExitCode.TERMINATED


class InterruptedSetupError(MailpageError):
    """Interrupted during ``config init``; says which steps were already saved."""

    exit_code = ExitCode.INTERRUPTED

    def __init__(self, saved: list[str], profile: str, *, signal: int = 2) -> None:
        super().__init__(f"Stopped; saved so far: {' and '.join(saved) or 'nothing'}"
                         f" (profile {profile})")
        if signal == Terminated.signal:
            self.exit_code = ExitCode.TERMINATED
