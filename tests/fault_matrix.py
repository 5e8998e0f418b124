"""The fault matrix: mailpage against the faults of the reliability report, one row each.

Real servers (aiosmtpd with STARTTLS and a trustme CA, the loopback FakeConfluence) and the
real CLI as subprocesses without a TTY, configured as cron would configure it. For each
scenario the table shows the expected and the actual exit codes and JSON statuses of its runs
(reruns included), the copies each recipient got, the messages doubled, and the secrets
leaked: the places (stdout, stderr, any file under the scenario's folder but the keyring,
and whatever a server that is not the secret's destination received) holding the SMTP
password or the Confluence token in any form.

    .venv/bin/python -m tests.fault_matrix           # every scenario
    .venv/bin/python -m tests.fault_matrix A3 G8     # those whose id starts so

Exit 1 if a message was doubled or a secret leaked, 2 if only an expectation was not met.
The report's ids are kept (A1, A3b, ...); C3 and D2b are extra rows of those areas.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import itertools
import json
import logging
import os
import re
import resource
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import time
import zlib
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from pathlib import Path
from typing import Any
from urllib.parse import quote

import trustme
from aiosmtpd.smtp import SMTP

from tests.support import smtp
from tests.support.confluence_server import (
    JSON_TYPE,
    Attachment,
    FakeConfluence,
    Fault,
    Page,
    Site,
    User,
)

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "examples" / "export" / "Release-notes-2.4_98487.html"
TOKEN = "fm-T0ken/with+odd=chars"
ME = User("Ann Example", "ann@example.com")
TEAM = [User(f"Member {n}", f"member{n}@example.com") for n in range(3)]
PAGE_ID = "98487"
CONTENT = f"/api/v2/pages/{PAGE_ID}"  # Cloud reads pages through REST v2
IMAGE = f"/download/attachments/{PAGE_ID}/chart.png"
PNG = b"\x89PNG\r\n\x1a\n" + b"\0" * 64
BIDI = re.compile("[\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")
RUN_TIMEOUT = 30.0  # seconds for one CLI run: none of these should come near it


# --------------------------------------------------------------------------- secrets


def forms(secret: str, user: str) -> tuple[str, ...]:
    """The secret as it could leak (as tests/test_secrets.py counts it): plain, URL-encoded,
    base64, and inside HTTP basic auth and SMTP AUTH PLAIN."""
    return (secret, quote(secret, safe=""), base64.b64encode(secret.encode()).decode(),
            base64.b64encode(f"{user}:{secret}".encode()).decode(),
            base64.b64encode(f"\0{user}\0{secret}".encode()).decode())


PASSWORD_FORMS = forms(smtp.PASSWORD, smtp.USERNAME)
TOKEN_FORMS = forms(TOKEN, str(ME.email))
ALL_FORMS = (*PASSWORD_FORMS, *TOKEN_FORMS)


def views(blob: bytes) -> list[str]:
    """The text of ``blob``, and for a mail message the decoded text of each part (a secret
    in a base64 body part would not show in the raw bytes)."""
    found = [blob.decode("utf-8", "replace")]
    if b"MIME-Version:" in blob[:65536]:
        message = message_from_bytes(blob, policy=policy.default)
        for part in message.walk():
            payload = part.get_payload(decode=True)
            if isinstance(payload, bytes):
                found.append(payload.decode("utf-8", "replace"))
    return found


def holds(texts: Sequence[str], secret_forms: Sequence[str]) -> bool:
    return any(form in text for text in texts for form in secret_forms)


# --------------------------------------------------------------------------- SMTP with a tap


@dataclass
class TapRecorder(smtp.Recorder):
    """A Recorder that also keeps every byte the client sent (decrypted after STARTTLS),
    and can answer 421 to MAIL FROM, stall or drop chosen recipients' messages."""

    wire: bytearray = field(default_factory=bytearray)
    fail_mail_after: int = -1  # >= 0: every MAIL FROM after this many gets 421 and a close
    stall_for: dict[str, float] = field(default_factory=dict)  # address -> seconds at DATA
    drop_after: set[str] = field(default_factory=set)  # queue their message, drop the reply
    arrived: list[str] = field(default_factory=list)  # first recipient of each DATA, at once
    mails: int = 0
    handling: int = 0  # DATA handlers running (a stalled one is cancelled at disconnect)

    async def handle_MAIL(self, server: Any, session: Any, envelope: Any, address: str,  # noqa: N802, ARG002 - aiosmtpd's hook
                          mail_options: list[str]) -> str:
        self.mails += 1
        if 0 <= self.fail_mail_after < self.mails:
            asyncio.get_running_loop().call_later(0.05, server.transport.close)
            return "421 4.7.0 Too many messages from you, closing"
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802 - aiosmtpd's hook
        self.handling += 1
        self.arrived.append(envelope.rcpt_tos[0])
        try:
            for address in envelope.rcpt_tos:
                if address in self.stall_for:
                    await asyncio.sleep(self.stall_for[address])
            reply = await super().handle_DATA(server, session, envelope)
            if self.drop_after & set(envelope.rcpt_tos):
                server.transport.abort()  # queued: the 250 never reaches the client
            return reply
        finally:
            self.handling -= 1


class _TapSMTP(smtp._BusySMTP):
    """The support module's server, which also taps what the client sends."""

    recorder: TapRecorder

    def data_received(self, data: bytes) -> None:
        self.recorder.wire.extend(data)
        super().data_received(data)


class _TapController(smtp._Controller):
    def factory(self) -> SMTP:
        server = _TapSMTP(self.handler, **self.SMTP_kwargs)
        server.recorder = self.handler  # the TapRecorder, as handler and as recorder
        return server


