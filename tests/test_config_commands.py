"""The config commands a newcomer reaches for: change only a secret, forget with care, check
the sender too, list the profiles and the file, keep a password typed at a prompt."""

from __future__ import annotations

import json
import tomllib
from pathlib import Path

import pytest

from mailpage_cli import configure
from mailpage_cli.environment import Environment
from mailpage_cli.output import Output
from mailpage_cli.pipeline import Run
from tests.conftest import EXAMPLE, at_a_terminal, run, set_env
from tests.support import smtp
from tests.support.keyrings import MemoryKeyring
from tests.test_cli import typed_at_the_prompt


def stored(isolated: MemoryKeyring, account: str) -> dict[str, object]:
    return json.loads(isolated.store["mailpage", account])  # type: ignore[no-any-return]


def account_in_file(server: smtp.SmtpServer, ca_file: Path, *more: str,
                    profile: str = "work", password: str | None = None) -> None:
    """The test server as the profile's SMTP account, in the config file."""
    result = run("--profile", profile, "config", "set-smtp", "--host", server.host, "--port",
                 str(server.port), "--username", smtp.USERNAME, "--ca-file", str(ca_file),
                 *more, *(["--password-stdin"] if password is not None else []),
                 input=f"{password}\n" if password is not None else None)
    assert result.exit_code == 0, result.stderr


def said(result: object) -> str:
    return " ".join(getattr(result, "stderr", "").split())


# --- a secret alone ----------------------------------------------------------------------


def test_password_stdin_alone_keeps_the_account_and_replaces_the_password(
    starttls_server: smtp.SmtpServer, ca_file: Path, config_file: Path,
    isolated: MemoryKeyring,
) -> None:
    account_in_file(starttls_server, ca_file, password="an old password")
    before = config_file.read_text()
    bound = stored(isolated, "work/smtp")["for"]
    result = run("--profile", "work", "config", "set-smtp", "--password-stdin",
                 input=smtp.PASSWORD + "\n")
    assert result.exit_code == 0, result.stderr
    assert config_file.read_text() == before, "the account (and its --ca-file) stays"
    assert stored(isolated, "work/smtp") == {"mailpage": 1, "for": bound,
                                            "secret": smtp.PASSWORD}
    assert "its settings are unchanged" in said(result)
    sent = run("--profile", "work", "send", str(EXAMPLE), "--to", "a@example.com")
    assert sent.exit_code == 0, sent.stderr
    assert len(starttls_server.received) == 1


def test_password_stdin_alone_without_an_account_says_host_is_needed(
    config_file: Path, isolated: MemoryKeyring,
) -> None:
    run("--profile", "work", "config", "set-sender", "--name", "Ann")
    result = run("--profile", "work", "config", "set-smtp", "--password-stdin", input="pw\n")
    assert result.exit_code == 2
    assert "Profile work has no SMTP account yet, so --host is needed" in said(result)
    assert "`mailpage --profile work config set-smtp --host HOST" in said(result)
    assert isolated.store == {}


def test_account_options_without_host_are_refused_and_change_nothing(
    starttls_server: smtp.SmtpServer, ca_file: Path, config_file: Path,
) -> None:
    account_in_file(starttls_server, ca_file)
    before = config_file.read_text()
    for options in (["--port", "25"], ["--security", "starttls"], ["--username", "bob"]):
        result = run("--profile", "work", "config", "set-smtp", *options, "--password-stdin",
                     input="pw\n")
        assert result.exit_code == 2, options
        assert f"({options[0]}) needs --host" in said(result)
    assert config_file.read_text() == before


def test_a_password_stored_without_a_port_is_the_one_a_send_looks_up(
    config_file: Path,
) -> None:
    """set-smtp without --port binds the password to the security's default port, the one a
    send connects to (it used to bind it to "default", which no send matched)."""
    profile = configure.Profile("default", config_file)
    configure.set_smtp(profile, "smtp.example.com", port=None, security="starttls",
                       username="ann", ca_file=None, read_password=lambda _: "hunter2-long")
    environment = Environment(env={}, stdin=None, stdin_isatty=False, stdout_isatty=False)
    account = Run(profile.load({}), environment, Output(environment)).smtp_account()
    assert account.password is not None
    assert account.password.reveal() == "hunter2-long"


def test_the_missing_password_hint_is_the_short_command_and_works_as_printed(
    starttls_server: smtp.SmtpServer, ca_file: Path, config_file: Path,
) -> None:
    account_in_file(starttls_server, ca_file)
    failed = run("--profile", "work", "send", str(EXAMPLE), "--to", "a@example.com")
    assert failed.exit_code == 3
    assert "`mailpage --profile work config set-smtp --password-stdin`" in said(failed)
    fix = run("--profile", "work", "config", "set-smtp", "--password-stdin",
              input=smtp.PASSWORD + "\n")
    assert fix.exit_code == 0, fix.stderr
    sent = run("--profile", "work", "send", str(EXAMPLE), "--to", "a@example.com")
    assert sent.exit_code == 0, sent.stderr


