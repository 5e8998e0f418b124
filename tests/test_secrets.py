"""Secrets never leak (no stream, file or log record holds them, nor their base64 forms), and
--debug logs the steps of a run without any of its user data."""

from __future__ import annotations

import base64
import logging
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import pytest

from tests.conftest import EXAMPLE, ROOT, run, set_env
from tests.support import smtp
from tests.support.confluence_server import Attachment, FakeConfluence, Page, Site, User

TOKEN = "conf-T0ken/with+odd=chars"
ME = User("Ann Example", "ann@example.com")
BOB = User("Bob Builder", "bob@example.com")
PAGE_TEXT = "Zanzibar quarterly figures"


def forms(secret: str, user: str) -> list[str]:
    """The secret as it could leak: plain, URL-encoded, and inside the base64 of HTTP basic
    auth and SMTP AUTH PLAIN."""
    return [secret, quote(secret, safe=""), base64.b64encode(secret.encode()).decode(),
            base64.b64encode(f"{user}:{secret}".encode()).decode(),
            base64.b64encode(f"\0{user}\0{secret}".encode()).decode()]


SECRET_FORMS = [*forms(TOKEN, ME.email or ""), *forms(smtp.PASSWORD, smtp.USERNAME)]


@pytest.fixture
def site(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeConfluence]:
    data = Site("cloud", "/wiki", me=ME, token=TOKEN, users=[BOB],
                groups={"secret-club": [BOB, ME]},
                pages=[Page("98487", "Quarterly plan", view=f"<p>{PAGE_TEXT}</p>",
                            attachments=[Attachment("plan.pdf", "application/pdf", b"%PDF")])])
    with FakeConfluence(data) as fake:
        yield fake


@pytest.fixture
def workspace(site: FakeConfluence, starttls_server: smtp.SmtpServer, ca_file: Path,
              tmp_path: Path) -> dict[str, str]:
    """A process environment: the token in the environment, the SMTP password only in the
    (file) keyring, as `config set-smtp --password-stdin` stored it."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("MAILPAGE_")}
    env |= {
        "PYTHONPATH": str(ROOT), "PYTHON_KEYRING_BACKEND": "tests.support.keyrings.FileKeyring",
        "MAILPAGE_TEST_KEYRING": str(tmp_path / "keyring.json"),
        "MAILPAGE_STATE_DIR": str(tmp_path / "state"),
        "MAILPAGE_SENDER_ADDRESS": "ann@example.com",
        **site.env(), **starttls_server.env(ca_file),
    }
    stored = subprocess.run(
        [sys.executable, "-m", "mailpage_cli", "config", "set-smtp", "--host", "localhost",
         "--port", str(starttls_server.port),  # the keyring binds the password to the port
         "--username", smtp.USERNAME, "--password-stdin"], env=env, input=smtp.PASSWORD + "\n",
        capture_output=True, text=True, timeout=60, check=False)
    assert stored.returncode == 0, stored.stderr
    return env


COMMANDS = [  # each with its exit code with the right secrets, and with a wrong token
    (["send", "98487", "--to", "me", "--cc", "group:secret-club", "--attachments"], 0, 4),
    (["send", "98487", "--to", "me", "--json", "--if-changed"], 0, 4),
    (["-v", "send", "98487", "--to", "user:Bob Builder", "--json"], 0, 4),
    (["--debug", "send", "98487", "--to", "me", "--json"], 0, 4),
    (["--debug", "send", "98487", "--to", "me", "--save", "{tmp}/saved.eml"], 0, 4),
    (["--debug", "preview", "98487", "--html", "{tmp}/preview.html"], 0, 4),
    (["--debug", "recipients", "me", "group:secret-club", "--json"], 0, 4),
    (["--debug", "digest", "--cql", "type = page", "--to", "me", "--dry-run", "--json"], 0, 4),
    (["--debug", "-v", "config", "show"], 0, 0),
    (["config", "show", "--json"], 0, 0),
    (["--debug", "config", "check"], 0, 4),
    (["--debug", "send", "98487", "--to", "not an address"], 2, 2),
]


@pytest.mark.parametrize(("args", "right_exit", "wrong_exit"), COMMANDS,
                         ids=[" ".join(args)[:40] for args, _, _ in COMMANDS])
@pytest.mark.parametrize("wrong", [False, True], ids=["right", "wrong-secrets"])
def test_no_stream_or_file_holds_a_secret(
    workspace: dict[str, str], tmp_path: Path, args: list[str], right_exit: int,
    wrong_exit: int, wrong: bool,
) -> None:
    env = dict(workspace)
    if wrong:  # the error paths: refused logins, exit 4
        env["MAILPAGE_CONFLUENCE_TOKEN"] = TOKEN + "-wrong"
    process = subprocess.run(
        [sys.executable, "-m", "mailpage_cli", *[a.format(tmp=tmp_path) for a in args]],
        env=env, capture_output=True, text=True, timeout=120, check=False,
        stdin=subprocess.DEVNULL)
    assert process.returncode == (wrong_exit if wrong else right_exit), process.stderr
    assert "Traceback" not in process.stderr or "--debug" in args
    written = [p for p in tmp_path.rglob("*") if p.is_file() and p.name != "keyring.json"]
    contents = [process.stdout, process.stderr,
                *(p.read_bytes().decode("utf-8", "replace") for p in written)]
    for text in contents:
        for form in SECRET_FORMS:
            assert form not in text


def test_no_log_record_holds_a_secret(
    site: FakeConfluence, smtp_env: smtp.SmtpServer, monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Every LogRecord mailpage or atlassian-python-api creates during a --debug send,
    checked at birth, even with the root logger at DEBUG (as a host program might set it):
    none holds a secret or page content (atlassian-python-api would log requests as curl
    commands and response bodies)."""
    set_env(monkeypatch, site.env())
    root, level = logging.getLogger(), logging.getLogger().level
    records: list[str] = []
    default = logging.getLogRecordFactory()

    def capture(*args: object, **kwargs: object) -> logging.LogRecord:
        record = default(*args, **kwargs)
        if record.name.startswith(("mailpage_cli", "atlassian")):
            records.append(f"{record.name} {record.getMessage()}")
        return record

    logging.setLogRecordFactory(capture)
    root.setLevel(logging.DEBUG)  # setLevel, not an attribute: it clears the loggers' caches
    try:
        result = run("--debug", "send", "98487", "--to", "me", "--attachments")
    finally:
        logging.setLogRecordFactory(default)
        root.setLevel(level)
    assert result.exit_code == 0, result.stderr
    assert any("confluence GET" in r for r in records)
    for record in records:
        for value in (*SECRET_FORMS, PAGE_TEXT, "plan.pdf", "Quarterly plan"):
            assert value not in record, record