def start_smtp(ca: trustme.CA, recorder: TapRecorder, *, security: str = "starttls",
               size_limit: int = 33554432) -> smtp.SmtpServer:
    """As :func:`tests.support.smtp.start`, with the tap."""
    port = smtp.free_port()
    kwargs: dict[str, Any] = {"hostname": "127.0.0.1", "port": port,
                              "data_size_limit": size_limit,
                              "authenticator": recorder.authenticate}
    if security == "starttls":
        kwargs |= {"tls_context": smtp.server_context(ca), "require_starttls": True,
                   "auth_require_tls": True}
    controller = _TapController(recorder, **kwargs)
    controller.start()
    return smtp.SmtpServer("localhost", port, security, recorder, controller)


def tap(server: smtp.SmtpServer) -> TapRecorder:
    """The recorder of a server :func:`start_smtp` started."""
    recorder = server.recorder
    assert isinstance(recorder, TapRecorder)
    return recorder


# --------------------------------------------------------------------------- one scenario's lab


class Skipped(Exception):  # noqa: N818 - a verdict, not an error
    """The scenario cannot run on this machine; the message says why."""


@dataclass
class Step:
    expected: str
    actual: str
    met: bool


@dataclass
class Result:
    returncode: int
    stdout: str
    stderr: str

    @property
    def json(self) -> dict[str, Any]:
        try:
            data = json.loads(self.stdout)
        except ValueError:
            return {}
        return data if isinstance(data, dict) else {}

    @property
    def status(self) -> str:
        return str(self.json.get("status", "no-JSON"))


@dataclass
class _Server:
    """A server the lab started, and which secret it is the destination of."""

    smtp: smtp.SmtpServer | None = None
    site: FakeConfluence | None = None
    destination: bool = True


class Lab:
    """A scenario's folder, servers, CLI runs and findings."""

    def __init__(self, folder: Path, ca: trustme.CA, stack: contextlib.ExitStack) -> None:
        self.folder = folder
        self.ca = ca
        self.ca_file = folder / "ca.pem"
        ca.cert_pem.write_to_path(str(self.ca_file))
        self.keyring = folder / "keyring.json"
        self.stack = stack
        self.servers: list[_Server] = []
        self.steps: list[Step] = []
        self.problems: list[str] = []
        self.outputs: list[tuple[str, str]] = []  # (place, text)
        self.env: dict[str, str] = {}

    # -- servers

    def smtp_server(self, *, destination: bool = True, ca: trustme.CA | None = None,
             size_limit: int = 33554432) -> smtp.SmtpServer:
        server = start_smtp(ca or self.ca, TapRecorder(), size_limit=size_limit)
        self.stack.callback(server.stop)
        self.servers.append(_Server(smtp=server, destination=destination))
        return server

    def confluence(self, site: Site | None = None, *, destination: bool = True) -> FakeConfluence:
        fake = self.stack.enter_context(FakeConfluence(site or standard_site()))
        self.servers.append(_Server(site=fake, destination=destination))
        return fake

    def unattended(self, server: smtp.SmtpServer | None = None,
                   site: FakeConfluence | None = None) -> dict[str, str]:
        """A cron job's environment: the servers and their secrets in MAILPAGE_*, no config
        file, the state in the scenario's folder; set as ``self.env``."""
        env = {
            "MAILPAGE_STATE_DIR": str(self.folder / "state"),
            "MAILPAGE_CONFIG": str(self.folder / "config.toml"),
            "MAILPAGE_SENDER_ADDRESS": "wiki-bot@example.com",
            "MAILPAGE_SENDER_NAME": "Wiki Bot",
        }
        if server:
            env |= server.env(self.ca_file, password=True)
        if site:
            env |= site.env()
        self.env = env
        return env

    # -- the CLI

    def _process_env(self, env: Mapping[str, str]) -> dict[str, str]:
        inherited = {k: v for k, v in os.environ.items() if not k.startswith("MAILPAGE_")
                     and k not in ("PYTHON_KEYRING_BACKEND", "NO_COLOR", "FORCE_COLOR")}
        return {**inherited, "PYTHONPATH": str(ROOT), "PYTHONDONTWRITEBYTECODE": "1",
                "HOME": str(self.folder / "home"),
                "XDG_CONFIG_HOME": str(self.folder / "xdg-config"),
                "XDG_STATE_HOME": str(self.folder / "xdg-state"),
                "PYTHON_KEYRING_BACKEND": "tests.support.keyrings.FileKeyring",
                "MAILPAGE_TEST_KEYRING": str(self.keyring), **env}

    def spawn(self, *args: str, env: Mapping[str, str] | None = None,
              prefix: Sequence[str] = (),
              preexec: Callable[[], None] | None = None) -> subprocess.Popen[str]:
        return subprocess.Popen(
            [*prefix, sys.executable, "-m", "mailpage_cli", *args],
            env=self._process_env(self.env if env is None else env), cwd=self.folder,
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
            preexec_fn=preexec)  # noqa: PLW1509 - only setrlimit, which takes no lock

    def finish(self, process: subprocess.Popen[str], stdin: str = "") -> Result:
        try:
            stdout, stderr = process.communicate(stdin, timeout=RUN_TIMEOUT)
        except subprocess.TimeoutExpired:
            process.kill()
            stdout, stderr = process.communicate()
            stderr += f"\n[fault matrix: killed after {RUN_TIMEOUT:g} s]"
            process.returncode = -9
        run = len(self.outputs) // 2 + 1
        self.outputs += [(f"run {run} stdout", stdout), (f"run {run} stderr", stderr)]
        return Result(process.returncode, stdout, stderr)

    def run(self, *args: str, expect: int, status: str | None = None,
            env: Mapping[str, str] | None = None, stdin: str = "",
            preexec: Callable[[], None] | None = None) -> Result:
        """One CLI run, recorded as a step: ``expect`` the exit code, ``status`` the JSON
        status (``None``: not checked)."""
        result = self.finish(self.spawn(*args, env=env, preexec=preexec), stdin)
        self.step(result, expect, status)
        return result

    def step(self, result: Result, expect: int, status: str | None) -> None:
        expected = f"{expect} {status}" if status else str(expect)
        actual = f"{result.returncode} {result.status}" if status else str(result.returncode)
        met = result.returncode == expect and (status is None or result.status == status)
        self.steps.append(Step(expected, actual, met))
        if "Traceback" in result.stderr or "this is a bug" in result.stderr:
            self.problems.append(f"a run reported a bug: {result.stderr.strip()[-300:]}")

    def check(self, condition: bool, what: str) -> None:
        if not condition:
            self.problems.append(what)

    def settle(self, seconds: float = 5.0) -> None:
        """Wait for the servers' DATA handlers (a stalled message) to finish."""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline and any(
                tap(s.smtp).handling for s in self.servers if s.smtp):
            time.sleep(0.05)

    # -- what happened

    def copies(self) -> Counter[tuple[str, str]]:
        """Messages per (recipient, subject) over every SMTP server of the scenario."""
        counts: Counter[tuple[str, str]] = Counter()
        for server in self.servers:
            for received in server.smtp.received if server.smtp else ():
                subject = str(received.message["Subject"])
                counts.update((rcpt.lower(), subject) for rcpt in received.rcpt_tos)
        return counts

    def delivered(self, address: str) -> int:
        return sum(n for (rcpt, _), n in self.copies().items() if rcpt == address)

    def leaks(self) -> list[str]:
        """The places holding any form of either secret where it must not be."""
        places = [place for place, text in self.outputs if holds([text], ALL_FORMS)]
        for path in sorted(self.folder.rglob("*")):
            if path == self.keyring or not stat.S_ISREG(path.lstat().st_mode):
                continue  # the keyring is where secrets belong; FIFOs must not be opened
            if holds(views(path.read_bytes()), ALL_FORMS):
                places.append(str(path.relative_to(self.folder)))
        for number, server in enumerate(self.servers, 1):
            if server.smtp:
                places += self._smtp_leaks(number, server.smtp, server.destination)
            if server.site:
                places += self._site_leaks(number, server.site, server.destination)
        return places

    def _smtp_leaks(self, number: int, server: smtp.SmtpServer, destination: bool) -> list[str]:
        wire = bytes(tap(server).wire)
        if server.recorder.logins and b"AUTH " not in wire:  # the tap is blind after STARTTLS
            self.problems.append(f"SMTP server {number}: the tap did not see AUTH")
        if destination:  # the password's own server may see it in AUTH, and only there
            wire = _without_password_in_auth(wire)
        texts = [*views(wire), *(t for r in server.received for t in views(r.data))]
        return [f"SMTP server {number}"] if holds(texts, ALL_FORMS) else []

    @staticmethod
    def _site_leaks(number: int, fake: FakeConfluence, destination: bool) -> list[str]:
        places = []
        for name, records, own in (("Confluence", fake.requests, destination),
                                   ("media host", fake.media_requests, False)):
            texts = []
            for record in records:
                texts.append(f"{record.method} {record.path} {record.query}")
                for header, value in record.headers.items():
                    own_token = own and header.lower() == "authorization"  # its place
                    texts.append(_without(value, TOKEN_FORMS) if own_token else value)
            if holds(texts, ALL_FORMS):
                places.append(f"{name} {number}")
        return places


