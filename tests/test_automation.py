"""mailpage unattended, as cron and CI run it: a subprocess with no TTY, configured by
MAILPAGE_* variables alone (no config file, no keyring backend), against the loopback
Confluence and a real SMTP server."""

from __future__ import annotations

import json
import os
import subprocess
import sys
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
    assert not (tmp_path / "state" / "sent.json").exists()
    again = mailpage(environment, "send", "98487", "--to", "a@example.com", "--if-changed",
                     "--json")
    assert report(again)["status"] == "sent"


def test_individually_delivers_50_messages_over_one_connection(
    environment: dict[str, str], starttls_server: smtp.SmtpServer,
) -> None:
    starttls_server.recorder.refuse["member07@example.com"] = "550 5.1.1 Mailbox unknown"
    process = mailpage(environment, "send", "98487", "--to", "group:team", "--individually",
                       "--yes", "--json")
    assert process.returncode == 7, process.stderr
    data = report(process)
    assert data["status"] == "partial"
    assert data["refused"] == {"member07@example.com": "550 5.1.1 Mailbox unknown"}
    assert len(data["delivered"]) == 49  # type: ignore[arg-type]
    assert starttls_server.recorder.connections == 1
    received = starttls_server.received
    assert len(received) == 49
    ids = set()
    for item in received:
        (address,) = item.rcpt_tos
        msg = message_from_bytes(item.data, policy=policy.default)
        assert msg["To"].addresses[0].addr_spec == address
        assert msg["Cc"] is None
        ids.add(msg["Message-ID"])
    assert len(ids) == 49


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