def test_debug_logs_every_step_and_no_user_data(
    site: FakeConfluence, smtp_env: smtp.SmtpServer, monkeypatch: pytest.MonkeyPatch,
) -> None:
    set_env(monkeypatch, site.env())
    result = run("--debug", "send", "98487", "--to", "me", "--cc", "group:secret-club",
                 "--bcc", "carol@example.com", "--attachments", "--message", "Top secret note")
    assert result.exit_code == 0, result.stderr
    debug = [line for line in result.stderr.splitlines() if line.startswith("debug:")]
    text = "\n".join(debug)
    assert "confluence GET /*/api/v2/pages/98487?body-format 200" in text
    assert "confluence GET /*/rest/api/group/by-name?name 200" in text
    for step in ("connect starttls", "starttls 220", "auth 235", "mail 250", "rcpt 250",
                 "data 250", "quit"):
        assert f"smtp {step}" in text
    assert "download GET site 302" in text and "download GET elsewhere 200" in text
    user_data = [ME.email, BOB.email, "carol@example.com", "Ann Example", "Bob Builder",
                 "Quarterly plan", PAGE_TEXT, "Top secret note", "secret-club", "plan.pdf",
                 "ENG", "Engineering", smtp.USERNAME, "localhost", *SECRET_FORMS]
    for value in user_data:
        assert str(value) not in text, value


def test_the_config_file_is_refused_when_it_holds_a_secret_even_for_show(
    config_file: Path,
) -> None:
    config_file.parent.mkdir(parents=True)
    config_file.write_text('[profiles.default.confluence]\ntoken = "abc-very-secret"\n')
    for args in (["config", "show"], ["send", str(EXAMPLE), "--to", "a@example.com", "-n"]):
        result = run(*args)
        assert result.exit_code == 3
        assert "holds a secret" in result.stderr  # not just an unknown key
        assert "abc-very-secret" not in result.stderr + result.stdout


def _site(token: str) -> Site:
    return Site("cloud", "/wiki", me=ME, token=token, pages=[Page("98487", "Notes")])


def test_a_token_never_goes_to_a_site_it_was_not_stored_for(isolated: object) -> None:
    """set-site NEW without a new token keeps the old one in the keyring, bound to the old
    site: it is refused for the new one (exit 3, naming the command), not sent (D1)."""
    with FakeConfluence(_site(TOKEN)) as first, FakeConfluence(_site("other")) as second:
        stored = run("config", "set-site", first.url, "--user", str(ME.email), "--deployment",
                     "cloud", "--token-stdin", input=TOKEN + "\n")
        assert stored.exit_code == 0, stored.stderr
        assert run("send", "98487", "--to", "a@example.com", "--dry-run").exit_code == 0
        moved = run("config", "set-site", second.url, "--user", str(ME.email),
                    "--deployment", "cloud")
        assert moved.exit_code == 0
        assert f"no token stored for {second.url}" in moved.stderr
        refused = run("send", "98487", "--to", "a@example.com", "--dry-run", "--json")
        assert refused.exit_code == 3
        assert f"stored for {first.url}; it is not sent to {second.url}" in refused.stderr
        # the site is the file's: the short command stores a token for it, keeping it
        assert "`mailpage config set-site --token-stdin`" in refused.stderr
        fixed = run("config", "set-site", "--token-stdin", input=TOKEN + "\n")
        assert fixed.exit_code == 0, fixed.stderr
        assert second.url in fixed.stderr
        assert all(r.authorization is None for r in second.requests)
        assert first.requests  # the first site did get it, while it was the site