def _without(text: str, secret_forms: Sequence[str]) -> str:
    for form in secret_forms:
        text = text.replace(form, "")
    return text


def _without_password_in_auth(wire: bytes) -> bytes:
    """The client's bytes with the password taken out of its AUTH command and of the base64
    lines that answer the server's challenges: the one place the password belongs."""
    lines, in_auth = [], False
    for line in wire.split(b"\r\n"):
        if line[:5].upper() == b"AUTH ":
            in_auth = True
        elif not (in_auth and re.fullmatch(rb"[A-Za-z0-9+/=]+", line)):
            in_auth = False
        text = line.decode("ascii", "replace")
        lines.append(_without(text, PASSWORD_FORMS).encode() if in_auth else line)
    return b"\r\n".join(lines)


# --------------------------------------------------------------------------- the scenarios


def standard_site(**changes: Any) -> Site:
    page = Page(PAGE_ID, "Release notes", version=3, view="<p>Ships Tuesday.</p>")
    values: dict[str, Any] = {"me": ME, "token": TOKEN, "users": list(TEAM),
                              "groups": {"team": list(TEAM)}, "pages": [page]} | changes
    return Site("cloud", "/wiki", **values)


Play = Callable[[Lab], None]


@dataclass(frozen=True)
class Scenario:
    id: str
    fault: str
    play: Play


SCENARIOS: list[Scenario] = []


def scenario(id_: str, fault: str) -> Callable[[Play], Play]:
    """Registers a scenario: ``id_`` as in the report, ``fault`` what is done."""
    def register(play: Play) -> Play:
        SCENARIOS.append(Scenario(id_, fault, play))
        return play
    return register


def send(*extra: str, to: str = "a@example.com") -> list[str]:
    return ["send", PAGE_ID, "--to", to, "--json", *extra]


def standard(lab: Lab) -> tuple[smtp.SmtpServer, FakeConfluence]:
    """The usual pair of servers, configured through the environment."""
    server, fake = lab.smtp_server(), lab.confluence()
    lab.unattended(server, fake)
    return server, fake


# -- A: data loss and duplicates


