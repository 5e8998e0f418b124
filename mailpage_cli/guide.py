"""``mailpage config init``: a conversation at a terminal that sets up one profile, step by
step, as ``gh auth login`` does: the Confluence site and its token, the SMTP account, the
sender; each login is proved as soon as it is given, and a refused one can be typed again.

It asks and says; the config use cases (:mod:`mailpage_cli.configure`) keep what it is told,
and :func:`mailpage_cli.logins.check` proves the logins.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from mailpage_cli import choices, configure, logins
from mailpage_cli.errors import ConfigError, InterruptedSetupError, MailpageError, Terminated

if TYPE_CHECKING:
    from mailpage_cli.environment import Environment
    from mailpage_cli.output import Output

CLOUD_TOKENS = "https://id.atlassian.com/manage-profile/security/api-tokens"


@dataclass(frozen=True)
class _Checking:
    """The conversation of a login check inside the guide: progress and warnings, but no
    prompt for a secret the guide has just asked for."""

    output: Output
    interactive = False  # nothing is asked during a check

    def step(self, name: str, total: int = 0) -> AbstractContextManager[Callable[[], None]]:
        return self.output.step(name, total)

    def warn(self, text: str) -> None:
        self.output.warn(text)

    def tell(self, text: str) -> None:
        self.output.tell(text)

    def confirm(self, question: str, *, default: bool = False) -> bool:  # noqa: ARG002
        return False  # nothing to confirm during a check

    @property
    def prompt(self) -> None:
        return None


def init(profile: configure.Profile, environment: Environment,
         output: Output) -> list[logins.Check]:
    """Walk a person through the profile's settings, then prove every login."""
    if not output.interactive:
        raise ConfigError("config init asks questions on a terminal; in scripts use config"
                          " set-site, set-smtp and set-sender")
    guide = _Guide(profile, environment, output)
    try:
        return guide.run()
    except KeyboardInterrupt as exc:
        raise guide.stopped(exc) from None