def test_a_password_never_goes_to_a_server_it_was_not_stored_for(
    smtp_env: smtp.SmtpServer, ca: object, ca_file: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    other = smtp.start("starttls", ca)  # type: ignore[arg-type]
    try:
        monkeypatch.delenv("MAILPAGE_SMTP_PASSWORD")
        for name in ("MAILPAGE_SMTP_HOST", "MAILPAGE_SMTP_PORT", "MAILPAGE_SMTP_USERNAME"):
            monkeypatch.delenv(name)
        first = run("config", "set-smtp", "--host", "localhost", "--port", str(smtp_env.port),
                    "--username", smtp.USERNAME, "--ca-file", str(ca_file), "--password-stdin",
                    input=smtp.PASSWORD + "\n")
        assert first.exit_code == 0, first.stderr
        assert run("config", "check").stdout.count("smtp: ok") == 1
        moved = run("config", "set-smtp", "--host", "localhost", "--port", str(other.port),
                    "--username", smtp.USERNAME, "--ca-file", str(ca_file))
        assert "no password stored for smtp://localhost:" in moved.stderr
        check = run("config", "check")
        assert check.exit_code == 3
        assert "smtp: FAILED" in check.stdout and "it is not sent to" in check.stdout
        sent = run("send", str(EXAMPLE), "--to", "a@example.com")
        assert sent.exit_code == 3
        assert other.recorder.logins == [] and other.received == []
        assert "--password-stdin" in sent.stderr and f"--port {other.port}" in sent.stderr
    finally:
        other.stop()


def test_a_secret_stored_without_its_destination_is_not_used(
    smtp_env: smtp.SmtpServer, isolated: object, monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A bare value in the keyring (an older mailpage, or stored by hand) names no host."""
    import keyring  # noqa: PLC0415

    monkeypatch.delenv("MAILPAGE_SMTP_PASSWORD")
    keyring.set_password("mailpage", "default/smtp", smtp.PASSWORD)
    result = run("send", str(EXAMPLE), "--to", "a@example.com")
    assert result.exit_code == 3
    assert "stored without its destination" in result.stderr
    assert smtp_env.recorder.logins == []


def test_an_smtp_reply_that_echoes_the_password_is_masked(smtp_env: smtp.SmtpServer) -> None:
    """A server or proxy that echoes what it received (D2, the SMTP half)."""
    plain = base64.b64encode(f"\0{smtp.USERNAME}\0{smtp.PASSWORD}".encode()).decode()
    smtp_env.recorder.refuse["x@example.com"] = f"550 5.7.1 you sent {plain} {smtp.PASSWORD}"
    result = run("send", str(EXAMPLE), "--to", "x@example.com,a@example.com", "--json")
    assert result.exit_code == 7
    assert "550 5.7.1 you sent ******** ********" in result.stdout
    for form in SECRET_FORMS:
        assert form not in result.stdout + result.stderr


@pytest.mark.parametrize("url", [
    "ann:s3cr3t@acme.atlassian.net",  # no scheme: not a URL, and still no echo of it
    "https://ann:s3cr3t@acme.atlassian.net",
    "ftp://ann:s3cr3t@acme.atlassian.net/wiki",
])
def test_a_password_in_a_site_url_is_refused_and_never_echoed(url: str) -> None:
    result = run("config", "check", "--json", env={"MAILPAGE_CONFLUENCE_URL": url})
    assert result.exit_code == 3
    assert "s3cr3t" not in result.stdout + result.stderr


def test_a_password_in_a_gateway_url_is_never_echoed() -> None:
    env = {"MAILPAGE_CONFLUENCE_URL": "https://acme.atlassian.net",
           "MAILPAGE_CONFLUENCE_USER": "ann@acme.com", "MAILPAGE_CONFLUENCE_TOKEN": "t",
           "MAILPAGE_CONFLUENCE_CLOUD_ID": "abc-123",
           "MAILPAGE_CONFLUENCE_API_GATEWAY": "ftp://ann:s3cr3t@api.example.com"}
    result = run("send", "98487", "--to", "a@example.com", "--dry-run", env=env)
    assert result.exit_code == 3
    assert "s3cr3t" not in result.stdout + result.stderr
