"""OAuth2 sign-in to SMTP: the four flows through the real msal, google-auth and
google-auth-oauthlib against a loopback identity provider over HTTPS, and the real smtplib
against an aiosmtpd oauth_server that checks each bearer token with that provider."""

from __future__ import annotations

import datetime
import json
import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest
import trustme
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

from tests.conftest import EXAMPLE, ROOT, run, run_process, set_env
from tests.support import smtp
from tests.support.idp import IdentityProvider
from tests.support.keyrings import MemoryKeyring

MAILBOX = "ann@example.com"
CLIENT_ID = "11111111-2222-3333-4444-555555555555"
CLIENT_SECRET = "app-secret-~Q8.abcdefghijklmnop"
GOOGLE_ID = "1234-abc.apps.googleusercontent.com"
GOOGLE_SECRET = "GOCSPX-desktop-secret"
SEND = ("send", str(EXAMPLE), "--to", "bob@example.com")


@pytest.fixture
def idp(idp: IdentityProvider) -> IdentityProvider:
    """The shared provider, with this module's public and Google clients."""
    idp.public_client(CLIENT_ID)
    idp.google_client(GOOGLE_ID, GOOGLE_SECRET)
    return idp


def set_smtp(server: smtp.SmtpServer, ca_file: Path, *args: str, stdin: str | None = None,
             username: str = MAILBOX) -> None:
    result = run("config", "set-smtp", "--host", server.host, "--port", str(server.port),
                 "--ca-file", str(ca_file), "--username", username, "--auth", "oauth2", *args,
                 input=stdin)
    assert result.exit_code == 0, result.stderr


def microsoft(idp: IdentityProvider, *more: str) -> tuple[str, ...]:
    return ("--oauth-provider", "microsoft", "--client-id", CLIENT_ID, "--tenant", "contoso",
            "--authority", idp.url, *more)


def google_json(idp: IdentityProvider) -> str:
    return json.dumps(idp.google_client_config(GOOGLE_ID, GOOGLE_SECRET))


def sent_to(server: smtp.SmtpServer) -> list[str]:
    return [address for item in server.received for address in item.rcpt_tos]


def stored(keyring: MemoryKeyring, account: str) -> str:
    return str(json.loads(keyring.store[("mailpage", f"default/{account}")])["secret"])


# Microsoft, a person: device code


def test_device_code_sign_in_then_sends_with_xoauth2_in_two_steps(
    idp: IdentityProvider, oauth_server: smtp.SmtpServer, ca_file: Path, isolated: MemoryKeyring,
) -> None:
    set_smtp(oauth_server, ca_file, *microsoft(idp))
    idp.auto_approve(MAILBOX)
    login = run("config", "login", "smtp")
    assert login.exit_code == 0, login.stderr
    assert "enter the code" in login.stderr  # msal's message: where to go, which code
    assert "Signed in to Microsoft as ann@example.com" in login.stderr
    refresh = stored(isolated, "smtp-oauth")
    assert refresh and refresh not in login.stderr + login.stdout

    sent = run(*SEND)
    assert sent.exit_code == 0, sent.stderr
    assert sent_to(oauth_server) == ["bob@example.com"]
    mechanism, form, _, user = oauth_server.recorder.oauth_logins[-1]
    assert (mechanism, form, user) == ("XOAUTH2", "two-step", MAILBOX)


def test_every_use_stores_the_rotated_refresh_token(
    idp: IdentityProvider, oauth_server: smtp.SmtpServer, ca_file: Path, isolated: MemoryKeyring,
) -> None:
    set_smtp(oauth_server, ca_file, *microsoft(idp))
    idp.auto_approve(MAILBOX)
    assert run("config", "login", "smtp").exit_code == 0
    first = stored(isolated, "smtp-oauth")
    assert run(*SEND).exit_code == 0
    second = stored(isolated, "smtp-oauth")
    assert second != first  # the provider rotated it and mailpage kept the new one
    again = run(*SEND)  # the first is spent: only the stored successor works
    assert again.exit_code == 0, again.stderr
    assert idp.refresh_tokens_used == [first, second]
    assert len(oauth_server.received) == 2


