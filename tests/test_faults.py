"""Under faults nothing is lost and nothing is sent twice: Confluence that rate-limits, fails,
resets, stalls or answers garbage; SMTP servers that are busy, defer, drop, refuse or stall;
and a person pressing Ctrl-C in the middle of a send. Retries run on a fake clock."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime
from email.utils import format_datetime
from pathlib import Path

import pytest
import trustme

from mailpage_cli import confluence as confluence_module
from mailpage_cli.errors import UnavailableError
from mailpage_cli.models import Secret
from mailpage_cli.pagerefs import PageId
from mailpage_cli.sites import make_site
from tests.conftest import ROOT, at_a_terminal, run, set_env
from tests.support import smtp
from tests.support.clock import FakeClock
from tests.support.confluence_server import FakeConfluence, Fault, Page, Site, User

ME = User("Ann Example", "ann@example.com")
TEAM = [User(f"Member {n}", f"member{n}@example.com") for n in range(5)]
CONTENT = "/api/v2/pages/98487"  # Cloud reads pages through REST v2


@pytest.fixture
def site(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeConfluence]:
    data = Site("cloud", "/wiki", me=ME, users=list(TEAM), groups={"team": list(TEAM)},
                pages=[Page("98487", "Release notes", view="<p>Ships Tuesday.</p>")])
    with FakeConfluence(data) as fake:
        set_env(monkeypatch, fake.env())
        yield fake


def page_requests(fake: FakeConfluence) -> int:
    return sum(1 for r in fake.requests if r.path.endswith(CONTENT))


def dry_run(*extra: str):  # type: ignore[no-untyped-def]
    return run("send", "98487", "--to", "a@example.com", "--dry-run", *extra)


# --------------------------------------------------------------------------- Confluence


def test_429_with_retry_after_in_seconds_is_honoured(site: FakeConfluence,
                                                    clock: FakeClock) -> None:
    site.fail(Fault.rate_limited(CONTENT, retry_after=7))
    result = dry_run()
    assert result.exit_code == 0, result.stderr
    assert clock.sleeps == [7.0]
    assert page_requests(site) == 2


def test_429_with_retry_after_as_an_http_date_is_honoured(site: FakeConfluence,
                                                         clock: FakeClock) -> None:
    when = format_datetime(datetime.fromtimestamp(clock.time() + 20, UTC), usegmt=True)
    site.fail(Fault(CONTENT, 429, headers={"Retry-After": when}))
    result = dry_run()
    assert result.exit_code == 0, result.stderr
    assert clock.sleeps == [20.0]


def test_429_without_retry_after_backs_off_exponentially_with_jitter(
    site: FakeConfluence, clock: FakeClock,
) -> None:
    site.fail(Fault(CONTENT, 429), Fault(CONTENT, 429), Fault(CONTENT, 429))
    result = dry_run()
    assert result.exit_code == 0, result.stderr
    first, second, third = clock.sleeps
    assert 1 <= first <= 1.5 and 2 <= second <= 3 and 4 <= third <= 6


@pytest.mark.parametrize("fault", [
    Fault.bad_gateway(CONTENT), Fault(CONTENT, 503), Fault(CONTENT, 504),
    Fault.connection_reset(CONTENT), Fault.truncated_json(CONTENT),
    Fault.truncated_json(CONTENT, cut_connection=True),
], ids=["502", "503", "504", "reset", "truncated", "cut-off"])
def test_transient_faults_are_retried(site: FakeConfluence, clock: FakeClock,
                                      fault: Fault) -> None:
    site.fail(fault)
    result = dry_run()
    assert result.exit_code == 0, result.stderr
    assert len(clock.sleeps) == 1
    assert page_requests(site) == 2


def test_after_four_tries_exit_6_says_when_to_try_again(site: FakeConfluence,
                                                        clock: FakeClock) -> None:
    site.fail(*[Fault(CONTENT, 503)] * 10)
    result = dry_run()
    assert result.exit_code == 6
    assert "gave up after 4 tries" in result.stderr
    assert "try again in a few minutes" in result.stderr
    assert page_requests(site) == 4
    assert "Traceback" not in result.stderr


def test_a_retry_after_beyond_the_budget_gives_up_at_once(site: FakeConfluence,
                                                          clock: FakeClock) -> None:
    site.fail(Fault.rate_limited(CONTENT, retry_after=120))
    result = dry_run()
    assert result.exit_code == 6
    assert "try again in 120 s" in result.stderr
    assert clock.sleeps == [] and page_requests(site) == 1


def test_a_short_retry_after_outlasted_by_every_try_says_later(
    site: FakeConfluence, clock: FakeClock,
) -> None:
    """"try again in 1 s" after four tries would be a promise the server already broke."""
    site.fail(*[Fault(CONTENT, 503, headers={"Retry-After": "1"})] * 4)
    result = dry_run()
    assert result.exit_code == 6
    assert "gave up after 4 tries. Nothing was sent; try again later." in result.stderr
    assert " in 1 s" not in result.stderr


def test_a_single_try_is_said_in_the_singular(site: FakeConfluence, clock: FakeClock) -> None:
    client = confluence_module.Client(
        make_site(site.url, "cloud", "basic", str(ME.email)),
        Secret(site.site.token), attempts=1, clock=clock)
    site.fail(Fault(CONTENT, 503))
    with pytest.raises(UnavailableError, match=r"gave up after 1 try\. "):
        client.page(PageId("98487"))


def test_all_tries_fit_in_sixty_seconds(site: FakeConfluence, clock: FakeClock) -> None:
    site.fail(*[Fault.rate_limited(CONTENT, retry_after=25)] * 4)
    result = dry_run()
    assert result.exit_code == 6
    assert sum(clock.sleeps) <= 60
    assert clock.sleeps == [25.0, 25.0]
    assert "gave up after 3 tries. Nothing was sent; try again in 25 s." in result.stderr


def test_a_response_slower_than_the_timeout_is_retried_then_given_up(
    site: FakeConfluence, clock: FakeClock,
) -> None:
    """Each try waits ``timeout`` seconds of silence, then counts as a transient failure."""
    client = confluence_module.Client(
        make_site(site.url, "cloud", "basic", str(ME.email)),
        Secret(site.site.token), timeout=0.2, clock=clock)
    site.latency = 0.4
    with pytest.raises(UnavailableError, match=r"ReadTimeout.*gave up after 4 tries"):
        client.page(PageId("98487"))
    assert page_requests(site) == 4
    assert len(clock.sleeps) == 3


def test_a_login_page_instead_of_json_is_an_authentication_problem(
    site: FakeConfluence, clock: FakeClock,
) -> None:
    site.fail(Fault.login_page(CONTENT))
    result = dry_run()
    assert result.exit_code == 4
    assert "login page" in result.stderr
    assert clock.sleeps == []


def test_a_redirect_of_an_api_call_is_not_followed(site: FakeConfluence,
                                                  clock: FakeClock) -> None:
    elsewhere = f"{site.media_url}/steal{CONTENT}"
    site.fail(Fault(CONTENT, 302, headers={"Location": elsewhere}))
    result = dry_run()
    assert result.exit_code == 3
    assert f"redirected the request (302) to {site.media_url}/steal" in result.stderr
    assert site.media_requests == []  # nothing, with or without credentials, went there
    assert "Traceback" not in result.stderr


def test_links_to_another_host_are_never_followed(site: FakeConfluence,
                                                  clock: FakeClock) -> None:
    body = {"results": [], "start": 0, "limit": 2, "size": 0,
            "_links": {"base": site.media_url, "next": "/rest/api/group/x"}}
    site.fail(Fault("/rest/api/group/by-name", 200, body={"type": "group", "name": "team",
                                                          "id": "1"}),
              Fault("/rest/api/group/1/membersByGroupId", 200, body=body))
    result = run("recipients", "group:team")
    assert result.exit_code == 6
    assert "another host" in result.stderr
    assert site.media_requests == []


# --------------------------------------------------------------------------- SMTP


@pytest.fixture
def fast_smtp(monkeypatch: pytest.MonkeyPatch, clock: FakeClock) -> None:
    """Retries wait on the fake clock; a command has 0.5 s (loopback answers in ms)."""
    monkeypatch.setattr("mailpage_cli.mailer.TIMEOUT", 0.5)


def send_json(*args: str) -> tuple[int, dict[str, object], str]:
    result = run("send", "98487", *args, "--json")
    return result.exit_code, json.loads(result.stdout) if result.stdout else {}, result.stderr


def once_each(server: smtp.SmtpServer) -> Counter[str]:
    counts = Counter(a for r in server.received for a in r.rcpt_tos)
    assert all(n == 1 for n in counts.values()), counts  # nobody twice
    return counts


def test_421_at_connect_is_retried(site: FakeConfluence, smtp_env: smtp.SmtpServer,
                                   fast_smtp: None) -> None:
    smtp_env.recorder.busy = 2
    code, report, stderr = send_json("--to", "a@example.com")
    assert code == 0, stderr
    assert report["status"] == "sent" and once_each(smtp_env) == {"a@example.com": 1}


@pytest.mark.parametrize("reply", ["451 4.3.0 Try later", "452 4.2.2 Mailbox full"])
def test_4xx_at_rcpt_is_retried_for_that_recipient_only(
    site: FakeConfluence, smtp_env: smtp.SmtpServer, fast_smtp: None, reply: str,
) -> None:
    tries = Counter[str]()
    original = smtp_env.recorder.handle_RCPT

    async def flaky(server, session, envelope, address, options):  # type: ignore[no-untyped-def]
        tries[address] += 1
        if address == "slow@example.com" and tries[address] < 3:
            return reply
        return await original(server, session, envelope, address, options)

    smtp_env.recorder.handle_RCPT = flaky  # type: ignore[method-assign]
    code, report, stderr = send_json("--to", "a@example.com,slow@example.com")
    assert code == 0, stderr
    assert once_each(smtp_env) == {"a@example.com": 1, "slow@example.com": 1}
    assert sorted(report["delivered"]) == ["a@example.com", "slow@example.com"]  # type: ignore[arg-type]


def test_4xx_that_never_clears_is_reported_as_refused(
    site: FakeConfluence, smtp_env: smtp.SmtpServer, fast_smtp: None,
) -> None:
    smtp_env.recorder.refuse["full@example.com"] = "452 4.2.2 Mailbox full"
    code, report, _ = send_json("--to", "a@example.com,full@example.com")
    assert code == 7
    assert report["refused"] == {"full@example.com": "452 4.2.2 Mailbox full"}
    assert report["delivered"] == ["a@example.com"]


def test_a_connection_dropped_before_the_message_is_retried_once_delivered(
    site: FakeConfluence, smtp_env: smtp.SmtpServer, fast_smtp: None,
) -> None:
    smtp_env.recorder.drop_at_data = 1
    code, report, stderr = send_json("--to", "a@example.com", "--cc", "b@example.com")
    assert code == 0, stderr
    assert report["status"] == "sent"
    assert smtp_env.recorder.connections == 2
    assert once_each(smtp_env) == {"a@example.com": 1, "b@example.com": 1}


@pytest.mark.parametrize("drops", [1, 99])  # once (A3a), and on every connection (A3b)
def test_a_reply_lost_after_the_final_dot_is_unknown_and_never_resent(
    site: FakeConfluence, smtp_env: smtp.SmtpServer, fast_smtp: None, drops: int,
) -> None:
    smtp_env.recorder.queue_then_drop = drops
    code, report, stderr = send_json("--to", "a@example.com", "--cc", "b@example.com")
    assert once_each(smtp_env) == {"a@example.com": 1, "b@example.com": 1}
    assert code == 7, stderr
    assert report["status"] == "partial"
    assert report["unknown"] == ["a@example.com", "b@example.com"]
    assert report["delivered"] == [] and report["refused"] == {}
    assert "Nothing was sent" not in stderr
    assert "may have it" in stderr


def test_individually_a_lost_reply_leaves_that_one_unknown_and_the_rest_sent(
    site: FakeConfluence, smtp_env: smtp.SmtpServer, fast_smtp: None,
) -> None:
    original = smtp_env.recorder.handle_DATA

    async def drop_second(server, session, envelope):  # type: ignore[no-untyped-def]
        reply = await original(server, session, envelope)
        if envelope.rcpt_tos == ["a2@example.com"]:
            server.transport.abort()
        return reply

    smtp_env.recorder.handle_DATA = drop_second  # type: ignore[method-assign]
    code, report, _ = send_json("--to", "a1@example.com,a2@example.com,a3@example.com",
                                "--individually")
    assert once_each(smtp_env) == dict.fromkeys(
        ["a1@example.com", "a2@example.com", "a3@example.com"], 1)
    assert code == 7
    assert report["delivered"] == ["a1@example.com", "a3@example.com"]
    assert report["unknown"] == ["a2@example.com"]


def test_a_slow_final_reply_is_waited_for_longer_than_the_command_timeout(
    site: FakeConfluence, smtp_env: smtp.SmtpServer, fast_smtp: None,
) -> None:
    smtp_env.recorder.stall_data = 1.0  # a content filter; commands time out after 0.5 s here
    code, report, stderr = send_json("--to", "a@example.com")
    assert code == 0, stderr
    assert report["delivered"] == ["a@example.com"]
    assert once_each(smtp_env) == {"a@example.com": 1}
    assert smtp_env.recorder.connections == 1


def test_a_final_reply_that_never_comes_is_unknown_not_resent(
    site: FakeConfluence, smtp_env: smtp.SmtpServer, fast_smtp: None,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr("mailpage_cli.mailer.FINAL_REPLY_TIMEOUT", 0.5)
    smtp_env.recorder.stall_data = 1.5
    code, report, stderr = send_json("--to", "a@example.com")
    assert code == 7, stderr
    assert report["unknown"] == ["a@example.com"]
    assert len(smtp_env.recorder.data_started) == 1


def test_552_too_big_refuses_everyone_with_the_reply(
    site: FakeConfluence, smtp_env: smtp.SmtpServer, fast_smtp: None,
) -> None:
    async def too_big(server, session, envelope):  # type: ignore[no-untyped-def]
        return "552 5.3.4 Message size exceeds fixed limit"

    smtp_env.recorder.handle_DATA = too_big  # type: ignore[method-assign]
    code, report, stderr = send_json("--to", "a@example.com,b@example.com")
    assert code == 7
    assert report["refused"] == dict.fromkeys(
        ["a@example.com", "b@example.com"], "552 5.3.4 Message size exceeds fixed limit")
    assert report["delivered"] == []
    assert report["status"] == "refused"  # nobody has it: not "partial"
    assert "Not sent" in stderr


def test_a_refused_data_command_refuses_that_message_only(
    site: FakeConfluence, smtp_env: smtp.SmtpServer, fast_smtp: None,
) -> None:
    smtp_env.recorder.refuse_data = 1  # the transaction stays open: mailpage must reset it
    code, report, stderr = send_json("--to", "a@example.com,b@example.com,c@example.com",
                                     "--individually")
    assert code == 7, stderr
    assert report["refused"] == {"a@example.com": "554 5.7.1 Transaction refused"}
    assert report["delivered"] == ["b@example.com", "c@example.com"]
    assert smtp_env.recorder.connections == 1
    once_each(smtp_env)


def test_a_stalling_server_is_given_up_with_exit_6(
    site: FakeConfluence, smtp_env: smtp.SmtpServer, fast_smtp: None,
) -> None:
    smtp_env.recorder.stall_rcpt = 1.5
    code, _, stderr = send_json("--to", "a@example.com")
    assert code == 6
    assert "The message was not sent" in stderr and "Traceback" not in stderr
    assert smtp_env.received == []


def test_a_stall_after_some_deliveries_reports_who_got_it(
    site: FakeConfluence, smtp_env: smtp.SmtpServer, fast_smtp: None,
) -> None:
    original = smtp_env.recorder.handle_RCPT

    async def stall_for_c(server, session, envelope, address, options):  # type: ignore[no-untyped-def]
        if address == "c@example.com":
            await __import__("asyncio").sleep(1.5)
        return await original(server, session, envelope, address, options)

    smtp_env.recorder.handle_RCPT = stall_for_c  # type: ignore[method-assign]
    code, report, stderr = send_json("--to", "a@example.com,b@example.com,c@example.com",
                                     "--individually")
    assert code == 7
    assert sorted(report["delivered"]) == ["a@example.com", "b@example.com"]  # type: ignore[arg-type]
    assert report["not_sent"] == ["c@example.com"] and report["refused"] == {}
    assert "error: not sent: c@example.com" in stderr
    once_each(smtp_env)


def test_interrupt_mid_send_exits_130_and_reports_what_went_out(
    site: FakeConfluence, starttls_server: smtp.SmtpServer, ca_file: Path,
) -> None:
    original = starttls_server.recorder.handle_DATA

    arrived: list[str] = []

    async def slow_third(server, session, envelope):  # type: ignore[no-untyped-def]
        arrived.append(envelope.rcpt_tos[0])
        if envelope.rcpt_tos == ["member2@example.com"]:
            await __import__("asyncio").sleep(30)
        return await original(server, session, envelope)

    starttls_server.recorder.handle_DATA = slow_third  # type: ignore[method-assign]
    env = {**os.environ, **site.env(), **starttls_server.env(ca_file, password=True),
           "PYTHONPATH": str(ROOT),
           "PYTHON_KEYRING_BACKEND": "keyring.backends.null.Keyring"}
    process = subprocess.Popen(
        [sys.executable, "-m", "mailpage_cli", "send", "98487", "--to", "group:team",
         "--individually"], env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 30
    while len(arrived) < 3 and time.monotonic() < deadline:
        time.sleep(0.05)
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=30)
    assert process.returncode == 130
    assert "Traceback" not in stderr
    assert "delivered: member0@example.com, member1@example.com" in stderr
    assert "may have it (sent, but the server's answer never came): member2" in stderr
    assert "not sent: member3@example.com, member4@example.com" in stderr
    assert len(starttls_server.received) == 2  # it did not wait for the stalled answer


def test_the_size_goes_with_mail_from(
    site: FakeConfluence, smtp_env: smtp.SmtpServer, fast_smtp: None,
) -> None:
    code, report, stderr = send_json("--to", "a@example.com")
    assert code == 0, stderr
    size = report["message"]["bytes"]  # type: ignore[index]
    assert smtp_env.recorder.mail_options == [[f"SIZE={size}"]]


def test_a_message_over_the_servers_size_is_refused_before_uploading(
    site: FakeConfluence, ca: trustme.CA, ca_file: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    server = smtp.start("starttls", ca, size_limit=1000)
    try:
        set_env(monkeypatch, server.env(ca_file, password=True))
        code, report, stderr = send_json("--to", "a@example.com,b@example.com")
        assert code == 8, stderr
        assert "takes at most 0.0 MB" in stderr
        assert report["status"] == "error" and report["exit"] == 8
        assert server.recorder.data_started == []  # nothing uploaded
    finally:
        server.stop()


def test_530_starttls_required_blames_the_security_not_the_sender(
    site: FakeConfluence, smtp_env: smtp.SmtpServer, monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("MAILPAGE_SMTP_SECURITY", "none")
    monkeypatch.delenv("MAILPAGE_SMTP_USERNAME")
    code, _, stderr = send_json("--to", "a@example.com")
    assert code == 3, stderr
    assert "530" in stderr and "--security" in stderr
    assert "sender" not in stderr


@pytest.mark.parametrize(("host", "expected"), [
    ("nosuchhost.invalid", "Cannot find the SMTP server nosuchhost.invalid"),
    ("localhost:587", "--host localhost --port 587"),
])
def test_a_wrong_host_is_a_configuration_error_not_a_retry(
    site: FakeConfluence, smtp_env: smtp.SmtpServer, monkeypatch: pytest.MonkeyPatch,
    clock: FakeClock, host: str, expected: str,
) -> None:
    monkeypatch.setenv("MAILPAGE_SMTP_HOST", host)
    code, report, stderr = send_json("--to", "a@example.com")
    assert code == 3, stderr
    assert clock.sleeps == []  # no retry
    assert expected in stderr
    assert report == {"status": "error", "exit": 3, "error": stderr.strip()[len("error: "):]}


def test_a_refused_connection_says_to_check_host_and_port(
    site: FakeConfluence, smtp_env: smtp.SmtpServer, fast_smtp: None,
    monkeypatch: pytest.MonkeyPatch, clock: FakeClock,
) -> None:
    monkeypatch.setenv("MAILPAGE_SMTP_PORT", str(smtp.free_port()))
    code, _, stderr = send_json("--to", "a@example.com")
    assert code == 6  # a restarting server refuses too: safe to retry later
    assert len(clock.sleeps) == 3
    assert "nothing listens at localhost:" in stderr and "connection refused" in stderr
    assert "Check host and port if this persists" in stderr


def test_quiet_still_prints_refusals_as_errors(
    site: FakeConfluence, smtp_env: smtp.SmtpServer,
) -> None:
    smtp_env.recorder.refuse["nobody@example.com"] = "550 5.1.1 No such user"
    result = run("-q", "send", "98487", "--to", "nobody@example.com")
    assert result.exit_code == 7
    assert "error: refused: nobody@example.com: 550 5.1.1 No such user" in result.stderr


@pytest.mark.parametrize(("flags", "code"), [((), 3), (("--to", "group:team"), 8)])
def test_end_of_input_at_a_prompt_means_no(
    site: FakeConfluence, smtp_env: smtp.SmtpServer, monkeypatch: pytest.MonkeyPatch,
    flags: tuple[str, ...], code: int,
) -> None:
    """Ctrl-D at the password prompt: no password (exit 3); at "send to 7?": no (exit 8)."""
    def end_of_input(*args: object, **kwargs: object) -> object:
        raise EOFError

    monkeypatch.setattr("rich.prompt.PromptBase.get_input", end_of_input)
    if code == 3:
        monkeypatch.setenv("MAILPAGE_SMTP_PASSWORD", "")
    else:
        assert run("config", "set-policy", "--max-recipients", "1").exit_code == 0
    result = run("send", "98487", *(flags or ("--to", "a@example.com")),
                 environment=at_a_terminal())
    assert result.exit_code == code, result.stderr
    assert "bug" not in result.stderr
    assert smtp_env.received == []
