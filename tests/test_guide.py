"""`mailpage config init` as a person meets it: on a real pseudo-terminal, against the
loopback Confluence and the STARTTLS SMTP server, with the file keyring."""

from __future__ import annotations

import io
import json
import os
import tomllib
from collections.abc import Iterator
from pathlib import Path

import pexpect
import pytest

from tests.conftest import at_a_terminal, run, run_process
from tests.support import smtp
from tests.support.confluence_server import FakeConfluence, Site, User
from tests.support.terminal import finish, terminal

ME = User("Ann Example", "ann@example.com")
TOKEN = "tok-guide-5f3a9c"  # nothing else on the screen looks like it


@pytest.fixture
def cloud() -> Iterator[FakeConfluence]:
    with FakeConfluence(Site("cloud", "/wiki", me=ME, token=TOKEN)) as fake:
        yield fake


@pytest.fixture
def datacenter() -> Iterator[FakeConfluence]:
    with FakeConfluence(Site("datacenter", "/confluence", me=ME, token=TOKEN)) as fake:
        yield fake


@pytest.fixture
def newcomer(monkeypatch: pytest.MonkeyPatch) -> None:
    """No sender in the environment: everything comes from the conversation."""
    monkeypatch.delenv("MAILPAGE_SENDER_ADDRESS")
    monkeypatch.delenv("MAILPAGE_SENDER_NAME")


def answer(child: pexpect.spawn, question: str, text: str) -> None:
    child.expect_exact(question)
    child.sendline(text)


def keyring() -> dict[str, str]:
    return json.loads(Path(os.environ["MAILPAGE_TEST_KEYRING"]).read_text())


def test_config_init_sets_up_a_profile_from_scratch_and_checks_it(
    cloud: FakeConfluence, starttls_server: smtp.SmtpServer, ca_file: Path, config_file: Path,
    newcomer: None,
) -> None:
    child = terminal("config", "init")
    child.logfile_read = screen = io.StringIO()
    child.expect_exact(f"Setting up profile default in {config_file}")
    answer(child, "Site URL", cloud.url)
    answer(child, "Confluence Cloud or Data Center? (cloud/datacenter)", "cloud")
    answer(child, "Your Atlassian e-mail", "ann@example.com")
    child.expect_exact("id.atlassian.com/manage-profile/security/api-tokens")
    answer(child, "API token", TOKEN)
    child.expect_exact("as Ann Example")
    answer(child, "SMTP server", starttls_server.host)
    answer(child, "Security (ssl/starttls/none) (starttls)", "")
    answer(child, "Port (587)", str(starttls_server.port))
    answer(child, "Username", smtp.USERNAME)
    answer(child, "CA certificate file", str(ca_file))
    answer(child, "Password", smtp.PASSWORD)
    child.expect_exact("logged in")
    answer(child, "Your name", "Ann Example")
    answer(child, "Your e-mail address (ann@example.com)", "")  # Confluence's address
    answer(child, "Subject prefix", "[Wiki]")
    child.expect_exact("Checking everything")
    rest, status = finish(child)
    assert "confluence: ok - logged in to" in rest and "smtp: ok - " in rest, rest
    assert status == 0
    shown = screen.getvalue()
    assert TOKEN not in shown and smtp.PASSWORD not in shown
    profile = tomllib.loads(config_file.read_text())["profiles"]["default"]
    assert profile["confluence"] | {"url": ""} == {
        "url": "", "user": "ann@example.com", "auth": "basic", "deployment": "cloud"}
    assert profile["confluence"]["url"] == cloud.url
    assert profile["smtp"] == {"host": starttls_server.host, "port": starttls_server.port,
                               "security": "starttls", "username": smtp.USERNAME,
                               "ca_file": str(ca_file)}
    assert profile["sender"] == {"name": "Ann Example", "address": "ann@example.com",
                                 "subject_prefix": "[Wiki]"}
    stored = keyring()
    assert TOKEN in stored["mailpage\ndefault/confluence"]
    assert smtp.PASSWORD in stored["mailpage\ndefault/smtp"]
    assert TOKEN not in config_file.read_text() and smtp.PASSWORD not in config_file.read_text()
    # and the setup is the one `config check` proves
    checked = run_process("config", "check")
    assert checked.returncode == 0, checked.stderr