def test_an_unattended_run_without_a_sign_in_names_the_login_command(
    idp: IdentityProvider, oauth_server: smtp.SmtpServer, ca_file: Path,
) -> None:
    set_smtp(oauth_server, ca_file, *microsoft(idp))
    result = run(*SEND, "--json")
    assert result.exit_code == 3
    assert "Not signed in to Microsoft for ann@example.com" in result.stderr
    assert "mailpage config login smtp" in result.stderr
    assert oauth_server.received == []


def test_an_expired_sign_in_is_exit_4_with_the_reason_and_the_fix(
    idp: IdentityProvider, oauth_server: smtp.SmtpServer, ca_file: Path,
) -> None:
    set_smtp(oauth_server, ca_file, *microsoft(idp))
    idp.auto_approve(MAILBOX)
    assert run("config", "login", "smtp").exit_code == 0
    idp.fail_next("invalid_grant", "AADSTS700082: The refresh token has expired due to"
                  " inactivity. The token was issued on 2026-08-01 and was inactive for"
                  " 90.00:00:00.\r\nTrace ID: 0000")
    result = run(*SEND, "--json")
    assert result.exit_code == 4
    error = json.loads(result.stdout)
    assert error["reason"] == "login_expired"
    assert "AADSTS700082" in error["error"]
    assert "mailpage config login smtp" in error["error"]
    assert "Trace ID" not in error["error"]  # one line
    assert oauth_server.received == []


def test_two_cron_runs_at_once_keep_the_rotated_token(
    idp: IdentityProvider, oauth_server: smtp.SmtpServer, ca_file: Path, tmp_path: Path,
) -> None:
    """Both redeem the refresh token; without the lock the second would present the spent
    one (invalid_grant), or store an older successor over the newer one."""
    set_smtp(oauth_server, ca_file, *microsoft(idp))
    idp.auto_approve(MAILBOX)
    env = {**os.environ, "PYTHONPATH": str(ROOT),
           "PYTHON_KEYRING_BACKEND": "tests.support.keyrings.FileKeyring"}
    login = run_process("config", "login", "smtp")
    assert login.returncode == 0, login.stderr
    idp.refresh_hold = 0.5  # the runs overlap, however the machine schedules them
    runs = [subprocess.Popen([sys.executable, "-m", "mailpage_cli", "--no-input", *SEND],
                             env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True) for _ in range(3)]
    outcomes = [(p.wait(timeout=60), p.stderr.read() if p.stderr else "") for p in runs]
    assert [code for code, _ in outcomes] == [0, 0, 0], outcomes
    assert len(idp.refresh_tokens_used) == 3
    assert len(set(idp.refresh_tokens_used)) == 3  # each run redeemed its predecessor's
    later = run_process("--no-input", *SEND)
    assert later.returncode == 0, later.stderr
    assert len(oauth_server.received) == 4


def test_a_3_kb_token_goes_in_two_steps(
    idp: IdentityProvider, oauth_server: smtp.SmtpServer, ca_file: Path,
) -> None:
    idp.token_bytes = 3000  # Microsoft's are over 2,500 bytes
    set_smtp(oauth_server, ca_file, *microsoft(idp))
    idp.auto_approve(MAILBOX)
    assert run("config", "login", "smtp").exit_code == 0
    result = run(*SEND)
    assert result.exit_code == 0, result.stderr
    assert oauth_server.recorder.oauth_logins[-1][:3] == ("XOAUTH2", "two-step", 3000)