@scenario("A1", "2 overlapping `--if-changed` runs of a new version, ×5 rounds")
def overlapping_runs(lab: Lab) -> None:
    server, fake = standard(lab)
    server.recorder.stall_data = 0.3  # the first run is still sending when the second checks
    command = send("--if-changed", "--subject", "{title} v{version}", to="team@example.com")
    for _ in range(5):
        fake.site.pages[0].version += 1
        runs = [lab.spawn(*command) for _ in range(2)]
        results = [lab.finish(run) for run in runs]
        outcomes = sorted(f"{r.returncode} {r.status}" for r in results)
        lab.steps.append(Step("0 sent + 0 unchanged", " + ".join(outcomes),
                              outcomes == ["0 sent", "0 unchanged"]))


@scenario("A2b", "state file of the wrong shape (3 variants)")
def wrong_shape_state(lab: Lab) -> None:
    server, _ = standard(lab)
    (lab.folder / "state").mkdir()
    for content in ('{"sent": []}', '{"pages": {"default": "x"}}',
                    '{"pages": {"default": {"98487": {"delivered": 3}}}}'):
        (lab.folder / "state" / "sent.json").write_text(content)
        result = lab.run(*send("--if-changed"), expect=3, status="error")
        lab.check("is not in mailpage's format" in result.stderr,
                  f"unclear error for {content}: {result.stderr.strip()}")
        lab.check((lab.folder / "state" / "sent.json").read_text() == content,
                  "the state file was changed")
    lab.check(server.received == [], "mail was sent")


@contextlib.contextmanager
def unwritable(folder: Path) -> Iterator[None]:
    """``folder`` unwritable even for root (chattr +i), or by its mode for anyone else."""
    if os.geteuid() != 0:
        folder.chmod(0o500)
        try:
            yield
        finally:
            folder.chmod(0o700)
        return
    chattr = shutil.which("chattr")
    if chattr is None or subprocess.run([chattr, "+i", str(folder)], capture_output=True,
                                        check=False).returncode != 0:
        raise Skipped("root here, and chattr +i is unavailable on this file system")
    try:
        yield
    finally:
        subprocess.run([chattr, "-i", str(folder)], capture_output=True, check=True)


@scenario("A2d", "state folder made unwritable after a first send; then writable again")
def unwritable_state(lab: Lab) -> None:
    server, _ = standard(lab)
    lab.run(*send("--if-changed", to="x@example.com"), expect=0, status="sent")
    with unwritable(lab.folder / "state"):
        result = lab.run(*send("--if-changed"), expect=3, status="error")
    lab.check("--if-changed state" in result.stderr, f"unclear error: {result.stderr}")
    lab.check(lab.delivered("a@example.com") == 0, "sent although the state is stuck")
    lab.run(*send("--if-changed"), expect=0, status="sent")
    lab.check(len(server.received) == 2, "the rerun did not send exactly once")


@scenario("A2e", "file-size limit (RLIMIT_FSIZE) lets no record fit, `--individually` ×3")
def file_size_limit(lab: Lab) -> None:
    standard(lab)
    lab.run(*send("--if-changed", to="x@example.com"), expect=0, status="sent")
    size = (lab.folder / "state" / "sent.json").stat().st_size

    def limit() -> None:
        resource.setrlimit(resource.RLIMIT_FSIZE, (size + 1, size + 1))

    result = lab.run(*send("--if-changed", "--individually",
                           to="a1@example.com,a2@example.com,a3@example.com"),
                     expect=3, status="error", preexec=limit)
    report = result.json
    lab.check(report.get("delivered") == ["a1@example.com"]
              and report.get("not_sent") == ["a2@example.com", "a3@example.com"],
              f"the report does not say who has it: {report}")
    lab.check(lab.delivered("a2@example.com") + lab.delivered("a3@example.com") == 0,
              "sending went on after the state write failed")


@scenario("A3a", "message queued, then the connection drops before the 250 (once)")
def lost_reply_once(lab: Lab) -> None:
    server, _ = standard(lab)
    server.recorder.queue_then_drop = 1
    result = lab.run(*send("--cc", "b@example.com"), expect=7, status="partial")
    lab.check(result.json.get("unknown") == ["a@example.com", "b@example.com"],
              f"not reported unknown: {result.json}")
    lab.check("Nothing was sent" not in result.stderr, "says nothing was sent")


@scenario("A3b", "message queued, then dropped before the 250, on every connection")
def lost_reply_always(lab: Lab) -> None:
    server, _ = standard(lab)
    server.recorder.queue_then_drop = 99
    result = lab.run(*send("--cc", "b@example.com", "--if-changed"), expect=7,
                     status="partial")
    lab.check("Nothing was sent" not in result.stderr, "says nothing was sent")
    lab.check(server.recorder.connections == 1, "the message was retried")


@scenario("A3c", "`--individually` to 3, the 2nd message queued then dropped")
def lost_reply_individually(lab: Lab) -> None:
    server, _ = standard(lab)
    tap(server).drop_after = {"a2@example.com"}
    result = lab.run(*send("--individually", to="a1@example.com,a2@example.com,a3@example.com"),
                     expect=7, status="partial")
    lab.check((result.json.get("delivered"), result.json.get("unknown"))
              == (["a1@example.com", "a3@example.com"], ["a2@example.com"]),
              f"wrong report: {result.json}")


@scenario("A3d", "final reply 2 s late (a content filter)")
def slow_reply(lab: Lab) -> None:
    server, _ = standard(lab)
    server.recorder.stall_data = 2.0
    lab.run(*send(), expect=0, status="sent")
    lab.check(server.recorder.connections == 1, "reconnected")


