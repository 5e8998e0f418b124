"""mailpage unattended, as cron and CI run it: a subprocess with no TTY, configured by
MAILPAGE_* variables alone (no config file, no keyring backend), against the loopback
Confluence and a real SMTP server."""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email import message_from_bytes, policy
from pathlib import Path

import pytest

from tests.conftest import ROOT, unattended_env
from tests.support import smtp
from tests.support.confluence_server import FakeConfluence, Page, Site, User

ME = User("Ann Example", "ann@example.com")
TEAM = [User(f"Member {n:02}", f"member{n:02}@example.com") for n in range(50)]


class _AnyText(str):
    def __eq__(self, other: object) -> bool:
        return isinstance(other, str) and bool(other)

    __hash__ = str.__hash__


ANY_TEXT = _AnyText()


def days_ago(days: float) -> str:
    when = datetime.now(UTC) - timedelta(days=days)
    return when.strftime("%Y-%m-%dT%H:%M:%S.000Z")


@pytest.fixture
def confluence() -> Iterator[FakeConfluence]:
    pages = [
        Page("98487", "Release notes 2.4", version=3, view="<p>Ships Tuesday.</p>",
             last_modified=days_ago(0.5)),
        Page("98488", "Runbook: failover", view="<p>Promote the replica.</p>",
             last_modified=days_ago(2)),
        Page("98489", "Onboarding", view="<p>Welcome!</p>", last_modified=days_ago(3)),
        Page("98490", "Team rituals", view="<p>Retro on Fridays.</p>",
             last_modified=days_ago(5)),
        Page("98491", "Old architecture", view="<p>Before 2020.</p>",
             last_modified=days_ago(40)),
        Page("98492", "Ancient history", view="<p>Really old.</p>",
             last_modified=days_ago(400)),
        Page("55001", "Other space page", space_key="OPS", space_name="Operations",
             view="<p>Ops.</p>", last_modified=days_ago(1)),
    ]
    site = Site("cloud", "/wiki", me=ME, users=list(TEAM), groups={"team": list(TEAM)},
                pages=pages)
    with FakeConfluence(site) as fake:
        yield fake


@pytest.fixture
def environment(confluence: FakeConfluence, starttls_server: smtp.SmtpServer, ca_file: Path,
                tmp_path: Path) -> dict[str, str]:
    """Everything from the environment: no config file exists, no keyring works."""
    return {
        **unattended_env(confluence, starttls_server, ca_file, tmp_path),
        "MAILPAGE_SENDER_ADDRESS": "wiki-bot@example.com",
        "MAILPAGE_SENDER_NAME": "Wiki Bot",
        "PYTHON_KEYRING_BACKEND": "keyring.backends.null.Keyring",
    }