def test_a_refused_token_is_typed_again_and_ctrl_c_says_what_was_saved(
    datacenter: FakeConfluence, config_file: Path, newcomer: None,
) -> None:
    child = terminal("--profile", "work", "config", "init")
    child.logfile_read = screen = io.StringIO()
    answer(child, "Site URL", datacenter.url)
    answer(child, "Confluence Cloud or Data Center? (cloud/datacenter) (datacenter)", "")
    child.expect_exact("Personal access tokens")
    answer(child, "Personal access token", "not-the-token")
    child.expect_exact("error: ")
    answer(child, "Change it and try again?", "y")
    answer(child, f"Site URL, e.g. https://acme.atlassian.net (Enter skips: local HTML exports"
                  f" only) ({datacenter.url})", "")  # what was typed is the default now
    answer(child, "(datacenter)", "")
    answer(child, "Personal access token (Enter keeps the stored one)", TOKEN)
    child.expect_exact("as Ann Example")
    child.expect_exact("SMTP server")
    child.sendintr()
    rest, status = finish(child)
    assert status == 130
    assert "\nerror: Stopped; saved so far: the Confluence site (profile work)" in rest
    assert TOKEN not in screen.getvalue() and "not-the-token" not in screen.getvalue()
    profile = tomllib.loads(config_file.read_text())["profiles"]["work"]
    assert set(profile) == {"confluence"}
    assert profile["confluence"]["auth"] == "bearer"
    assert TOKEN in keyring()["mailpage\nwork/confluence"]


def test_config_init_keeps_what_is_there_when_enter_is_pressed(
    datacenter: FakeConfluence, starttls_server: smtp.SmtpServer, ca_file: Path,
    config_file: Path, newcomer: None,
) -> None:
    """A second run offers every stored value, the secrets included, and Ctrl-D at an
    optional question is Enter."""
    run_process("config", "set-site", datacenter.url, "--token-stdin", input=TOKEN + "\n")
    run_process("config", "set-smtp", "--host", starttls_server.host, "--port",
                str(starttls_server.port), "--username", smtp.USERNAME, "--ca-file",
                str(ca_file), "--password-stdin", input=smtp.PASSWORD + "\n")
    run_process("config", "set-sender", "--address", "ann@example.com")
    before = config_file.read_text()
    child = terminal("config", "init")
    for question in ("Site URL", "(datacenter)"):
        answer(child, question, "")
    answer(child, "Personal access token (Enter keeps the stored one)", "")
    child.expect_exact("as Ann Example")
    for question in ("SMTP server", "Security", "Port", "Username"):
        answer(child, question, "")
    child.expect_exact("CA certificate file")
    child.sendeof()
    answer(child, "Password (Enter keeps the stored one)", "")
    child.expect_exact("logged in")
    answer(child, "Your name", "")
    answer(child, "Your e-mail address (ann@example.com)", "")
    answer(child, "Subject prefix", "")
    rest, status = finish(child)
    assert status == 0, rest
    assert "confluence: ok" in rest and "smtp: ok" in rest
    after, kept = (tomllib.loads(text)["profiles"]["default"]
                   for text in (config_file.read_text(), before))
    kept["confluence"] |= {"auth": "bearer", "deployment": "datacenter"}  # now written out
    assert after == kept


@pytest.mark.parametrize("no_input", [False, True], ids=["no-tty", "no-input"])
def test_config_init_off_a_terminal_names_the_commands_for_scripts(
    no_input: bool, config_file: Path,
) -> None:
    if no_input:  # at a terminal, but told not to ask
        result = run("--no-input", "config", "init", environment=at_a_terminal())
    else:
        result = run("config", "init")
    assert result.exit_code == 3
    assert result.stderr.strip() == (
        "error: config init asks questions on a terminal; in scripts use config set-site,"
        " set-smtp and set-sender")
    assert not config_file.exists()


def test_ctrl_d_at_a_question_that_needs_an_answer_stops_and_saves_nothing(
    config_file: Path,
) -> None:
    child = terminal("config", "init")
    answer(child, "Site URL", "https://acme.atlassian.net")  # Cloud: no question about that
    child.expect_exact("Your Atlassian e-mail")
    child.sendeof()
    rest, status = finish(child)
    assert status == 130
    assert "Stopped; saved so far: nothing (profile default)" in rest
    assert not config_file.exists()