@scenario("A3e", "the A3b server under 5 cron runs of the same `--if-changed` command")
def lost_reply_under_cron(lab: Lab) -> None:
    server, _ = standard(lab)
    server.recorder.queue_then_drop = 99
    lab.run(*send("--if-changed"), expect=7, status="partial")
    for _ in range(4):
        result = lab.run(*send("--if-changed"), expect=0, status="unchanged")
    lab.check("may already have" in result.stderr, "the rerun does not warn")


@scenario("A4b", "421 at every MAIL FROM after the 3rd of 6 (`--individually`), then healthy;"
                 " `--if-changed` rerun")
def rate_limited_then_rerun(lab: Lab) -> None:
    server, _ = standard(lab)
    tap(server).fail_mail_after = 3
    everyone = [f"r{n}@example.com" for n in range(6)]
    command = send("--individually", "--if-changed", to=",".join(everyone))
    first = lab.run(*command, expect=7, status="partial")
    lab.check((first.json.get("delivered"), first.json.get("not_sent"))
              == (everyone[:3], everyone[3:]), f"wrong report: {first.json}")
    tap(server).fail_mail_after = -1
    second = lab.run(*command, expect=0, status="sent")
    lab.check(second.json.get("delivered") == everyone[3:],
              f"the rerun did not send to the rest only: {second.json}")


# -- B: what a mail server imposes


@scenario("B4", "server SIZE (1000 bytes) below the message; also `--individually`")
def size_below_message(lab: Lab) -> None:
    server = lab.smtp_server(size_limit=1000)
    lab.unattended(server, lab.confluence())
    lab.run(*send("--cc", "b@example.com"), expect=8, status="error")
    lab.run(*send("--individually", to="c@example.com,d@example.com"), expect=8,
            status="error")
    lab.check(server.recorder.data_started == [], "the message was uploaded")


@scenario("B5", "530 STARTTLS required, with `--security none`")
def starttls_required(lab: Lab) -> None:
    server, _ = standard(lab)
    env = {k: v for k, v in lab.env.items() if k not in (
        "MAILPAGE_SMTP_USERNAME", "MAILPAGE_SMTP_PASSWORD", "MAILPAGE_SMTP_CA_FILE")}
    result = lab.run(*send(), expect=3, status="error",
                     env=env | {"MAILPAGE_SMTP_SECURITY": "none"})
    lab.check("--security" in result.stderr and "sender" not in result.stderr,
              f"the hint does not blame --security: {result.stderr.strip()}")
    lab.check(server.received == [], "sent")


# -- C: TLS


@scenario("C3", "impostor SMTP server, certificate from a CA mailpage does not trust")
def impostor_certificate(lab: Lab) -> None:
    impostor = lab.smtp_server(destination=False, ca=trustme.CA())
    lab.unattended(impostor, lab.confluence())
    result = lab.run(*send(), expect=3, status="error")
    lab.check("certificate" in result.stderr, f"unclear error: {result.stderr.strip()}")
    lab.check(impostor.recorder.logins == [], "logged in to the impostor")


# -- D: secrets


@scenario("D1", "keyring secrets; set-site / set-smtp to a new destination, no new secret")
def moved_destination(lab: Lab) -> None:
    first_site = lab.confluence()
    second_site = lab.confluence(standard_site(token="not-the-token"), destination=False)
    first_smtp, second_smtp = lab.smtp_server(), lab.smtp_server(destination=False)
    lab.unattended()  # no secret in the environment: the keyring's are used

    def set_site(fake: FakeConfluence, *token: str) -> None:
        lab.run("config", "set-site", fake.url, "--user", str(ME.email), "--deployment",
                "cloud", *token, expect=0, stdin=TOKEN + "\n" if token else "")

    def set_smtp(server: smtp.SmtpServer, *password: str) -> None:
        lab.run("config", "set-smtp", "--host", "localhost", "--port", str(server.port),
                "--username", smtp.USERNAME, "--ca-file", str(lab.ca_file), *password,
                expect=0, stdin=smtp.PASSWORD + "\n" if password else "")

    set_site(first_site, "--token-stdin")
    set_smtp(first_smtp, "--password-stdin")
    lab.run(*send(), expect=0, status="sent")
    set_site(second_site)
    lab.run(*send(to="b@example.com"), expect=3, status="error")
    set_site(first_site)  # the token is still bound to the first site
    set_smtp(second_smtp)
    lab.run(*send(to="c@example.com"), expect=3, status="error")
    lab.check(all(r.authorization is None for r in second_site.requests),
              "the token went to the new site")
    lab.check(second_smtp.recorder.logins == [], "the password went to the new server")


@scenario("D2", "Confluence 400 echoing the Authorization header (short, and cut at 200)")
def echoed_authorization(lab: Lab) -> None:
    _, fake = standard(lab)
    for lead in ("Bad request, your header was ", "x" * 190 + " "):
        fake.fail(Fault(CONTENT, 400, body=lead, echo_header="Authorization"))
        result = lab.run(*send(), expect=2, status="error")
        lab.check("Basic ***" in result.stderr, f"not masked: {result.stderr.strip()}")


@scenario("D2b", "SMTP refusal echoing the AUTH PLAIN data and the password")
def echoed_password(lab: Lab) -> None:
    server, _ = standard(lab)
    plain = base64.b64encode(f"\0{smtp.USERNAME}\0{smtp.PASSWORD}".encode()).decode()
    server.recorder.refuse["x@example.com"] = f"550 5.7.1 you sent {plain} {smtp.PASSWORD}"
    result = lab.run(*send(to="x@example.com,a@example.com"), expect=7, status="partial")
    lab.check("********" in result.stdout, "the echo is not masked")


# -- E: a hostile Confluence