def mailpage(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    full = {**{k: v for k, v in os.environ.items() if not k.startswith("MAILPAGE_")},
            "PYTHONPATH": str(ROOT), **env}
    return subprocess.run([sys.executable, "-m", "mailpage_cli", *args], env=full,
                          stdin=subprocess.DEVNULL, capture_output=True, text=True,
                          timeout=120, check=False)


def report(process: subprocess.CompletedProcess[str]) -> dict[str, object]:
    data = json.loads(process.stdout)  # stdout is JSON and nothing else
    assert isinstance(data, dict)
    return data


def test_if_changed_sends_once_per_version_and_recipient_set(
    environment: dict[str, str], confluence: FakeConfluence, starttls_server: smtp.SmtpServer,
    tmp_path: Path,
) -> None:
    send = ["send", "98487", "--to", "a@example.com", "--if-changed", "--json"]
    first = mailpage(environment, *send)
    assert first.returncode == 0, first.stderr
    assert report(first)["status"] == "sent"
    second = mailpage(environment, *send)
    assert second.returncode == 0, second.stderr
    assert report(second)["status"] == "unchanged"
    assert len(starttls_server.received) == 1
    assert starttls_server.recorder.connections == 1  # the unchanged run did not connect

    confluence.site.pages[0].version = 4  # a new version is published
    third = mailpage(environment, *send)
    assert report(third)["status"] == "sent"
    assert len(starttls_server.received) == 2

    other_set = mailpage(environment, "send", "98487", "--to", "a@example.com",
                         "--cc", "b@example.com", "--if-changed", "--json")
    assert report(other_set)["status"] == "sent"
    assert len(starttls_server.received) == 3

    stored = json.loads((tmp_path / "state" / "sent.json").read_text())
    text = json.dumps(stored)
    for private in ("a@example.com", "b@example.com", "Release notes", "Ships"):
        assert private not in text
    assert (tmp_path / "state" / "sent.json").stat().st_mode & 0o777 == 0o600


def test_a_failed_send_leaves_no_state(
    environment: dict[str, str], starttls_server: smtp.SmtpServer, tmp_path: Path,
) -> None:
    failing = {**environment, "MAILPAGE_SMTP_PASSWORD": "wrong"}
    failed = mailpage(failing, "send", "98487", "--to", "a@example.com", "--if-changed")
    assert failed.returncode == 4
    assert "pages" not in json.loads((tmp_path / "state" / "sent.json").read_text())
    again = mailpage(environment, "send", "98487", "--to", "a@example.com", "--if-changed",
                     "--json")
    assert report(again)["status"] == "sent"


def test_if_changed_remembers_each_recipient_so_a_rerun_mails_only_the_rest(
    environment: dict[str, str], starttls_server: smtp.SmtpServer,
) -> None:
    starttls_server.recorder.refuse["bad@example.com"] = "550 5.1.1 Mailbox unknown"
    send = ["send", "98487", "--to", "a@example.com,bad@example.com,c@example.com",
            "--if-changed", "--json"]
    first = mailpage(environment, *send)
    assert first.returncode == 7
    assert sorted(report(first)["delivered"]) == ["a@example.com", "c@example.com"]  # type: ignore[arg-type]
    del starttls_server.recorder.refuse["bad@example.com"]  # the mailbox is created
    second = mailpage(environment, *send)
    assert second.returncode == 0, second.stderr
    assert report(second)["delivered"] == ["bad@example.com"]
    assert "2 of 3 recipients already have version 3" in second.stderr
    assert [r.rcpt_tos for r in starttls_server.received] == [
        ["a@example.com", "c@example.com"], ["bad@example.com"]]
    third = mailpage(environment, *send)
    assert report(third)["status"] == "unchanged"
    assert len(starttls_server.received) == 2


def test_overlapping_if_changed_runs_send_once(
    environment: dict[str, str], starttls_server: smtp.SmtpServer,
) -> None:
    """Two cron runs of one new version: the second waits for the first's lock, then finds
    the version sent (A1)."""
    starttls_server.recorder.stall_data = 1.5  # the first run is still sending
    command = [sys.executable, "-m", "mailpage_cli", "send", "98487", "--to", "a@example.com",
               "--if-changed", "--json"]
    full = {**{k: v for k, v in os.environ.items() if not k.startswith("MAILPAGE_")},
            "PYTHONPATH": str(ROOT), **environment}
    runs = [subprocess.Popen(command, env=full, stdin=subprocess.DEVNULL,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            for _ in range(2)]
    outcomes = sorted(json.loads(run.communicate(timeout=60)[0])["status"] for run in runs)
    assert outcomes == ["sent", "unchanged"]
    assert len(starttls_server.received) == 1


def test_a_state_directory_that_cannot_be_written_stops_before_sending(
    environment: dict[str, str], starttls_server: smtp.SmtpServer, tmp_path: Path,
) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    process = mailpage({**environment, "MAILPAGE_STATE_DIR": str(blocker / "state")},
                       "send", "98487", "--to", "a@example.com", "--if-changed", "--json")
    assert process.returncode == 3, process.stderr
    assert "Cannot lock the --if-changed state" in process.stderr
    assert "bug" not in process.stderr
    assert report(process) == {"status": "error", "exit": 3, "error": ANY_TEXT}
    assert starttls_server.received == []


def test_a_full_disk_after_the_first_message_stops_and_says_who_has_it(
    environment: dict[str, str], starttls_server: smtp.SmtpServer, tmp_path: Path,
) -> None:
    """The file-size limit lets the state be checked (an empty state is written first),
    then no record fits: the first message is out, nothing more is sent, and the report
    says so (A2e)."""
    first = mailpage(environment, "send", "98487", "--to", "x@example.com", "--if-changed")
    assert first.returncode == 0, first.stderr
    size = (tmp_path / "state" / "sent.json").stat().st_size
    command = [sys.executable, "-m", "mailpage_cli", "send", "98487", "--to",
               "a1@example.com,a2@example.com,a3@example.com", "--individually",
               "--if-changed", "--json"]
    full = {**{k: v for k, v in os.environ.items() if not k.startswith("MAILPAGE_")},
            "PYTHONPATH": str(ROOT), **environment}
    process = subprocess.run(command, env=full, stdin=subprocess.DEVNULL, capture_output=True,
                             text=True, timeout=60, check=False,
                             preexec_fn=lambda: resource.setrlimit(
                                 resource.RLIMIT_FSIZE, (size + 1, size + 1)))
    assert process.returncode == 3, process.stderr
    assert "Cannot write the --if-changed state" in process.stderr
    data = report(process)
    assert data["status"] == "error"
    assert data["delivered"] == ["a1@example.com"]
    assert data["not_sent"] == ["a2@example.com", "a3@example.com"]
    assert [r.rcpt_tos for r in starttls_server.received][1:] == [["a1@example.com"]]


@pytest.mark.parametrize("content", ['{"sent": []}', '{"pages": {"default": "x"}}', "[]",
                                     '{"pages": {"default": {"98487": {"delivered": 3}}}}'])
def test_a_state_file_of_the_wrong_shape_is_a_clear_error(
    environment: dict[str, str], starttls_server: smtp.SmtpServer, tmp_path: Path,
    content: str,
) -> None:
    (tmp_path / "state").mkdir()
    (tmp_path / "state" / "sent.json").write_text(content)
    process = mailpage(environment, "send", "98487", "--to", "a@example.com", "--if-changed")
    assert process.returncode == 3, process.stderr
    assert "is not in mailpage's format" in process.stderr
    assert starttls_server.received == []


def test_sigterm_mid_send_reports_and_records_who_has_it(
    environment: dict[str, str], starttls_server: smtp.SmtpServer,
) -> None:
    """systemd's stop, `timeout`, a cancelled CI job (G8): like Ctrl-C, with exit 143; the
    state keeps who has the message, so the rerun sends only to the others."""
    original = starttls_server.recorder.handle_DATA
    arrived: list[str] = []

    async def slow_third(server, session, envelope):  # type: ignore[no-untyped-def]
        arrived.append(envelope.rcpt_tos[0])
        if envelope.rcpt_tos == ["r2@example.com"] and len(arrived) == 3:
            await __import__("asyncio").sleep(30)
        return await original(server, session, envelope)

    starttls_server.recorder.handle_DATA = slow_third  # type: ignore[method-assign]
    everyone = [f"r{n}@example.com" for n in range(5)]
    command = [sys.executable, "-m", "mailpage_cli", "send", "98487", "--to", ",".join(everyone),
               "--individually", "--if-changed", "--json"]
    full = {**{k: v for k, v in os.environ.items() if not k.startswith("MAILPAGE_")},
            "PYTHONPATH": str(ROOT), **environment}
    process = subprocess.Popen(command, env=full, stdin=subprocess.DEVNULL,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 30
    while len(arrived) < 3 and time.monotonic() < deadline:
        time.sleep(0.05)
    process.terminate()
    stdout, stderr = process.communicate(timeout=30)
    assert process.returncode == 143, stderr
    assert "Traceback" not in stderr
    data = json.loads(stdout)
    assert (data["delivered"], data["unknown"], data["not_sent"]) == (
        everyone[:2], everyone[2:3], everyone[3:])
    rerun = mailpage(environment, *command[3:])
    assert rerun.returncode == 0, rerun.stderr
    assert report(rerun)["delivered"] == everyone[3:]
    assert "1 recipient may already have version 3" in rerun.stderr
    counts = [r.rcpt_tos[0] for r in starttls_server.received]
    assert sorted(counts) == sorted(everyone[:2] + everyone[3:])  # r2 is still stalled


def test_individually_delivers_50_messages_over_one_connection(
    environment: dict[str, str], starttls_server: smtp.SmtpServer,
) -> None:
    """Each copy names its one recipient: no Cc header, not even for the Cc'd."""
    starttls_server.recorder.refuse["member07@example.com"] = "550 5.1.1 Mailbox unknown"
    process = mailpage(environment, "send", "98487", "--to", "group:team",
                       "--cc", "lead@example.com", "--individually", "--yes", "--json")
    assert process.returncode == 7, process.stderr
    data = report(process)
    assert data["status"] == "partial"
    assert data["refused"] == {"member07@example.com": "550 5.1.1 Mailbox unknown"}
    assert len(data["delivered"]) == 50  # type: ignore[arg-type]
    assert starttls_server.recorder.connections == 1
    received = starttls_server.received
    assert len(received) == 50
    ids = set()
    for item in received:
        (address,) = item.rcpt_tos
        msg = message_from_bytes(item.data, policy=policy.default)
        assert msg["To"].addresses[0].addr_spec == address
        assert msg["Cc"] is None
        assert address == "lead@example.com" or b"lead@example.com" not in item.data
        ids.add(msg["Message-ID"])
    assert len(ids) == 50


def test_the_individually_summary_counts_only_the_messages_that_went_out(
    environment: dict[str, str], starttls_server: smtp.SmtpServer,
) -> None:
    starttls_server.recorder.refuse["a2@example.com"] = "550 5.1.1 Mailbox unknown"
    process = mailpage(environment, "send", "98487", "--to",
                       "a1@example.com,a2@example.com,a3@example.com", "--individually")
    assert process.returncode == 7
    summary = process.stderr.strip().splitlines()[-1]
    assert summary.startswith("Sent 'Release notes 2.4' to 2 of 3 recipients (one message each,")
    assert "3 messages" not in process.stderr


def test_a_digest_selects_by_last_modified_and_follows_every_result_page(
    environment: dict[str, str], confluence: FakeConfluence, starttls_server: smtp.SmtpServer,
) -> None:
    process = mailpage(environment, "digest", "--cql", 'space = "ENG" and type = page',
                       "--since", "7d", "--title", "Engineering this week", "--to",
                       "a@example.com", "--json")
    assert process.returncode == 0, process.stderr
    assert report(process)["status"] == "sent"
    (received,) = starttls_server.received
    msg = message_from_bytes(received.data, policy=policy.default)
    assert msg["Subject"] == "Engineering this week"
    text = str(msg.get_body(("plain",)).get_content())  # type: ignore[union-attr]
    titles = ["Release notes 2.4", "Runbook: failover", "Onboarding", "Team rituals"]
    positions = [text.index(title) for title in titles]
    assert positions == sorted(positions)  # newest first
    for absent in ("Old architecture", "Ancient history", "Other space page"):
        assert absent not in text
    html = str(msg.get_body(("html",)).get_content())  # type: ignore[union-attr]
    assert f'href="{confluence.url}/spaces/ENG/pages/98487/Release+notes+2.4"' in html
    searches = [r for r in confluence.requests if r.path.endswith("/rest/api/search")]
    assert len(searches) == 2  # four hits, two a page
    assert 'lastmodified >= now("-7d")' in searches[0].query["cql"][0]


def test_a_digest_of_one_space_fills_space_and_refuses_version(
    environment: dict[str, str], confluence: FakeConfluence, starttls_server: smtp.SmtpServer,
) -> None:
    query = ("--cql", 'space = "ENG" and type = page', "--since", "7d", "--to", "a@example.com")
    sent = mailpage(environment, "digest", *query, "--subject", "[{space}] {title}")
    assert sent.returncode == 0, sent.stderr
    msg = message_from_bytes(starttls_server.received[0].data, policy=policy.default)
    assert msg["Subject"] == "[Engineering] Confluence digest: 4 pages changed in the last 7 days"
    refused = mailpage(environment, "digest", *query, "--subject", "v{version} {title}")
    assert refused.returncode == 2
    assert "uses {version}, which this digest has not" in refused.stderr
    assert len(starttls_server.received) == 1


def test_an_empty_digest_sends_nothing(
    environment: dict[str, str], starttls_server: smtp.SmtpServer,
) -> None:
    process = mailpage(environment, "digest", "--cql", 'space = "NOPE"', "--to",
                       "a@example.com", "--json")
    assert process.returncode == 0, process.stderr
    assert report(process)["status"] == "empty"
    assert starttls_server.recorder.connections == 0


def test_policy_refusals_send_nothing_and_exit_8(
    environment: dict[str, str], starttls_server: smtp.SmtpServer, tmp_path: Path,
) -> None:
    config = tmp_path / "policy.toml"
    config.write_text('[profiles.default.policy]\nallowed_domains = ["example.com"]\n'
                      "max_recipients = 3\n")
    env = {**environment, "MAILPAGE_CONFIG": str(config)}
    foreign = mailpage(env, "send", "98487", "--to", "a@example.com,x@elsewhere.org")
    assert foreign.returncode == 8
    assert "x@elsewhere.org" in foreign.stderr
    many = mailpage(env, "send", "98487", "--to", "group:team")
    assert many.returncode == 8
    assert "--yes" in many.stderr
    assert starttls_server.recorder.connections == 0


def test_stdout_is_json_even_with_warnings(
    environment: dict[str, str], confluence: FakeConfluence,
) -> None:
    confluence.site.users.append(User("Hidden Hilda", ""))
    process = mailpage(environment, "send", "98487", "--to", "a@example.com",
                       "--to", "user:Hidden Hilda", "--skip-unresolvable", "--json")
    assert process.returncode == 0, process.stderr
    data = report(process)
    assert any("Hidden Hilda" in w for w in data["warnings"])  # type: ignore[attr-defined]
    assert "warning:" in process.stderr


def test_no_tty_means_no_prompt_no_animation_no_colour(environment: dict[str, str]) -> None:
    without_password = {**environment, "MAILPAGE_SMTP_PASSWORD": ""}
    process = mailpage(without_password, "send", "98487", "--to", "a@example.com")
    assert process.returncode == 3
    assert "\x1b[" not in process.stderr
    assert "\r" not in process.stderr  # no spinner redrawing a line
    assert "MAILPAGE_SMTP_PASSWORD" in process.stderr


@pytest.mark.parametrize("args", [
    ["config", "show", "--json"],
    ["config", "check"],
    ["recipients", "me", "group:team", "--json"],
    ["preview", "98487", "--text"],
    ["send", "98487", "--to", "me", "--dry-run", "--json"],
    ["digest", "--cql", "type = page", "--to", "me", "--dry-run", "--json"],
])
def test_every_command_works_from_the_environment_alone(
    environment: dict[str, str], args: list[str], tmp_path: Path,
) -> None:
    process = mailpage(environment, *args)
    assert process.returncode == 0, process.stderr
    assert not (tmp_path / "no-such-config.toml").exists()
