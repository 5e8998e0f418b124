"""Delivery to real SMTP servers on loopback: TLS, AUTH, refusals, and the message they get."""

from __future__ import annotations

import json
import re
import socket
from email import message_from_bytes, policy
from pathlib import Path

import pytest

from mailpage_cli import mailer
from tests.conftest import EXAMPLE, run
from tests.support import smtp
from tests.support.clock import FakeClock


def strict_parse(data: bytes):  # type: ignore[no-untyped-def]
    """Parse with ``policy.strict`` (raises on any defect) and read every header."""
    msg = message_from_bytes(data, policy=policy.strict)
    for part in msg.walk():
        for name, value in part.items():
            assert not value.defects, name
        assert not part.defects
    return msg


def tree(msg) -> list[str]:  # type: ignore[no-untyped-def]
    def walk(part, depth):  # type: ignore[no-untyped-def]
        yield "  " * depth + part.get_content_type()
        if part.is_multipart():
            for child in part.iter_parts():
                yield from walk(child, depth + 1)

    return list(walk(msg, 0))


def test_starttls_delivery_has_the_spec_tree_and_headers(smtp_env: smtp.SmtpServer) -> None:
    result = run("send", str(EXAMPLE), "--to", "Team <team@example.com>",
                 "--cc", "lead@example.com", "--attachments")
    assert result.exit_code == 0, result.stderr
    (received,) = smtp_env.received
    assert received.mail_from == "ann@example.com"
    assert sorted(received.rcpt_tos) == ["lead@example.com", "team@example.com"]
    assert [tls for _, tls in smtp_env.recorder.logins] == [True]
    assert all(byte < 128 for byte in received.data), "parts must be 7-bit"
    msg = strict_parse(received.data)
    assert tree(msg) == [
        "multipart/mixed",
        "  multipart/alternative",
        "    text/plain",
        "    multipart/related",
        "      text/html",
        "      image/png",
        "      image/png",
        "  image/png",
        "  image/png",
        "  text/csv",
    ]
    assert msg["From"] == "Ann Example <ann@example.com>"
    assert msg["To"] == "Team <team@example.com>"
    assert msg["Cc"] == "lead@example.com"
    assert msg["Subject"] == "Release notes 2.4"
    assert msg["MIME-Version"] == "1.0"
    assert msg["Date"].datetime is not None
    assert re.fullmatch(r"<[^@<>]+@example\.com>", msg["Message-ID"])
    for part in msg.walk():
        if not part.is_multipart():
            assert part["Content-Transfer-Encoding"] in ("7bit", "quoted-printable", "base64")


def test_every_cid_has_its_part_and_every_part_its_cid(smtp_env: smtp.SmtpServer) -> None:
    assert run("send", str(EXAMPLE), "--to", "team@example.com").exit_code == 0
    msg = message_from_bytes(smtp_env.received[0].data, policy=policy.default)
    html = msg.get_body(("html",)).get_content()
    referenced = set(re.findall(r'src="cid:([^"]+)"', html))
    parts = {p["Content-ID"].strip("<>") for p in msg.walk() if p["Content-ID"]}
    assert referenced == parts
    assert len(parts) == 2
    assert "<script" not in html
    (kept,) = re.findall(r"<style>(.*?)</style>", html, re.S)
    assert kept.lstrip().startswith("@media (prefers-color-scheme: dark)")  # the rest inlined
    assert 'style="' in html
    text = msg.get_body(("plain",)).get_content()
    assert "https://chat.example.com/channels/releases" in text


def test_bcc_recipients_receive_but_no_header_names_them(smtp_env: smtp.SmtpServer) -> None:
    result = run("send", str(EXAMPLE), "--to", "a@example.com", "--bcc", "hidden@example.com")
    assert result.exit_code == 0, result.stderr
    (received,) = smtp_env.received
    assert "hidden@example.com" in received.rcpt_tos
    assert b"hidden" not in received.data
    assert b"Bcc" not in received.data


def test_bcc_only_gets_undisclosed_recipients(smtp_env: smtp.SmtpServer) -> None:
    assert run("send", str(EXAMPLE), "--bcc", "hidden@example.com").exit_code == 0
    (received,) = smtp_env.received
    assert received.rcpt_tos == ["hidden@example.com"]
    assert b"hidden" not in received.data
    assert received.message["To"] == "undisclosed-recipients:;"