def test_the_refused_login_hint_is_the_short_command_for_the_files_account(
    starttls_server: smtp.SmtpServer, ca_file: Path, config_file: Path,
) -> None:
    account_in_file(starttls_server, ca_file, password="wrong password")
    refused = run("--profile", "work", "send", str(EXAMPLE), "--to", "a@example.com")
    assert refused.exit_code == 4
    assert "`mailpage --profile work config set-smtp --password-stdin`" in said(refused)


def test_an_account_from_the_environment_gets_the_full_command(
    starttls_server: smtp.SmtpServer, ca_file: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The short form stores for the file's account: for another one the hint sets it all."""
    set_env(monkeypatch, starttls_server.env(ca_file))
    failed = run("send", str(EXAMPLE), "--to", "a@example.com")
    assert failed.exit_code == 3
    assert (f"`mailpage config set-smtp --host localhost --port {starttls_server.port}"
            in said(failed))


def test_token_stdin_alone_keeps_the_site_and_replaces_the_token(
    config_file: Path, isolated: MemoryKeyring,
) -> None:
    first = run("--profile", "work", "config", "set-site", "https://wiki.example.com/confluence",
                "--user", "ann", "--deployment", "datacenter", "--token-stdin",
                input="old-token\n")
    assert first.exit_code == 0, first.stderr
    before = config_file.read_text()
    bound = stored(isolated, "work/confluence")["for"]
    result = run("--profile", "work", "config", "set-site", "--token-stdin",
                 input="new-token\n")
    assert result.exit_code == 0, result.stderr
    assert config_file.read_text() == before
    assert stored(isolated, "work/confluence") == {"mailpage": 1, "for": bound,
                                                  "secret": "new-token"}
    refused = run("--profile", "work", "config", "set-site", "--user", "bob", "--token-stdin",
                  input="x\n")
    assert refused.exit_code == 2
    assert stored(isolated, "work/confluence")["secret"] == "new-token"


def test_token_stdin_alone_without_a_site_asks_for_the_url(isolated: MemoryKeyring) -> None:
    result = run("config", "set-site", "--token-stdin", input="tok\n")
    assert result.exit_code == 2
    assert "has no Confluence site yet, so its URL is needed" in said(result)
    assert isolated.store == {}


# --- forget --------------------------------------------------------------------------------


def test_forget_says_when_there_is_nothing_to_forget(config_file: Path) -> None:
    run("--profile", "work", "config", "set-sender", "--name", "Ann")
    first = run("--profile", "work", "config", "forget")
    assert first.exit_code == 0
    assert "Removed" in first.stderr
    again = run("--profile", "work", "config", "forget")
    assert again.exit_code == 0
    assert "Nothing to forget for profile work." in said(again)
    nothing = run("config", "forget", "smtp")
    assert nothing.exit_code == 0
    assert "Nothing to forget for profile default." in said(nothing)


def test_forget_all_asks_at_a_terminal(
    config_file: Path, isolated: MemoryKeyring, monkeypatch: pytest.MonkeyPatch,
) -> None:
    run("config", "set-smtp", "--host", "h.example.com", "--username", "ann",
        "--password-stdin", input="pw-123\n")
    shown = typed_at_the_prompt(monkeypatch, "n", "y")
    kept = run("config", "forget", environment=at_a_terminal())
    assert kept.exit_code == 0
    assert shown == ["Remove every setting and secret of profile default? [y/n] (n): "]
    assert "Nothing removed." in said(kept)
    assert isolated.store and tomllib.loads(config_file.read_text())
    removed = run("config", "forget", environment=at_a_terminal())
    assert removed.exit_code == 0
    assert isolated.store == {}
    assert tomllib.loads(config_file.read_text()) == {}


def test_forget_yes_and_forget_of_one_section_do_not_ask(
    config_file: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    shown = typed_at_the_prompt(monkeypatch)
    run("config", "set-smtp", "--host", "h.example.com")
    run("config", "set-sender", "--name", "Ann")
    assert run("config", "forget", "smtp", environment=at_a_terminal()).exit_code == 0
    assert run("config", "forget", "--yes", environment=at_a_terminal()).exit_code == 0
    assert shown == []
    assert tomllib.loads(config_file.read_text()) == {}


# --- check ---------------------------------------------------------------------------------


def test_check_fails_without_a_sender_and_names_the_profile(
    smtp_env: smtp.SmtpServer, monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("MAILPAGE_SENDER_ADDRESS")
    result = run("--profile", "tls", "config", "check")
    assert result.exit_code == 3
    assert "smtp: ok" in result.stdout
    assert ("sender: FAILED - No sender address. Run `mailpage --profile tls config set-sender"
            " --address you@example.com`" in result.stdout)


def test_check_shows_the_from_and_the_policy(smtp_env: smtp.SmtpServer) -> None:
    run("config", "set-policy", "--allowed-domain", "example.com", "--max-recipients", "9")
    result = run("config", "check")
    assert result.exit_code == 0, result.stdout
    assert "sender: ok - From: Ann Example <ann@example.com>" in result.stdout
    assert "policy: ok - to example.com; asks above 9 recipients" in result.stdout


def test_check_json_is_one_object_listing_the_checks_with_the_same_exit_code(
    smtp_env: smtp.SmtpServer, monkeypatch: pytest.MonkeyPatch,
) -> None:
    ready = run("config", "check", "--json")
    assert ready.exit_code == 0
    report = json.loads(ready.stdout)
    assert (report["status"], report["exit"]) == ("ok", 0)
    assert [(c["name"], c["ok"], c["exit"]) for c in report["checks"]] == [
        ("confluence", True, 0), ("smtp", True, 0), ("sender", True, 0), ("policy", True, 0)]
    monkeypatch.setenv("MAILPAGE_SMTP_PASSWORD", "wrong")
    monkeypatch.delenv("MAILPAGE_SENDER_ADDRESS")
    failed = run("config", "check", "--json")
    assert failed.exit_code == 4
    report = json.loads(failed.stdout)
    assert (report["status"], report["exit"]) == ("failed", 4)
    by_name = {c["name"]: c for c in report["checks"]}
    assert (by_name["smtp"]["ok"], by_name["smtp"]["exit"]) == (False, 4)
    assert (by_name["sender"]["ok"], by_name["sender"]["exit"]) == (False, 3)
    assert by_name["sender"]["detail"].startswith("No sender address")


# --- profiles and path ---------------------------------------------------------------------


def test_profiles_lists_the_profiles_and_marks_the_active_one(config_file: Path) -> None:
    run("config", "set-sender", "--name", "Ann")
    run("--profile", "work", "config", "set-sender", "--name", "Ann at work")
    result = run("--profile", "work", "config", "profiles")
    assert result.exit_code == 0
    assert result.stdout == "  default\n* work\n"
    listed = json.loads(run("config", "profiles", "--json").stdout)
    assert listed == {"config": str(config_file), "active": "default",
                      "profiles": ["default", "work"]}


def test_profiles_says_when_the_active_one_is_not_in_the_file(config_file: Path) -> None:
    result = run("config", "profiles")
    assert result.exit_code == 0
    assert result.stdout == ""
    assert f"No profile default in {config_file} yet" in said(result)


def test_path_prints_the_config_file_of_the_run(config_file: Path, tmp_path: Path) -> None:
    assert run("config", "path").stdout == f"{config_file}\n"
    other = tmp_path / "other.toml"
    assert run("--config", str(other), "config", "path").stdout == f"{other}\n"
    assert run("config", "path", env={"MAILPAGE_CONFIG": str(other)}).stdout == f"{other}\n"


# --- a password typed at the send-time prompt ----------------------------------------------


def test_a_password_typed_at_the_prompt_is_kept_when_accepted_and_wanted(
    starttls_server: smtp.SmtpServer, ca_file: Path, config_file: Path,
    isolated: MemoryKeyring, monkeypatch: pytest.MonkeyPatch,
) -> None:
    account_in_file(starttls_server, ca_file)
    shown = typed_at_the_prompt(monkeypatch, smtp.PASSWORD, "")  # Enter: the default, yes
    sent = run("--profile", "work", "send", str(EXAMPLE), "--to", "a@example.com",
               environment=at_a_terminal())
    assert sent.exit_code == 0, sent.stderr
    assert shown == ["SMTP password for profile work: ",
                     "Save the SMTP password in the keyring for next time? [y/n] (y): "]
    assert stored(isolated, "work/smtp")["secret"] == smtp.PASSWORD
    again = run("--profile", "work", "send", str(EXAMPLE), "--to", "a@example.com")
    assert again.exit_code == 0, again.stderr  # off a terminal: from the keyring


def test_a_password_typed_at_the_prompt_is_not_kept_when_refused_or_declined(
    starttls_server: smtp.SmtpServer, ca_file: Path, config_file: Path,
    isolated: MemoryKeyring, monkeypatch: pytest.MonkeyPatch,
) -> None:
    account_in_file(starttls_server, ca_file)
    shown = typed_at_the_prompt(monkeypatch, "wrong password")
    refused = run("--profile", "work", "send", str(EXAMPLE), "--to", "a@example.com",
                  environment=at_a_terminal())
    assert refused.exit_code == 4
    assert shown == ["SMTP password for profile work: "], "no offer after a refused login"
    shown = typed_at_the_prompt(monkeypatch, smtp.PASSWORD, "n")
    checked = run("--profile", "work", "config", "check", environment=at_a_terminal())
    assert checked.exit_code == 0, checked.stdout
    assert len(shown) == 2
    assert isolated.store == {}