def test_oauthbearer_when_the_server_offers_only_that(
    ca: trustme.CA, idp: IdentityProvider, ca_file: Path,
) -> None:
    bearer_only = smtp.start("starttls", ca, oauth=idp, mechanisms=("OAUTHBEARER",))
    try:
        set_smtp(bearer_only, ca_file, *microsoft(idp))
        idp.auto_approve(MAILBOX)
        assert run("config", "login", "smtp").exit_code == 0
        assert run(*SEND).exit_code == 0
        mechanism, _, _, user = bearer_only.recorder.oauth_logins[-1]
        assert (mechanism, user) == ("OAUTHBEARER", MAILBOX)
        assert bearer_only.recorder.oauth_fields[-1]["host"] == bearer_only.host
        assert len(bearer_only.received) == 1
    finally:
        bearer_only.stop()


# Microsoft, a job: client credentials


def test_app_only_with_a_client_secret(
    idp: IdentityProvider, oauth_server: smtp.SmtpServer, ca_file: Path, isolated: MemoryKeyring,
) -> None:
    idp.confidential_client(CLIENT_ID, secret=CLIENT_SECRET)
    set_smtp(oauth_server, ca_file, *microsoft(idp, "--client-secret-stdin"),
             stdin=CLIENT_SECRET + "\n")
    assert stored(isolated, "smtp-client") == CLIENT_SECRET
    result = run(*SEND, "--json")
    assert result.exit_code == 0, result.stderr
    assert sent_to(oauth_server) == ["bob@example.com"]
    grants = [fields.get("grant_type") for _, path, fields in idp.requests
              if path.endswith("/token")]
    assert grants == ["client_credentials"]
    assert CLIENT_SECRET not in result.stdout + result.stderr


def test_app_only_with_a_certificate(
    idp: IdentityProvider, oauth_server: smtp.SmtpServer, ca_file: Path, tmp_path: Path,
) -> None:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "mailpage")])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
                   .public_key(key.public_key()).serial_number(x509.random_serial_number())
                   .not_valid_before(now).not_valid_after(now + datetime.timedelta(days=1))
                   .sign(key, hashes.SHA256()))
    cert_pem = certificate.public_bytes(serialization.Encoding.PEM)
    pem = tmp_path / "app.pem"
    pem.write_bytes(cert_pem + key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption()))
    pem.chmod(0o600)
    idp.confidential_client(CLIENT_ID, certificate_pem=cert_pem)
    set_smtp(oauth_server, ca_file, *microsoft(idp, "--client-certificate", str(pem)))
    result = run(*SEND)
    assert result.exit_code == 0, result.stderr
    assert sent_to(oauth_server) == ["bob@example.com"]
    pem.chmod(0o644)
    refused = run(*SEND)
    assert refused.exit_code == 3
    assert "can be read by others" in refused.stderr


def test_a_wrong_client_secret_is_exit_4_client_refused(
    idp: IdentityProvider, oauth_server: smtp.SmtpServer, ca_file: Path,
) -> None:
    idp.confidential_client(CLIENT_ID, secret=CLIENT_SECRET)
    set_smtp(oauth_server, ca_file, *microsoft(idp, "--client-secret-stdin"), stdin="wrong\n")
    result = run(*SEND, "--json")
    assert result.exit_code == 4
    assert json.loads(result.stdout)["reason"] == "client_refused"
    assert oauth_server.received == []


# Google


def set_google(server: smtp.SmtpServer, ca_file: Path, client: str,
               username: str = MAILBOX) -> None:
    """``set-smtp`` as a process, so that the client JSON goes to the file keyring that the
    login process reads."""
    result = run_process("config", "set-smtp", "--host", server.host, "--port",
                         str(server.port), "--ca-file", str(ca_file), "--username", username,
                         "--auth", "oauth2", "--oauth-provider", "google",
                         "--client-secret-stdin", input=client)
    assert result.returncode == 0, result.stderr