def test_implicit_tls_delivers(ssl_server: smtp.SmtpServer, ca_file: Path) -> None:
    env = ssl_server.env(ca_file, password=True)
    result = run("send", str(EXAMPLE), "--to", "a@example.com", env=env)
    assert result.exit_code == 0, result.stderr
    assert len(ssl_server.received) == 1
    assert ssl_server.recorder.logins and all(tls for _, tls in ssl_server.recorder.logins)


@pytest.mark.parametrize("server_name", ["starttls_server", "ssl_server"])
def test_untrusted_certificate_is_refused_and_ca_file_fixes_it(
    server_name: str, request: pytest.FixtureRequest, ca_file: Path
) -> None:
    server: smtp.SmtpServer = request.getfixturevalue(server_name)
    env = server.env(password=True)
    refused = run("send", str(EXAMPLE), "--to", "a@example.com", env=env)
    assert refused.exit_code == 3
    assert "not trusted" in refused.stderr and "--ca-file" in refused.stderr
    assert server.recorder.logins == [] and server.received == []

    env["MAILPAGE_SMTP_CA_FILE"] = str(ca_file)
    accepted = run("send", str(EXAMPLE), "--to", "a@example.com", env=env)
    assert accepted.exit_code == 0, accepted.stderr
    assert len(server.received) == 1


def test_certificate_for_another_host_name_is_refused(ca, ca_file: Path) -> None:  # type: ignore[no-untyped-def]
    server = smtp.start("starttls", ca, cert_names=("mail.example.test",))
    try:
        env = server.env(ca_file, password=True)
        result = run("send", str(EXAMPLE), "--to", "a@example.com", env=env)
    finally:
        server.stop()
    assert result.exit_code == 3
    assert "not trusted" in result.stderr
    assert server.recorder.logins == []


def test_auth_over_plaintext_is_refused_before_any_password_is_sent(
    plain_server: smtp.SmtpServer,
) -> None:
    env = plain_server.env(password=True)
    result = run("send", str(EXAMPLE), "--to", "a@example.com", env=env)
    assert result.exit_code == 3
    assert "unencrypted" in result.stderr
    assert plain_server.recorder.logins == []
    assert plain_server.recorder.connections == 0


def test_starttls_required_but_not_offered_fails_closed(plain_server: smtp.SmtpServer) -> None:
    env = {**plain_server.env(password=True), "MAILPAGE_SMTP_SECURITY": "starttls"}
    result = run("send", str(EXAMPLE), "--to", "a@example.com", env=env)
    assert result.exit_code == 3
    assert "does not offer STARTTLS" in result.stderr
    assert plain_server.recorder.logins == [] and plain_server.received == []


def test_plaintext_without_login_delivers() -> None:
    server = smtp.start("none", auth=False)
    try:
        result = run("send", str(EXAMPLE), "--to", "a@example.com",
                     env=server.env(login=False))
    finally:
        server.stop()
    assert result.exit_code == 0, result.stderr
    assert len(server.received) == 1


def test_a_refused_recipient_gives_exit_7_and_the_rest_are_delivered(
    smtp_env: smtp.SmtpServer,
) -> None:
    smtp_env.recorder.refuse["gone@example.com"] = "550 5.1.1 No such user"
    result = run("send", str(EXAMPLE), "--to", "a@example.com,gone@example.com",
                 "--cc", "b@example.com", "--json")
    assert result.exit_code == 7
    report = json.loads(result.stdout)
    assert report["status"] == "partial"
    assert report["refused"] == {"gone@example.com": "550 5.1.1 No such user"}
    (received,) = smtp_env.received
    assert sorted(received.rcpt_tos) == ["a@example.com", "b@example.com"]
    assert "gone@example.com" in result.stderr
    assert "to 2 of 3 recipients" in result.stderr


def test_every_recipient_refused_is_not_called_sent(smtp_env: smtp.SmtpServer) -> None:
    smtp_env.recorder.refuse["gone@example.com"] = "550 5.1.1 No such user"
    result = run("send", str(EXAMPLE), "--to", "gone@example.com")
    assert result.exit_code == 7
    assert "Not sent" in result.stderr and smtp_env.received == []


def test_a_refused_sender_is_a_configuration_error(smtp_env: smtp.SmtpServer) -> None:
    async def refuse_sender(server, session, envelope, address, options):  # type: ignore[no-untyped-def]
        return "553 5.7.1 Sender not allowed"

    smtp_env.recorder.handle_MAIL = refuse_sender  # type: ignore[attr-defined]
    result = run("send", str(EXAMPLE), "--to", "a@example.com")
    assert result.exit_code == 3
    assert "sender address" in result.stderr and "553" in result.stderr