@dataclass
class _Guide:
    profile: configure.Profile
    environment: Environment
    output: Output
    saved: list[str] = field(default_factory=list)

    def run(self) -> list[logins.Check]:
        out = self.output
        out.summary(f"Setting up profile {self.profile.name} in {self.profile.path}."
                    " Enter takes the value in parentheses; Ctrl-C stops.")
        email = self._site()
        self._smtp()
        self._sender(email)
        out.summary("\nChecking everything:")
        return logins.check(self._settings(self.environment.env), self.environment,
                              _Checking(out))

    def stopped(self, exc: KeyboardInterrupt) -> InterruptedSetupError:
        """Ctrl-C (or Ctrl-D at a question that needs an answer): what was saved stays."""
        return InterruptedSetupError(self.saved, self.profile.name,
                                     signal=exc.signal if isinstance(exc, Terminated) else 2)

    # -- asking

    def _settings(self, env: Mapping[str, str] | None = None) -> configure.Settings:
        """The profile as the file has it (``env``: as a run would see it)."""
        return self.profile.load(env or {}, existing=False)

    def _ask(self, question: str, default: str = "", *, required: bool = False) -> str:
        """An answer; Enter gives ``default``. Ctrl-D skips an optional question and stops
        at a required one, which is asked again when left empty."""
        while True:
            answer = self.output.ask(question, default)
            if answer is None:
                if required:
                    raise KeyboardInterrupt
                return default
            if answer or not required:
                return answer
            self.output.error("an answer is needed here (Ctrl-C stops)")

    def _choose(self, question: str, among: tuple[str, ...], default: str) -> str:
        while (answer := self._ask(f"{question} ({'/'.join(among)})", default).lower()
               ) not in among:
            self.output.error(f"type one of: {', '.join(among)}")
        return answer

    def _secret(self, label: str, stored: bool) -> Callable[[str], str | None]:
        """Reads the secret at a hidden prompt: ``None`` (nothing stored anew) on Enter."""
        def read(_label: str) -> str | None:
            ask = self.output.prompt
            kept = " (Enter keeps the stored one)" if stored else ""
            return (ask(f"{label}{kept}") if ask else "") or None

        return read

    def _stored(self, setting: str) -> bool:
        """Whether the keyring holds the secret of ``setting`` for this profile."""
        try:
            row = configure.show(self.profile, {}).rows[setting]
        except MailpageError:
            return False
        return bool(row.get("stored"))

    def _again(self) -> bool:
        return self.output.confirm("Change it and try again?")

    def _check(self, name: str) -> logins.Check:
        [result] = logins.check(self._settings(self.environment.env), self.environment,
                                  _Checking(self.output), only=(name,))
        if result.ok:
            self.output.summary(f"✓ {result.detail}")
        else:
            self.output.error(result.detail)
        return result

    # -- the steps

    def _site(self) -> str | None:
        """The site and its token, until the login works or is skipped; the user's e-mail
        when known."""
        out = self.output
        out.summary("\nConfluence")
        while True:
            now = self._settings().confluence
            url = self._ask("Site URL, e.g. https://acme.atlassian.net (Enter skips: local"
                            " HTML exports only)", now.url or "")
            if not url:
                out.summary("No Confluence site: mailpage will send local HTML exports.")
                return None
            host = (urlsplit(url).hostname or "").lower()
            same = url.rstrip("/") == (now.url or "")
            if host.endswith(".atlassian.net"):
                deployment = "cloud"
            else:
                deployment = self._choose("Confluence Cloud or Data Center?",
                                          choices.DEPLOYMENTS,
                                          now.deployment if same else "datacenter")
            user = None
            if deployment == "cloud":
                user = self._ask("Your Atlassian e-mail", now.user or "", required=True)
                out.summary(f"Create an API token at {CLOUD_TOKENS}")
                label = "API token"
            else:
                out.summary("Create a personal access token in Confluence: your picture >"
                            " Settings > Personal access tokens")
                label = "Personal access token"
            stored = same and now.deployment == deployment and self._stored("confluence.token")
            try:
                configure.set_site(
                    self.profile, url, user=user, auth="basic" if user else "bearer",
                    deployment=deployment,
                    address_book=str(now.address_book) if same and now.address_book else None,
                    api_gateway=now.api_gateway if same else None,
                    read_token=self._secret(label, stored), ui=_Checking(out))
            except MailpageError as exc:
                out.error(str(exc))
            else:
                self._saved("the Confluence site")
                result = self._check("confluence")
                if result.ok:
                    return result.email or user
            if not self._again():
                return None

    def _smtp(self) -> None:
        out = self.output
        out.summary("\nSMTP (the server that sends the mail)")
        now = self._settings().smtp
        if now.auth == "oauth2":
            out.summary(f"This profile signs in to {now.host} with OAuth2; change that with"
                        " `mailpage config set-smtp`.")
            self._check("smtp")
            return
        out.summary("Microsoft 365 or Google with OAuth2: Enter to skip, then run"
                    " `mailpage config set-smtp --auth oauth2`.")
        while True:
            now = self._settings().smtp
            host = self._ask("SMTP server (Enter skips)", now.host or "")
            if not host:
                out.summary("No SMTP server: mailpage can save messages, not send them.")
                return
            security = self._choose("Security", choices.SECURITY,
                                    now.security if now.host else "starttls")
            default_port = (now.port if now.host and now.security == security
                            else configure.DEFAULT_PORTS[security])
            port = self._port(default_port)
            username = self._ask("Username (- for no login)" if now.username
                                 else "Username (Enter: no login)", now.username or "")
            username = "" if username == "-" else username
            same = (host, port, username) == (now.host, now.port, now.username or "")
            ca_file = self._ca_file(str(now.ca_file or ""))
            try:
                configure.set_smtp(
                    self.profile, host, port=port, security=security,
                    username=username or None, ca_file=ca_file,
                    read_password=self._secret(
                        "Password", same and self._stored("smtp.password")))
            except MailpageError as exc:
                out.error(str(exc))
            else:
                self._saved("the SMTP account")
                if self._check("smtp").ok:
                    return
            if not self._again():
                return

    def _port(self, default: int) -> int:
        while True:
            answer = self._ask("Port", str(default))
            if answer.isdigit() and 0 < int(answer) < 65536:
                return int(answer)
            self.output.error("a port is a number from 1 to 65535")

    def _ca_file(self, default: str) -> str | None:
        while True:
            answer = self._ask("CA certificate file, for a server with a private CA"
                               + (" (- for none)" if default else " (Enter: none)"), default)
            if answer in ("", "-"):
                return None
            path = Path(answer).expanduser().resolve()
            if path.is_file():
                return str(path)
            self.output.error(f"no such file: {path}")

    def _sender(self, email: str | None) -> None:
        out = self.output
        out.summary("\nSender (who the mail is from)")
        while True:
            now = self._settings().sender
            name = self._ask("Your name", now.name or "")
            address = self._ask("Your e-mail address", now.address or email or "")
            prefix = self._ask("Subject prefix, e.g. [Wiki] (Enter: none)",
                               now.subject_prefix or "")
            if not (name or address or prefix):
                out.summary("No sender given; set it later with `mailpage config set-sender`.")
                return
            try:
                configure.set_sender(self.profile, name=name or None, address=address or None,
                                     subject_prefix=prefix or None)
            except MailpageError as exc:
                out.error(str(exc))
                if self._again():
                    continue
                return
            self._saved("the sender")
            return

    def _saved(self, what: str) -> None:
        if what not in self.saved:
            self.saved.append(what)
        self.output.summary(f"Saved {what}.")