def _login_in_a_browser(idp: IdentityProvider, user: str = MAILBOX
                        ) -> subprocess.CompletedProcess[str]:
    """``config login smtp`` as a process; the test reads the address it prints and plays
    the person's browser."""
    env = {**os.environ, "PYTHONPATH": str(ROOT),
           "PYTHON_KEYRING_BACKEND": "tests.support.keyrings.FileKeyring"}
    process = subprocess.Popen([sys.executable, "-m", "mailpage_cli", "config", "login",
                                "smtp"], env=env, stdin=subprocess.DEVNULL,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert process.stderr is not None
    lines = []
    for line in process.stderr:
        lines.append(line)
        if "https://" in line:
            address = line[line.index("https://"):].strip()
            threading.Thread(target=idp.browser, args=(address, user)).start()
            break
    stdout, rest = process.communicate(timeout=60)
    return subprocess.CompletedProcess(process.args, process.returncode, stdout,
                                       "".join(lines) + rest)


def test_google_browser_sign_in_with_pkce_then_sends(
    idp: IdentityProvider, oauth_server: smtp.SmtpServer, ca_file: Path, tmp_path: Path,
) -> None:
    set_google(oauth_server, ca_file, google_json(idp))
    login = _login_in_a_browser(idp)
    assert login.returncode == 0, login.stderr
    assert GOOGLE_SECRET not in login.stderr + login.stdout
    authorize = next(f for method, path, f in idp.requests if path == "/google/auth")
    assert authorize["code_challenge_method"] == "S256"
    sent = run_process(*SEND)
    assert sent.returncode == 0, sent.stderr
    assert sent_to(oauth_server) == ["bob@example.com"]
    assert oauth_server.recorder.oauth_logins[-1][3] == MAILBOX


def test_a_token_for_another_mailbox_gets_googles_error_answered_with_aq(
    idp: IdentityProvider, oauth_server: smtp.SmtpServer, ca_file: Path,
) -> None:
    set_google(oauth_server, ca_file, google_json(idp), username="bob@example.com")
    login = _login_in_a_browser(idp, user=MAILBOX)  # signed in as ann, sends as bob
    assert login.returncode == 4, login.stderr
    assert oauth_server.recorder.oauth_error_acks == 1
    assert "refused the OAuth2 token for bob@example.com" in login.stderr
    assert "scope https://mail.google.com/" in login.stderr


def test_google_service_account_impersonates_the_mailbox(
    idp: IdentityProvider, oauth_server: smtp.SmtpServer, ca_file: Path, isolated: MemoryKeyring,
) -> None:
    key = idp.service_account()
    set_smtp(oauth_server, ca_file, "--oauth-provider", "google", "--client-secret-stdin",
             stdin=json.dumps(key))
    check = run("config", "check")
    assert "logged in with OAuth2 as ann@example.com" in check.stdout, check.stdout
    result = run("--debug", *SEND)
    assert result.exit_code == 0, result.stderr
    assert sent_to(oauth_server) == ["bob@example.com"]
    assert oauth_server.recorder.oauth_logins[-1][3] == MAILBOX
    assert key["private_key"] not in result.stderr + result.stdout
    assert key["private_key_id"] not in result.stderr + result.stdout


def test_the_service_account_key_can_come_from_the_environment(
    idp: IdentityProvider, oauth_server: smtp.SmtpServer, ca_file: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    key = json.dumps(idp.service_account())
    set_env(monkeypatch, {"MAILPAGE_SMTP_HOST": oauth_server.host,
                          "MAILPAGE_SMTP_PORT": str(oauth_server.port),
                          "MAILPAGE_SMTP_CA_FILE": str(ca_file),
                          "MAILPAGE_SMTP_USERNAME": MAILBOX, "MAILPAGE_SMTP_AUTH": "oauth2",
                          "MAILPAGE_SMTP_OAUTH_PROVIDER": "google",
                          "MAILPAGE_SMTP_OAUTH_FLOW": "service-account",
                          "MAILPAGE_SMTP_CLIENT_SECRET": key})
    result = run(*SEND, "--json")
    assert result.exit_code == 0, result.stderr
    assert sent_to(oauth_server) == ["bob@example.com"]


# What the server says


@pytest.mark.parametrize(("reply", "reason", "fix"), [
    (("535 5.7.139 Authentication unsuccessful, SmtpClientAuthentication is disabled for the"
     " Tenant. Visit https://aka.ms/smtp_auth_disabled for more information."),
     "smtp_auth_disabled", "SmtpClientAuthenticationDisabled $false"),
    ("535 5.7.3 Authentication unsuccessful [SN4PR0501CA0054.namprd05.prod.outlook.com]",
     "token_refused", "SMTP.SendAsApp"),
])
def test_oauth_refusals_are_mapped_to_their_cause(
    idp: IdentityProvider, oauth_server: smtp.SmtpServer, ca_file: Path, reply: str, reason: str,
    fix: str,
) -> None:
    idp.confidential_client(CLIENT_ID, secret=CLIENT_SECRET)
    set_smtp(oauth_server, ca_file, *microsoft(idp, "--client-secret-stdin"),
             stdin=CLIENT_SECRET + "\n")
    oauth_server.recorder.oauth_failure = reply
    result = run(*SEND, "--json")
    assert result.exit_code == 4
    error = json.loads(result.stdout)
    assert error["reason"] == reason
    assert fix in error["error"]


def test_basic_auth_retired_says_switch_to_oauth2(
    ca: trustme.CA, idp: IdentityProvider, ca_file: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    exchange = smtp.start("starttls", ca, oauth=idp, mechanisms=("LOGIN", "XOAUTH2"))
    try:
        exchange.recorder.password_failure = ("550 5.7.30 Basic authentication is not"
                                              " supported for Client Submission.")
        set_env(monkeypatch, exchange.env(ca_file, password=True))
        result = run(*SEND, "--json")
        assert result.exit_code == 4
        error = json.loads(result.stdout)
        assert error["reason"] == "basic_auth_retired"
        assert "--auth oauth2" in error["error"]
    finally:
        exchange.stop()


def test_no_token_ever_shows_in_output_logs_or_files(
    idp: IdentityProvider, oauth_server: smtp.SmtpServer, ca_file: Path, isolated: MemoryKeyring,
    tmp_path: Path, caplog: pytest.LogCaptureFixture,
) -> None:
    set_smtp(oauth_server, ca_file, *microsoft(idp))
    idp.auto_approve(MAILBOX)
    outputs = [run("--debug", "config", "login", "smtp")]
    oauth_server.recorder.oauth_failure = "535 5.7.3 Authentication unsuccessful"
    outputs += [run("--debug", *SEND, "--json"), run("config", "show", "--json"),
                run("config", "check")]
    oauth_server.recorder.oauth_failure = None
    outputs.append(run("--debug", *SEND, "--json"))
    # every access and refresh token the provider issued
    tokens = set(idp._tokens) | set(idp._refresh)
    written = "".join(p.read_text(errors="replace") for p in tmp_path.rglob("*")
                      if p.is_file() and p.name != "keyring.json")
    seen = "".join(r.stdout + r.stderr for r in outputs) + caplog.text + written
    assert tokens
    for token in tokens:
        assert token not in seen


def test_forget_smtp_removes_the_client_secret_and_the_refresh_token(
    idp: IdentityProvider, oauth_server: smtp.SmtpServer, ca_file: Path, isolated: MemoryKeyring,
) -> None:
    idp.confidential_client(CLIENT_ID, secret=CLIENT_SECRET)
    set_smtp(oauth_server, ca_file, *microsoft(idp, "--client-secret-stdin"),
             stdin=CLIENT_SECRET + "\n")
    isolated.store[("mailpage", "default/smtp-oauth")] = "{}"
    isolated.store[("mailpage", "default/confluence")] = "{}"
    result = run("config", "forget", "smtp")
    assert result.exit_code == 0, result.stderr
    assert set(isolated.store) == {("mailpage", "default/confluence")}