def test_a_server_without_auth_but_a_username_is_a_configuration_error(
    ca, ca_file: Path  # type: ignore[no-untyped-def]
) -> None:
    server = smtp.start("starttls", ca, auth=False)
    try:
        env = server.env(ca_file, password=True)
        result = run("send", str(EXAMPLE), "--to", "a@example.com", env=env)
    finally:
        server.stop()
    assert result.exit_code == 3
    assert "offers no login" in result.stderr
    assert server.received == []


def test_a_non_ascii_password_uses_utf8_auth_plain(
    ca, ca_file: Path, monkeypatch: pytest.MonkeyPatch  # type: ignore[no-untyped-def]
) -> None:
    monkeypatch.setattr(smtp, "PASSWORD", "pässwörd-ünïcode")
    server = smtp.start("starttls", ca)
    try:
        env = {**server.env(ca_file), "MAILPAGE_SMTP_PASSWORD": "pässwörd-ünïcode"}
        result = run("send", str(EXAMPLE), "--to", "a@example.com", env=env)
        wrong = run("send", str(EXAMPLE), "--to", "a@example.com",
                    env={**env, "MAILPAGE_SMTP_PASSWORD": "pässwörd-falsch"})
    finally:
        server.stop()
    assert result.exit_code == 0, result.stderr
    assert wrong.exit_code == 4, wrong.stderr
    assert "ö" not in wrong.stderr