@scenario("E2a", "page API answers 302 to another host")
def redirect_elsewhere(lab: Lab) -> None:
    server, fake = standard(lab)
    other = lab.confluence(standard_site(token="other-token"), destination=False)
    fake.fail(Fault(CONTENT, 302, headers={"Location": f"{other.url}{CONTENT}"}))
    result = lab.run(*send(), expect=3, status="error")
    lab.check("redirected" in result.stderr, f"unclear error: {result.stderr.strip()}")
    lab.check(other.requests == [], "the redirect was followed")
    lab.check(server.received == [], "sent")


def gzip_bomb(size: int) -> bytes:
    """``size`` bytes of JSON-ish text, gzipped to about a thousandth of that."""
    squeeze = zlib.compressobj(9, zlib.DEFLATED, 31)
    block = b" " * 1_000_000
    parts = [squeeze.compress(b'{"title": "')]
    parts += [squeeze.compress(block) for _ in range(size // len(block))]
    return b"".join([*parts, squeeze.flush()])


@scenario("E3", "page API gzip bomb: 100 KB on the wire, 100 MB unpacked")
def gzip_bomb_page(lab: Lab) -> None:
    server, fake = standard(lab)
    fake.fail(Fault(CONTENT, 200, headers={"Content-Type": JSON_TYPE,
                                           "Content-Encoding": "gzip"},
                    body=gzip_bomb(100_000_000)))
    started = time.monotonic()
    result = lab.run(*send(), expect=8, status="error")
    lab.check("larger than" in result.stderr, f"unclear error: {result.stderr.strip()}")
    lab.check(time.monotonic() - started < 5, "took 5 s or more")
    lab.check(server.received == [], "sent")


def page_answer(base: str) -> dict[str, Any]:
    return {"id": PAGE_ID, "title": "Release notes", "version": {"number": 7},
            "body": {"export_view": {"value": "<p>x</p>"}},
            "_links": {"base": base, "webui": f"/spaces/ENG/pages/{PAGE_ID}"}}


def wrong_types(base: str) -> list[tuple[str, str, object, tuple[str, ...]]]:
    """(what, the path answered, the answer, extra send options)."""
    page = page_answer(base)
    attachments = {"results": None, "_links": {"base": base}}
    return [("version is a word", CONTENT, page | {"version": {"number": "seven"}}, ()),
            ("body is a string", CONTENT, page | {"body": "x"}, ()),
            ("the page is a list", CONTENT, [], ()),
            ("attachment results null", CONTENT + "/attachments", attachments,
             ("--attachments",))]


@scenario("E7", "answers of the wrong JSON type (4 variants)")
def wrong_type_answers(lab: Lab) -> None:
    server, fake = standard(lab)
    for what, prefix, answer, extra in wrong_types(fake.url):
        fake.fail(Fault(prefix, 200, headers={"Content-Type": JSON_TYPE},
                        body=json.dumps(answer).encode()))
        result = lab.run(*send(*extra), expect=3, status="error")
        lab.check("Confluence sent an answer mailpage cannot read" in result.stderr,
                  f"{what}: unclear error: {result.stderr.strip()}")
    lab.check(server.received == [], "sent")


def page_with_files() -> Site:
    page = Page(PAGE_ID, "Release notes", version=3, export_view=None,
                view=f'<p>Ships Tuesday.</p><p><img src="/wiki{IMAGE}"></p>',
                attachments=[Attachment("chart.png", "image/png", PNG),
                             Attachment("notes.txt", "text/plain", b"notes")])
    return standard_site(pages=[page])


@scenario("E8c", "download cut short: an image (left out), an attachment (exit 6)")
def cut_downloads(lab: Lab) -> None:
    server, fake = lab.smtp_server(), lab.confluence(page_with_files())
    lab.unattended(server, fake)
    fake.fail(Fault(IMAGE, 200, headers={"Content-Type": "image/png"}, body=PNG[:40],
                    declared_length=5_000_000))
    result = lab.run(*send(), expect=0, status="sent")
    lab.check(any("chart.png" in w for w in result.json.get("warnings", [])),
              "no warning for the image left out")
    fake.fail(Fault(f"/download/attachments/{PAGE_ID}/notes.txt", 200,
                    headers={"Content-Type": "text/plain"}, body=b"no",
                    declared_length=5_000_000))
    lab.run(*send("--attach", "notes.txt", to="b@example.com"), expect=6, status="error")
    lab.check(lab.delivered("b@example.com") == 0, "sent without the attachment")


@scenario("E9f", "group member list whose `next` link leads back to itself")
def paging_loop(lab: Lab) -> None:
    server, fake = standard(lab)
    members = "/rest/api/group/g1/membersByGroupId"
    body = {"results": [{"type": "known", "accountId": "557058:abc",
                         "email": "x@example.com", "displayName": "X"}],
            "start": 0, "limit": 200, "size": 1,
            "_links": {"base": fake.url, "next": f"{members}?start=0"}}
    fake.fail(Fault("/rest/api/group/by-name", 200, body={"name": "team", "id": "g1"}),
              *[Fault(members, 200, body=body)] * 50)
    result = lab.run(*send("--yes", to="group:team"), expect=3, status="error")
    lab.check("leads back" in result.stderr, f"unclear error: {result.stderr.strip()}")
    asked = sum(1 for r in fake.requests if r.path == "/wiki" + members)
    lab.check(asked <= 3, f"{asked} requests for the looping list")
    lab.check(server.received == [], "sent")


@scenario("E10", "bidi overrides and ESC in the title, an attachment name, an image name")
def hostile_text(lab: Lab) -> None:
    escape_image = f"/download/attachments/{PAGE_ID}/%1B%5D0%3BPWNED%07evil.png"
    page = Page(PAGE_ID, "Quarterly \u202etxt.exe\u202c report \u2066x\u2069 \x1b]0;PWNED\x07",
                version=3, export_view=None, view=f'<p>x</p><p><img src="/wiki{escape_image}"></p>',
                attachments=[Attachment("invoice_\u202efdp.exe", "application/pdf", b"%PDF")])
    server, fake = lab.smtp_server(), lab.confluence(standard_site(pages=[page]))
    lab.unattended(server, fake)
    fake.fail(Fault(f"/download/attachments/{PAGE_ID}/\x1b", 200,
                    headers={"Content-Type": "text/html"}, body=b"<html></html>"))
    result = lab.run(*send("--attachments"), expect=0, status="sent")
    lab.check("evil.png is not an image" in result.stderr, "no warning about the image")
    lab.check("\x1b" not in result.stderr, "ESC reached stderr")
    for received in server.received:
        message = received.message
        names = [str(part.get_filename()) for part in message.walk() if part.get_filename()]
        lab.check(len(names) == 1, f"attachments: {names}")
        for text in (str(message["Subject"]), *names):
            lab.check(not BIDI.search(text) and "\x1b" not in text,
                      f"a control character survived in {text!r}")


# -- F: hostile local input


@scenario("F1b", "`--save` to a FIFO, and to a symlink to another file")
def save_to_special_files(lab: Lab) -> None:
    standard(lab)
    fifo, link, victim = (lab.folder / name for name in ("fifo", "link.eml", "victim.txt"))
    os.mkfifo(fifo)
    victim.write_text("victim")
    link.symlink_to(victim)
    lab.run(*send("--save", str(fifo)), expect=2, status="error")
    lab.run(*send("--save", str(link)), expect=2, status="error")
    lab.check(stat.S_ISFIFO(fifo.lstat().st_mode), "the FIFO was replaced")
    lab.check(link.is_symlink() and victim.read_text() == "victim",
              "the symlink or its target was written")
    lab.check(not list(lab.folder.glob(".mailpage-*")), "a temporary file was left")


@scenario("F3", "config file 0666 (then owned by nobody) points SMTP at another server")
def writable_config(lab: Lab) -> None:
    attacker_ca = trustme.CA()
    server, attacker = lab.smtp_server(), lab.smtp_server(destination=False, ca=attacker_ca)
    lab.unattended(site=lab.confluence())  # the SMTP account comes from the config file
    lab.run("config", "set-smtp", "--host", "localhost", "--port", str(server.port),
            "--username", smtp.USERNAME, "--ca-file", str(lab.ca_file), "--password-stdin",
            expect=0, stdin=smtp.PASSWORD + "\n")
    lab.run(*send(), expect=0, status="sent")
    attacker_pem = lab.folder / "attacker-ca.pem"
    attacker_ca.cert_pem.write_to_path(str(attacker_pem))
    config = lab.folder / "config.toml"
    text = re.sub(r"port = \d+", f"port = {attacker.port}", config.read_text())
    config.write_text(text.replace(str(lab.ca_file), str(attacker_pem)))
    config.chmod(0o666)
    result = lab.run(*send(to="b@example.com"), expect=3, status="error")
    lab.check("writable by other users" in result.stderr,
              f"the mode is not the reason: {result.stderr.strip()}")
    if os.geteuid() == 0:  # only root can give the file away
        config.chmod(0o644)
        os.chown(config, 65534, 65534)  # nobody
        result = lab.run(*send(to="c@example.com"), expect=3, status="error")
        lab.check("belongs to another user" in result.stderr,
                  f"the owner is not the reason: {result.stderr.strip()}")
    lab.check(attacker.recorder.connections == 0, "mailpage talked to the attacker")


# -- G: signals


@scenario("G8", "SIGTERM while the 3rd of 5 `--individually` messages waits for its 250;"
                " `--if-changed` rerun")
def sigterm_mid_send(lab: Lab) -> None:
    server, _ = standard(lab)
    everyone = [f"r{n}@example.com" for n in range(5)]
    tap(server).stall_for = {everyone[2]: 3.0}
    command = send("--individually", "--if-changed", to=",".join(everyone))
    process = lab.spawn(*command)
    deadline = time.monotonic() + RUN_TIMEOUT
    while len(tap(server).arrived) < 3 and time.monotonic() < deadline:
        time.sleep(0.02)
    process.send_signal(signal.SIGTERM)
    stopped = lab.finish(process)
    lab.step(stopped, 143, "error")
    report = stopped.json
    lab.check((report.get("delivered"), report.get("unknown"), report.get("not_sent"))
              == (everyone[:2], everyone[2:3], everyone[3:]),
              f"the report is not who has it: {report}")
    rerun = lab.run(*command, expect=0, status="sent")
    lab.check(rerun.json.get("delivered") == everyone[3:],
              f"the rerun did not send to the rest only: {rerun.json}")


def tracee(strace: subprocess.Popen[str]) -> int | None:
    """The pid of the command strace started."""
    with contextlib.suppress(OSError, ValueError):
        children = Path(f"/proc/{strace.pid}/task/{strace.pid}/children").read_text().split()
        return int(children[0]) if children else None
    return None


@scenario("G9", "SIGTERM during `--save`'s write (each write delayed 0.5 s with strace)")
def sigterm_mid_write(lab: Lab) -> None:
    strace = shutil.which("strace")
    if strace is None or subprocess.run([strace, "-o", "/dev/null", "true"],
                                        capture_output=True, check=False).returncode != 0:
        raise Skipped("needs strace and ptrace to hold the write open; without them the"
                      " signal cannot be timed to land inside it")
    lab.unattended()
    target = lab.folder / "out" / "m.eml"
    target.parent.mkdir()
    process = lab.spawn("send", str(EXAMPLE), "--to", "a@example.com", "--save", str(target),
                        "--json", prefix=[strace, "-f", "-q", "-o", "/dev/null", "-e",
                                          "trace=write", "-e", "inject=write:delay_enter=500000"])
    deadline = time.monotonic() + RUN_TIMEOUT
    while not list(target.parent.glob(".mailpage-*.tmp")) and time.monotonic() < deadline:
        time.sleep(0.01)
    pid = tracee(process)  # its write of the temporary file is being held
    lab.check(pid is not None, "the traced mailpage was not found")
    if pid is not None:
        os.kill(pid, signal.SIGTERM)
    lab.step(lab.finish(process), 143, "error")
    lab.check(not target.exists(), "the target was written")
    lab.check(not list(target.parent.glob(".mailpage-*")), "the temporary file was left")


# --------------------------------------------------------------------------- running them


@dataclass
class Row:
    id: str
    fault: str
    expected: str = ""
    actual: str = ""
    copies: str = ""
    doubled: int = 0
    leaked: list[str] = field(default_factory=list)
    met: bool = False
    skipped: str = ""
    problems: list[str] = field(default_factory=list)
    seconds: float = 0.0


def summary(texts: Sequence[str]) -> str:
    """Runs of the same text shortened: a, a, a, b becomes "a ×3 → b"."""  # noqa: RUF002
    runs = [(text, len(list(same))) for text, same in itertools.groupby(texts)]
    return " → ".join(f"{text} ×{n}" if n > 1 else text for text, n in runs)


def histogram(copies: Counter[tuple[str, str]]) -> str:
    """How many recipients got how many copies: "5×1, 1×2" is five once, one twice."""  # noqa: RUF002
    by_count = Counter(copies.values())
    return ", ".join(f"{n}×{c}" for c, n in sorted(by_count.items())) or "none"


def play(scenario: Scenario, ca: trustme.CA, base: Path) -> Row:
    row = Row(scenario.id, scenario.fault)
    started = time.monotonic()
    folder = Path(tempfile.mkdtemp(prefix=f"{scenario.id}-", dir=base))
    with contextlib.ExitStack() as stack:
        lab = Lab(folder, ca, stack)
        try:
            scenario.play(lab)
        except Skipped as skip:
            row.skipped = str(skip)
            return row
        except Exception as error:  # noqa: BLE001 - a broken scenario is a row, not a crash
            lab.problems.append(f"the scenario failed: {type(error).__name__}: {error}")
        lab.settle()
        copies = lab.copies()
        row.expected = summary([s.expected for s in lab.steps])
        row.actual = summary([s.actual for s in lab.steps])
        row.copies = histogram(copies)
        row.doubled = sum(max(0, n - 1) for n in copies.values())
        row.leaked = lab.leaks()
        row.problems = lab.problems
        row.met = bool(lab.steps) and all(s.met for s in lab.steps) and not lab.problems
    row.seconds = time.monotonic() - started
    return row


def run_matrix(only: Sequence[str] = ()) -> list[Row]:
    """Play the scenarios whose id starts with one of ``only`` (all if empty)."""
    chosen = [s for s in SCENARIOS if not only or s.id.startswith(tuple(only))]
    ca = trustme.CA()
    umask = os.umask(0o022)  # mailpage refuses a config folder others can write
    server_log = logging.getLogger("mail.log")  # aiosmtpd's: failed handshakes are the point
    server_log.disabled = True
    try:
        with tempfile.TemporaryDirectory(prefix="fault-matrix-") as base:
            return [play(s, ca, Path(base)) for s in chosen]
    finally:
        server_log.disabled = False
        os.umask(umask)


def table(rows: Sequence[Row]) -> str:
    columns = ["id", "fault", "expected (exit status)", "actual", "copies", "doubled", "leaked",
               "met", "s"]
    lines = ["| " + " | ".join(columns) + " |", "|---" * len(columns) + "|"]
    for row in rows:
        if row.skipped:
            lines.append(f"| {row.id} | {row.fault} | skipped: {row.skipped} | | | | | — | |")
            continue
        verdict = "yes" if row.met else "**NO**"
        lines.append(f"| {row.id} | {row.fault} | {row.expected} | {row.actual} | {row.copies}"
                     f" | {row.doubled} | {len(row.leaked)} | {verdict} | {row.seconds:.1f} |")
    return "\n".join(lines).replace("\x1b", "\\x1b")


def totals(rows: Sequence[Row]) -> tuple[int, int, int, int]:
    """Faults tried, expectations met, messages doubled, secrets leaked."""
    tried = [r for r in rows if not r.skipped]
    return (len(tried), sum(r.met for r in tried), sum(r.doubled for r in tried),
            sum(len(r.leaked) for r in tried))


def report(rows: Sequence[Row], seconds: float) -> str:
    tried, met, doubled, leaked = totals(rows)
    lines = [table(rows), ""]
    for row in rows:  # what the table has no room for
        lines += [f"- {row.id}: {problem}" for problem in row.problems]
        lines += [f"- {row.id}: secret found in {place}" for place in row.leaked]
        if row.skipped:
            lines.append(f"- {row.id} skipped: {row.skipped}")
    lines += [""] if lines[-1] else []
    totals_line = (f"faults tried {tried}, expectations met {met}/{tried}, messages doubled"
                   f" {doubled}, secrets leaked {leaked}")
    lines += [totals_line, f"({seconds:.0f} s)"]
    return "\n".join(lines)


def main(argv: Sequence[str] = ()) -> int:
    started = time.monotonic()
    rows = run_matrix(argv)
    print(report(rows, time.monotonic() - started))
    tried, met, doubled, leaked = totals(rows)
    if doubled or leaked:
        return 1
    return 2 if met < tried else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