def test_a_server_that_never_greets_times_out_with_exit_6(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr("mailpage_cli.mailer.TIMEOUT", 0.5)
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        env = {"MAILPAGE_SMTP_HOST": "127.0.0.1",
               "MAILPAGE_SMTP_PORT": str(silent.getsockname()[1]),
               "MAILPAGE_SMTP_SECURITY": "starttls"}
        result = run("send", str(EXAMPLE), "--to", "a@example.com", env=env)
    assert result.exit_code == 6
    assert "did not answer within 0.5 s" in result.stderr


def test_implicit_tls_against_a_plain_port_says_so(plain_server: smtp.SmtpServer) -> None:
    env = {**plain_server.env(login=False), "MAILPAGE_SMTP_SECURITY": "ssl"}
    result = run("send", str(EXAMPLE), "--to", "a@example.com", env=env)
    assert result.exit_code == 3
    assert "--security ssl" in result.stderr


def test_wrong_password_gives_exit_4(smtp_env: smtp.SmtpServer) -> None:
    result = run("send", str(EXAMPLE), "--to", "a@example.com",
                 env={"MAILPAGE_SMTP_PASSWORD": "wrong"})
    assert result.exit_code == 4
    assert "refused the login" in result.stderr
    assert smtp_env.received == []


def test_the_fix_for_a_refused_login_is_the_whole_set_smtp_command(
    smtp_env: smtp.SmtpServer, ca_file: Path,
) -> None:
    """It names the profile and every setting of the account, so running it keeps them."""
    result = run("--profile", "work", "send", str(EXAMPLE), "--to", "a@example.com",
                 env={"MAILPAGE_SMTP_PASSWORD": "wrong"})
    assert result.exit_code == 4
    assert (f"`mailpage --profile work config set-smtp --host {smtp_env.host} --port"
            f" {smtp_env.port} --security starttls --username {smtp.USERNAME} --ca-file"
            f" {ca_file} --password-stdin`") in " ".join(result.stderr.split())


def test_the_ca_file_hint_is_a_command_that_keeps_the_account(
    starttls_server: smtp.SmtpServer,
) -> None:
    env = starttls_server.env(password=True)
    refused = run("--profile", "work", "send", str(EXAMPLE), "--to", "a@example.com", env=env)
    assert refused.exit_code == 3
    assert (f"`mailpage --profile work config set-smtp --host {starttls_server.host} --port"
            f" {starttls_server.port} --security starttls --username {smtp.USERNAME}"
            " --ca-file PEM`") in " ".join(refused.stderr.split())


def test_a_refused_connection_is_retried_then_says_nothing_listens(clock: FakeClock) -> None:
    """A server restarting refuses connections too: retried (exit 6, safe to retry later),
    and the words say nothing listened, so that a wrong host or port shows if it lasts."""
    port = smtp.free_port()
    env = {"MAILPAGE_SMTP_HOST": "127.0.0.1", "MAILPAGE_SMTP_PORT": str(port),
           "MAILPAGE_SMTP_SECURITY": "ssl"}
    result = run("send", str(EXAMPLE), "--to", "a@example.com", env=env)
    assert result.exit_code == 6
    assert (f"The message was not sent (nothing listens at 127.0.0.1:{port}: connection"
            " refused). Check host and port if this persists") in result.stderr
    assert len(clock.sleeps) == mailer.RETRIES.attempts - 1


def test_transient_rcpt_failure_is_retried_once_per_recipient(
    smtp_env: smtp.SmtpServer, clock: FakeClock
) -> None:
    calls = {"n": 0}
    original = smtp_env.recorder.handle_RCPT

    async def flaky(server, session, envelope, address, options):  # type: ignore[no-untyped-def]
        if address == "busy@example.com" and calls["n"] == 0:
            calls["n"] += 1
            return "451 4.3.0 Try again"
        return await original(server, session, envelope, address, options)

    smtp_env.recorder.handle_RCPT = flaky  # type: ignore[method-assign]
    result = run("send", str(EXAMPLE), "--to", "a@example.com,busy@example.com")
    assert result.exit_code == 0, result.stderr
    assert [r.rcpt_tos for r in smtp_env.received] == [["a@example.com"], ["busy@example.com"]]
    assert len(clock.sleeps) == 1


def test_lines_starting_with_a_dot_arrive_intact_at_every_chunk_size(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """DATA is streamed in chunks, each dot-stuffed on its own (SMTP's transparency rule):
    whichever byte a chunk would end at, a dot line arrives as written."""
    dotted = b"Subject: dots\r\n\r\n.one\r\n..two\r\n.\r\nmiddle\r\n.\r\n"
    server = smtp.start("none", auth=False)
    try:
        for chunk in range(1, len(dotted) + 1):
            monkeypatch.setattr("mailpage_cli.mailer.CHUNK", chunk)
            mailer.deliver(mailer.Account(server.host, server.port, "none"),
                           [mailer.Envelope("a@example.com", ("b@example.com",), lambda: dotted)])
    finally:
        server.stop()
    assert [r.data for r in server.received] == [dotted] * len(dotted)


def test_a_4xx_after_the_message_is_retried_and_then_delivered(
    smtp_env: smtp.SmtpServer, clock: FakeClock
) -> None:
    """451 to the final dot: the server did not take it this time (RFC 5321 4.2.1); the
    message goes again, not reported as refused."""
    original = smtp_env.recorder.handle_DATA
    replies: list[str] = []

    async def busy_once(server, session, envelope):  # type: ignore[no-untyped-def]
        if not replies:
            replies.append("451")
            return "451 4.3.0 Queue full, try again later"
        replies.append("250")
        return await original(server, session, envelope)

    smtp_env.recorder.handle_DATA = busy_once  # type: ignore[method-assign]
    result = run("send", str(EXAMPLE), "--to", "a@example.com", "--json")
    assert result.exit_code == 0, result.stderr
    report = json.loads(result.stdout)
    assert (report["status"], report["delivered"], report["refused"]) == (
        "sent", ["a@example.com"], {})
    assert replies == ["451", "250"]
    assert [r.rcpt_tos for r in smtp_env.received] == [["a@example.com"]]
    assert len(clock.sleeps) == 1


def test_a_251_at_rcpt_counts_as_accepted(smtp_env: smtp.SmtpServer) -> None:
    """251 "User not local; will forward" is a success (RFC 5321 3.4)."""
    original = smtp_env.recorder.handle_RCPT

    async def forwarding(server, session, envelope, address, options):  # type: ignore[no-untyped-def]
        if address == "moved@example.com":
            envelope.rcpt_tos.append(address)
            return "251 2.1.5 User not local; will forward"
        return await original(server, session, envelope, address, options)

    smtp_env.recorder.handle_RCPT = forwarding  # type: ignore[method-assign]
    result = run("send", str(EXAMPLE), "--to", "a@example.com,moved@example.com", "--json")
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout)["delivered"] == ["a@example.com", "moved@example.com"]
    assert [r.rcpt_tos for r in smtp_env.received] == [["a@example.com", "moved@example.com"]]


def test_552_at_mail_from_refuses_every_recipient_not_the_sender(
    smtp_env: smtp.SmtpServer,
) -> None:
    """552 to MAIL FROM (with SIZE=): the message is too big for this server, which is no
    fault of the sender address: every recipient is refused with the reply, exit 7."""
    async def too_big(server, session, envelope, address, options):  # type: ignore[no-untyped-def]
        return "552 5.3.4 Message size exceeds fixed maximum message size"

    smtp_env.recorder.handle_MAIL = too_big  # type: ignore[attr-defined]
    result = run("send", str(EXAMPLE), "--to", "a@example.com", "--cc", "b@example.com",
                 "--json")
    assert result.exit_code == 7, result.stderr
    report = json.loads(result.stdout)
    assert report["status"] == "refused"
    assert report["refused"] == dict.fromkeys(
        ["a@example.com", "b@example.com"],
        "552 5.3.4 Message size exceeds fixed maximum message size")
    assert "sender address" not in result.stderr
    assert smtp_env.received == []


def test_retries_back_off_exponentially_with_jitter() -> None:
    """Waits of about 1, 2 and 4 s (each within 25 %) before the 2nd to 4th try."""
    server = smtp.start("none", auth=False)
    server.recorder.busy = 99  # "421 Too busy" to every connection
    clock = FakeClock()
    try:
        with pytest.raises(mailer.UnavailableError, match="421"):
            mailer.deliver(mailer.Account(server.host, server.port, "none"),
                           [mailer.Envelope("a@example.com", ("b@example.com",), lambda: b"x")],
                           clock=clock)
    finally:
        server.stop()
    assert len(clock.sleeps) == mailer.RETRIES.attempts - 1 == 3
    for wait, base in zip(clock.sleeps, [1, 2, 4], strict=True):
        assert 0.75 * base <= wait <= 1.25 * base, clock.sleeps
    assert server.recorder.busy == 99 - mailer.RETRIES.attempts


@pytest.mark.parametrize("busy", [2, 99])
def test_a_4xx_to_the_final_dot_is_retried_with_backoff(busy: int) -> None:
    """451 after DATA is transient: the message goes again after about 1, 2 and 4 s (each
    within 25 %), until the server takes it or the 4 attempts are spent."""
    server = smtp.start("none", auth=False)
    original = server.recorder.handle_DATA
    replies: list[int] = []

    async def busy_at_first(smtp_server, session, envelope):  # type: ignore[no-untyped-def]
        replies.append(451 if len(replies) < busy else 250)
        if replies[-1] == 451:
            return "451 4.3.0 Queue full, try again later"
        return await original(smtp_server, session, envelope)

    server.recorder.handle_DATA = busy_at_first  # type: ignore[method-assign]
    clock = FakeClock()
    try:
        delivered = mailer.deliver(
            mailer.Account(server.host, server.port, "none"),
            [mailer.Envelope("a@example.com", ("b@example.com",), lambda: b"Subject: x\r\n")],
            clock=clock)[0].delivered
    except mailer.UnavailableError:  # nobody took it, nobody refused it for good
        delivered = ()
    finally:
        server.stop()
    tries = min(busy + 1, mailer.RETRIES.attempts)
    assert len(replies) == tries
    assert len(clock.sleeps) == tries - 1
    for wait, base in zip(clock.sleeps, [1, 2, 4], strict=False):
        assert 0.75 * base <= wait <= 1.25 * base, clock.sleeps
    expected = ["b@example.com"] if busy < mailer.RETRIES.attempts else []
    assert list(delivered) == expected
    assert [r.rcpt_tos for r in server.received] == [expected] * len(expected)


def test_individually_the_json_message_id_is_that_of_the_first_copy_sent(
    smtp_env: smtp.SmtpServer,
) -> None:
    """Each copy has its own Message-ID; the report names one the server really got: the
    first recipient's, or, when that one was refused, the next one's."""
    smtp_env.recorder.refuse["gone@example.com"] = "550 5.1.1 No such user"
    result = run("send", str(EXAMPLE), "--to", "gone@example.com,a@example.com,b@example.com",
                 "--individually", "--json")
    assert result.exit_code == 7, result.stderr
    received = {r.rcpt_tos[0]: r.message["Message-ID"] for r in smtp_env.received}
    assert sorted(received) == ["a@example.com", "b@example.com"]
    assert json.loads(result.stdout)["message"]["id"] == received["a@example.com"]
