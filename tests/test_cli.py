"""The CLI as a user meets it: exit codes, stdout and stderr apart, no prompts off a TTY."""

from __future__ import annotations

import base64
import json
import mailbox
import os
import re
import signal
import socket
import subprocess
import sys
from dataclasses import replace
from email import message_from_bytes, policy
from pathlib import Path

import pytest
from rich.text import Text

from mailpage_cli import __version__
from mailpage_cli.mailer import Account
from mailpage_cli.models import Secret
from tests.conftest import EXAMPLE, ROOT, at_a_terminal, run, run_process
from tests.support import smtp
from tests.support.keyrings import MemoryKeyring

ANSI = re.compile(r"\x1b\[")


def test_version_and_module_entry_point() -> None:
    process = run_process("--version")
    assert process.returncode == 0
    assert process.stdout.strip() == f"mailpage, version {__version__}"


def test_unknown_option_is_a_usage_error() -> None:
    result = run("send", str(EXAMPLE), "--to", "a@example.com", "--frobnicate")
    assert result.exit_code == 2
    assert "--frobnicate" in result.stderr


def test_dry_run_json_goes_to_stdout_and_the_summary_to_stderr() -> None:
    result = run("send", str(EXAMPLE), "--to", "a@example.com", "--cc", "b@example.com",
                 "--bcc", "c@example.com", "--dry-run", "--json")
    assert result.exit_code == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["status"] == "dry-run"
    assert report["recipients"] == {"to": ["a@example.com"], "cc": ["b@example.com"],
                                    "bcc": ["c@example.com"]}
    assert report["page"] == {"id": "98487", "title": "Release notes 2.4", "version": None,
                              "url": None}
    assert report["message"]["images"] == 2
    assert report["message"]["attachments"] == 0
    assert report["message"]["bytes"] > 1000
    assert report["refused"] == {}
    assert "Dry run" in result.stderr and "Dry run" not in result.stdout


def test_dry_run_needs_no_smtp_server_or_password() -> None:
    env = {"MAILPAGE_SMTP_HOST": "127.0.0.1", "MAILPAGE_SMTP_PORT": str(smtp.free_port()),
           "MAILPAGE_SMTP_USERNAME": "ann"}
    result = run("send", str(EXAMPLE), "--to", "a@example.com", "-n", env=env)
    assert result.exit_code == 0, result.stderr


def test_save_to_stdout_writes_the_message_and_nothing_else() -> None:
    result = run("send", str(EXAMPLE), "--to", "a@example.com", "--save", "-")
    assert result.exit_code == 0, result.stderr
    msg = message_from_bytes(result.stdout_bytes, policy=policy.default)
    assert msg["Subject"] == "Release notes 2.4"
    assert msg["To"] == "a@example.com"


def test_save_to_a_file_is_private(tmp_path: Path) -> None:
    target = tmp_path / "message.eml"
    result = run("send", str(EXAMPLE), "--to", "a@example.com", "--save", str(target))
    assert result.exit_code == 0, result.stderr
    assert target.stat().st_mode & 0o777 == 0o600
    assert message_from_bytes(target.read_bytes())["To"] == "a@example.com"
    assert result.stdout == ""


def test_dry_run_with_save_writes_the_message_it_would_send(tmp_path: Path) -> None:
    """--dry-run --save FILE keeps the message the send would make, privately (D18)."""
    target = tmp_path / "message.eml"
    result = run("send", str(EXAMPLE), "--to", "a@example.com", "--dry-run", "--save",
                 str(target), "--json")
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout)["status"] == "dry-run"
    assert f"nothing sent; the message it would send is written to {target}" in result.stderr
    assert target.stat().st_mode & 0o777 == 0o600
    msg = message_from_bytes(target.read_bytes(), policy=policy.default)
    assert (msg["To"], msg["Subject"]) == ("a@example.com", "Release notes 2.4")
    to_stdout = run("send", str(EXAMPLE), "--to", "a@example.com", "--dry-run", "--save", "-")
    assert to_stdout.exit_code == 0, to_stdout.stderr
    assert message_from_bytes(to_stdout.stdout_bytes)["To"] == "a@example.com"


def test_save_to_an_mbox_file_writes_a_mailbox(tmp_path: Path) -> None:
    """A name ending in .mbox gets a mailbox of one message, which mail readers open (D8):
    a From line, LF line ends, and "From " at a line start quoted (mboxrd)."""
    target = tmp_path / "message.mbox"
    result = run("send", str(EXAMPLE), "--to", "a@example.com", "--message",
                 "From the team:\n\nplease read.", "--save", str(target))
    assert result.exit_code == 0, result.stderr
    raw = target.read_bytes()
    assert raw.startswith(b"From ann@example.com ") and b"\r\n" not in raw
    assert b"\n>From the team:" in raw and b"\nFrom the team:" not in raw
    assert target.stat().st_mode & 0o777 == 0o600
    (msg,) = mailbox.mbox(target)
    assert (msg["To"], msg["Subject"]) == ("a@example.com", "Release notes 2.4")
    assert [part.get_content_type() for part in msg.walk()][:3] == [
        "multipart/alternative", "text/plain", "multipart/related"]
    unquoted = re.sub(rb"(?m)^>(>*From )", rb"\1", raw.partition(b"\n")[2])
    text = message_from_bytes(unquoted, policy=policy.default).get_body(("plain",))
    assert text is not None and "From the team:" in text.get_content()
    eml = run("send", str(EXAMPLE), "--to", "a@example.com", "--save", str(tmp_path / "m.eml"))
    assert eml.exit_code == 0, eml.stderr  # a bare message, as on the wire, as before
    assert (tmp_path / "m.eml").read_bytes().startswith(b"From: Ann Example <ann@example.com>\r\n")


def test_missing_sender_address_names_the_fix(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MAILPAGE_SENDER_ADDRESS")
    result = run("send", str(EXAMPLE), "--to", "a@example.com", "--dry-run")
    assert result.exit_code == 3
    assert "MAILPAGE_SENDER_ADDRESS" in result.stderr
    assert "config set-sender" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_no_smtp_host_is_a_configuration_error() -> None:
    result = run("send", str(EXAMPLE), "--to", "a@example.com")
    assert result.exit_code == 3
    assert "MAILPAGE_SMTP_HOST" in result.stderr


@pytest.mark.parametrize("page", [str(EXAMPLE), "123"])
def test_no_recipients_is_a_usage_error(page: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MAILPAGE_CONFLUENCE_URL", "https://acme.atlassian.net")
    result = run("--no-input", "send", page, "--dry-run")  # before any lookup or token
    assert result.exit_code == 2, result.stderr
    assert "--to" in result.stderr


@pytest.mark.parametrize("bad", ["not-an-address", "a@b@example.com", "x@-bad-.com", "a b@c.com"])
def test_invalid_addresses_are_refused(bad: str) -> None:
    result = run("send", str(EXAMPLE), "--to", bad, "--dry-run")
    assert result.exit_code == 2
    assert "not a valid e-mail address" in result.stderr


def test_recipients_and_the_note_cannot_both_come_from_stdin() -> None:
    result = run("send", str(EXAMPLE), "--to", "file:-", "--message-file", "-", "--dry-run",
                 input="bob@example.com\n")
    assert result.exit_code == 2
    assert "--message-file - and file:- cannot both read stdin" in result.stderr


@pytest.mark.parametrize(("line", "error"), [
    ("# nobody yet\n", "file:team.txt lists no recipients"),
    ("ann@example.com\n\nnot-an-address\n",
     "team.txt:3: 'not-an-address' is not a valid e-mail address"),
])
def test_a_recipient_file_says_what_is_wrong_with_it(
    line: str, error: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "team.txt").write_text(line)
    result = run("send", str(EXAMPLE), "--to", "file:team.txt", "--dry-run")
    assert result.exit_code == 2
    assert error in result.stderr
    assert "Give at least one --to" not in result.stderr


@pytest.mark.parametrize(("address", "error"), [
    ("bob@example", "no dot in its domain (example): probably a typo"),
    ("bücher@例え.jp", "the part before the @ must be ASCII"),
])
def test_likely_mistakes_in_an_address_are_explained(address: str, error: str) -> None:
    result = run("send", str(EXAMPLE), "--to", address, "--dry-run")
    assert result.exit_code == 2
    assert error in result.stderr


def test_missing_page_file_is_not_found(tmp_path: Path) -> None:
    result = run("send", str(tmp_path / "nope.html"), "--to", "a@example.com", "--dry-run")
    assert result.exit_code == 5
    assert "No such file" in result.stderr


def test_confluence_pages_need_a_site() -> None:
    result = run("send", "123456", "--to", "a@example.com", "--dry-run")
    assert result.exit_code == 3
    assert "config set-site" in result.stderr


def test_confluence_recipients_need_a_site() -> None:
    result = run("send", str(EXAMPLE), "--to", "me", "--dry-run")
    assert result.exit_code == 3
    assert "config set-site" in result.stderr


def test_no_prompt_without_a_tty_exit_3_names_the_variable(smtp_env: smtp.SmtpServer) -> None:
    process = run_process("send", str(EXAMPLE), "--to", "a@example.com",
                          env={"MAILPAGE_SMTP_PASSWORD": ""})
    assert process.returncode == 3
    assert "MAILPAGE_SMTP_PASSWORD" in process.stderr
    assert "config set-smtp --host localhost" in process.stderr
    assert "--password-stdin" in process.stderr
    assert "Traceback" not in process.stderr
    assert smtp_env.received == []


def test_headless_machine_without_keyring_gets_a_clear_message(
    smtp_env: smtp.SmtpServer,
) -> None:
    process = run_process(
        "send", str(EXAMPLE), "--to", "a@example.com",
        env={"MAILPAGE_SMTP_PASSWORD": "",
             "PYTHON_KEYRING_BACKEND": "keyring.backends.fail.Keyring"},
    )
    assert process.returncode == 3
    assert "No usable OS keyring" in process.stderr
    assert "MAILPAGE_SMTP_PASSWORD" in process.stderr
    assert "Traceback" not in process.stderr


def test_password_from_the_keyring_is_used(smtp_env: smtp.SmtpServer, tmp_path: Path) -> None:
    stored = run_process("config", "set-smtp", "--host", "localhost", "--port",
                         str(smtp_env.port), "--username", smtp.USERNAME,
                         "--password-stdin", input=smtp.PASSWORD + "\n",
                         env={"MAILPAGE_SMTP_PASSWORD": ""})
    assert stored.returncode == 0, stored.stderr
    process = run_process("send", str(EXAMPLE), "--to", "a@example.com",
                          env={"MAILPAGE_SMTP_PASSWORD": ""})
    assert process.returncode == 0, process.stderr
    assert len(smtp_env.received) == 1


def test_no_color_and_no_color_flag_remove_ansi_codes() -> None:
    forced = run("send", "x.html", "--to", "a@example.com", env={"FORCE_COLOR": "1"})
    assert ANSI.search(forced.stderr), "the test needs colour to be possible"
    no_color = run("send", "x.html", "--to", "a@example.com",
                   env={"FORCE_COLOR": "1", "NO_COLOR": "1"})
    assert no_color.exit_code == forced.exit_code == 5
    assert not ANSI.search(no_color.stderr)
    flag = run("--no-color", "send", "x.html", "--to", "a@example.com", env={"FORCE_COLOR": "1"})
    assert not ANSI.search(flag.stderr)


GREEN_CHECK, RED_CROSS = "\x1b[32m✓\x1b[0m ", "\x1b[31m✗\x1b[0m "


def test_config_check_marks_ok_and_failed_on_a_colour_terminal_only() -> None:
    coloured = run("config", "check", env={"FORCE_COLOR": "1"})
    lines = coloured.stdout.splitlines()
    assert lines[0].startswith(f"{GREEN_CHECK}confluence: \x1b[32mok\x1b[0m - ")
    assert lines[1].startswith(f"{RED_CROSS}smtp: \x1b[31mFAILED\x1b[0m - ")
    for plain in (run("config", "check", env={"FORCE_COLOR": "1", "NO_COLOR": "1"}),
                  run("--no-color", "config", "check", env={"FORCE_COLOR": "1"}),
                  run("config", "check")):
        assert plain.exit_code == coloured.exit_code == 3
        assert not ANSI.search(plain.stdout)
        assert plain.stdout.startswith("confluence: ok - not configured")
        assert "\nsmtp: FAILED - No SMTP server configured" in plain.stdout


def test_the_send_summary_is_marked_on_a_colour_terminal_only(
    smtp_env: smtp.SmtpServer,
) -> None:
    smtp_env.recorder.refuse["gone@example.com"] = "550 5.1.1 No such user"
    sent = run("send", str(EXAMPLE), "--to", "a@example.com", env={"FORCE_COLOR": "1"})
    assert sent.exit_code == 0, sent.stderr
    assert sent.stderr.splitlines()[-1].startswith(f"{GREEN_CHECK}Sent 'Release notes 2.4'")
    refused = run("send", str(EXAMPLE), "--to", "gone@example.com", env={"FORCE_COLOR": "1"})
    assert refused.exit_code == 7
    assert refused.stderr.splitlines()[-1].startswith(f"{RED_CROSS}Not sent: ")
    plain = run("send", str(EXAMPLE), "--to", "a@example.com",
                env={"FORCE_COLOR": "1", "NO_COLOR": "1"})
    assert plain.exit_code == 0, plain.stderr
    summary = plain.stderr.splitlines()[-1]  # the spinner still moves the cursor before it
    assert summary.startswith("Sent 'Release notes 2.4' to 1 of 1") and not ANSI.search(summary)


def test_the_download_step_counts_its_files_on_a_terminal_only() -> None:
    """Two images and an attachment the page does not show, fetched over the pool: the
    spinner counts each as it comes in. Off a terminal there is no spinner at all."""
    send = ("send", str(EXAMPLE), "--to", "a@example.com", "--dry-run", "--attachments")
    shown = run(*send, env={"FORCE_COLOR": "1"})  # rich takes stderr for a terminal
    assert shown.exit_code == 0, shown.stderr
    for count in ("0/3", "1/3", "2/3", "3/3"):
        assert f"download images {count}…" in shown.stderr
    hidden = run(*send)
    assert hidden.exit_code == 0, hidden.stderr
    assert "download images" not in hidden.stderr and not ANSI.search(hidden.stderr)


def test_user_text_is_not_rich_markup_or_emoji_codes(tmp_path: Path) -> None:
    page = tmp_path / "Beta_1.html"
    page.write_text('<title>ENG : Release [bold]beta[/bold] :warning:</title>'
                    '<div id="main-content"><p>Status :smile: [red]x[/red]</p></div>')
    result = run("send", str(page), "--to", "a@example.com", "--dry-run")
    assert result.exit_code == 0, result.stderr
    assert "Release [bold]beta[/bold] :warning:" in result.stderr
    text = run("preview", str(page), "--text")
    assert "Status :smile: [red]x[/red]" in text.stdout


def test_quiet_prints_errors_only() -> None:
    ok = run("-q", "send", str(EXAMPLE), "--to", "a@example.com", "--dry-run")
    assert ok.exit_code == 0 and ok.stderr == "" and ok.stdout == ""
    failed = run("-q", "send", str(EXAMPLE), "--to", "nobody", "--dry-run")
    assert failed.exit_code == 2 and "error:" in failed.stderr


def test_subject_placeholders_and_prefix(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MAILPAGE_SUBJECT_PREFIX", "[Wiki]")
    default = run("send", str(EXAMPLE), "--to", "a@example.com", "--save", "-")
    assert message_from_bytes(default.stdout_bytes, policy=policy.default)["Subject"] == (
        "[Wiki] Release notes 2.4")
    custom = run("send", str(EXAMPLE), "--to", "a@example.com", "--save", "-",
                 "--subject", "{space}: {title} {{braces}}")
    assert message_from_bytes(custom.stdout_bytes, policy=policy.default)["Subject"] == (
        "Engineering: Release notes 2.4 {braces}")
    versioned = run("send", str(EXAMPLE), "--to", "a@example.com", "--save", "-",
                    "--subject", "{title} v{version}")
    assert versioned.exit_code == 2  # an export has no version: refused, not left empty
    assert "uses {version}, which this HTML export has not" in versioned.stderr
    unknown = run("send", str(EXAMPLE), "--to", "a@example.com", "--dry-run",
                  "--subject", "{author}")
    assert unknown.exit_code == 2
    assert "{author}" in unknown.stderr


def test_message_file_and_message_are_exclusive(tmp_path: Path) -> None:
    note = tmp_path / "note.md"
    note.write_text("Please **read**.")
    both = run("send", str(EXAMPLE), "--to", "a@example.com", "--dry-run",
               "--message", "x", "--message-file", str(note))
    assert both.exit_code == 2
    saved = run("send", str(EXAMPLE), "--to", "a@example.com", "--save", "-",
                "--message-file", str(note))
    msg = message_from_bytes(saved.stdout_bytes, policy=policy.default)
    assert "<strong>read</strong>" in msg.get_body(("html",)).get_content()
    assert "Please **read**." in msg.get_body(("plain",)).get_content()


def test_message_from_stdin() -> None:
    saved = run("send", str(EXAMPLE), "--to", "a@example.com", "--save", "-",
                "--message-file", "-", input="Hello *team*\n")
    msg = message_from_bytes(saved.stdout_bytes, policy=policy.default)
    assert "<em>team</em>" in msg.get_body(("html",)).get_content()


def test_attach_glob_picks_attachments_and_reports_a_miss() -> None:
    saved = run("send", str(EXAMPLE), "--to", "a@example.com", "--save", "-",
                "--attach", "*.csv")
    msg = message_from_bytes(saved.stdout_bytes, policy=policy.default)
    assert [p.get_filename() for p in msg.iter_attachments()] == ["known-issues.csv"]
    missing = run("send", str(EXAMPLE), "--to", "a@example.com", "--dry-run",
                  "--attach", "*.pdf")
    assert missing.exit_code == 2
    assert "known-issues.csv" in missing.stderr


def test_attach_file_attaches_local_files_after_the_pages(
    smtp_env: smtp.SmtpServer, tmp_path: Path,
) -> None:
    report = tmp_path / "Q3 report.pdf"
    report.write_bytes(b"%PDF-1.4 a report")
    notes = tmp_path / "notes"
    notes.write_bytes(b"\x00\x01 no type")
    result = run("send", str(EXAMPLE), "--to", "a@example.com", "--attach", "*.csv",
                 "--attach-file", str(report), "--attach-file", str(notes), "--json")
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout)["message"]["attachments"] == 3
    (received,) = smtp_env.received
    parts = list(message_from_bytes(received.data, policy=policy.default).iter_attachments())
    assert [(p.get_filename(), p.get_content_type()) for p in parts] == [
        ("known-issues.csv", "text/csv"), ("Q3 report.pdf", "application/pdf"),
        ("notes", "application/octet-stream")]
    assert parts[1].get_content() == b"%PDF-1.4 a report"


def test_a_missing_attach_file_is_a_usage_error_before_anything_is_fetched(
    smtp_env: smtp.SmtpServer, tmp_path: Path,
) -> None:
    result = run("send", "98487", "--to", "a@example.com",
                 "--attach-file", str(tmp_path / "nope.pdf"))
    assert result.exit_code == 2
    assert f"--attach-file {tmp_path / 'nope.pdf'}: no such file" in result.stderr
    assert smtp_env.recorder.connections == 0


def test_the_export_images_are_named_as_their_attachments_are() -> None:
    saved = run("send", str(EXAMPLE), "--to", "a@example.com", "--save", "-", "--attachments")
    msg = message_from_bytes(saved.stdout_bytes, policy=policy.default)
    inline = [p.get_filename() for p in msg.walk()
              if p.get_content_disposition() == "inline" and p.get_filename()]
    attached = [p.get_filename() for p in msg.iter_attachments()
                if p.get_content_disposition() == "attachment"]
    assert inline == ["build-times.png", "search-architecture.png"]
    assert attached == ["build-times.png", "search-architecture.png", "known-issues.csv"]


@pytest.mark.parametrize(("name", "text", "refused"), [
    ("README.md", "# Title\n\n<p>some html</p>\n", True),
    ("notes.txt", "plain words\n", True),
    ("page.xhtml", "\ufeff<!-- saved -->\n<!DOCTYPE html><html><body><p>Hi</p></body></html>",
     False),
])
def test_a_local_file_that_is_not_html_is_refused(
    tmp_path: Path, name: str, text: str, refused: bool,
) -> None:
    page = tmp_path / name
    page.write_text(text, encoding="utf-8")
    result = run("send", str(page), "--to", "a@example.com", "--dry-run")
    if refused:
        assert result.exit_code == 2
        assert f"{page} is not an HTML page" in result.stderr
    else:
        assert result.exit_code == 0, result.stderr


@pytest.mark.parametrize("attach", [(), ("--attachments",)], ids=["plain", "attached"])
def test_without_a_site_only_page_links_of_an_export_are_warned_about(
    attach: tuple[str, ...],
) -> None:
    saved = run("send", str(EXAMPLE), "--to", "a@example.com", "--save", "-", *attach)
    assert saved.exit_code == 0, saved.stderr
    warnings = [line for line in saved.stderr.splitlines() if line.startswith("warning:")]
    assert warnings == [("warning: 1 link to other pages of the export became plain text"
                         " (set MAILPAGE_CONFLUENCE_URL to link them to the site)")]
    html = message_from_bytes(saved.stdout_bytes, policy=policy.default).get_body(
        ("html",)).get_content()  # type: ignore[union-attr]
    assert "attached <a" not in html and "attached known-issues.csv;" in html
    assert "attachments/98487/98503.csv" not in html


def test_debug_logs_smtp_steps_without_user_data(smtp_env: smtp.SmtpServer) -> None:
    result = run("--debug", "send", str(EXAMPLE), "--to", "someone@example.com")
    assert result.exit_code == 0, result.stderr
    debug = [line for line in result.stderr.splitlines() if line.startswith("debug:")]
    steps = [line.split()[2:4] for line in debug]
    assert ["connect", "starttls"] in steps
    assert ["auth", "235"] in steps
    assert ["rcpt", "250"] in steps
    assert ["data", "250"] in steps
    assert not [line for line in debug if "  " in line]  # no gap where no reply code was
    for value in ("someone@example.com", smtp.USERNAME, smtp.PASSWORD, "Release notes",
                  "localhost"):
        assert value not in "\n".join(debug)


def test_mailpage_debug_variable_turns_debug_on(smtp_env: smtp.SmtpServer) -> None:
    result = run("send", str(EXAMPLE), "--to", "someone@example.com",
                 env={"MAILPAGE_DEBUG": "1"})
    assert result.exit_code == 0, result.stderr
    assert "debug: smtp data 250" in result.stderr


def test_no_input_never_prompts_even_on_a_tty(
    smtp_env: smtp.SmtpServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    asked: list[str] = []
    def prompt(*args: object, **kwargs: object) -> str:
        asked.append("x")
        return "pw"

    monkeypatch.setattr("rich.prompt.Prompt.ask", prompt)
    monkeypatch.setenv("MAILPAGE_SMTP_PASSWORD", "")
    for flags, env in ((["--no-input"], {}), ([], {"MAILPAGE_NO_INPUT": "1"})):
        result = run(*flags, "send", str(EXAMPLE), "--to", "a@example.com", env=env,
                     environment=at_a_terminal(**env))
        assert result.exit_code == 3, result.stderr
        assert "MAILPAGE_SMTP_PASSWORD" in result.stderr
    assert asked == []
    prompted = run("send", str(EXAMPLE), "--to", "a@example.com", environment=at_a_terminal())
    assert asked == ["x"], "on a TTY without --no-input the prompt is used"
    assert prompted.exit_code == 4  # "pw" is the wrong password


def typed_at_the_prompt(monkeypatch: pytest.MonkeyPatch, *answers: str) -> list[str]:
    """A person at the terminal types ``answers`` in turn; returns each prompt as shown."""
    shown: list[str] = []
    typed = iter(answers)

    def answer(_prompt: object, _console: object, prompt: Text, *args: object,
               **kwargs: object) -> str:
        shown.append(prompt.plain)
        return next(typed)

    monkeypatch.setattr("rich.prompt.PromptBase.get_input", answer)
    return shown


def test_a_profile_name_like_markup_is_shown_as_is_at_a_prompt(
    smtp_env: smtp.SmtpServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    shown = typed_at_the_prompt(monkeypatch, "pw")
    monkeypatch.setenv("MAILPAGE_SMTP_PASSWORD", "")
    result = run("--profile", "[/x]", "send", str(EXAMPLE), "--to", "a@example.com",
                 environment=at_a_terminal())
    assert result.exit_code == 4, result.stderr  # "pw" is the wrong password, and no crash
    assert shown == ["SMTP password for profile [/x]: "]


def test_a_secret_typed_at_the_prompt_is_typed_twice(
    isolated: MemoryKeyring, monkeypatch: pytest.MonkeyPatch
) -> None:
    shown = typed_at_the_prompt(monkeypatch, "hunter2", "hunter3", "hunter2", "hunter2")
    result = run("--profile", "[/x]", "config", "set-smtp", "--host", "smtp.example.com",
                 "--username", "ann", environment=at_a_terminal())
    assert result.exit_code == 0, result.stderr
    assert shown == ["SMTP password: ", "SMTP password (again): "] * 2
    assert "the two entries differ" in result.stderr
    assert "(profile [/x])" in result.stderr
    stored = json.loads(isolated.store["mailpage", "[/x]/smtp"])
    assert stored["secret"] == "hunter2"


def test_json_is_indented_for_a_terminal_and_one_line_for_a_pipe() -> None:
    piped = run("config", "show", "--json")
    at_terminal = run("config", "show", "--json",
                      environment=replace(at_a_terminal(), stdout_isatty=True))
    assert piped.stdout.count("\n") == 1
    assert at_terminal.stdout.startswith('{\n  "profile": "default",')
    assert json.loads(at_terminal.stdout) == json.loads(piped.stdout)


def test_debug_shows_a_traceback_only_when_asked(monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("boom")

    monkeypatch.setattr("mailpage_cli.pipeline.compose", broken)
    plain = run("send", str(EXAMPLE), "--to", "a@example.com", "--dry-run")
    assert plain.exit_code == 1
    assert "bug" in plain.stderr and "Traceback" not in plain.stderr
    assert "boom" not in plain.stderr  # an exception's text may hold user data
    debug = run("--debug", "send", str(EXAMPLE), "--to", "a@example.com", "--dry-run")
    assert debug.exit_code == 1
    assert "Traceback" in debug.stderr


def test_a_keyring_password_is_used_and_never_shown(smtp_env: smtp.SmtpServer) -> None:
    stored = run_process("config", "set-smtp", "--host", "localhost", "--port",
                         str(smtp_env.port), "--username", smtp.USERNAME, "--password-stdin",
                         input=smtp.PASSWORD + "\n")
    assert stored.returncode == 0, stored.stderr
    for args in (["--debug", "-v", "send", str(EXAMPLE), "--to", "a@example.com", "--json"],
                 ["--debug", "config", "check"]):
        process = run_process(*args, env={"MAILPAGE_SMTP_PASSWORD": ""})
        assert process.returncode == 0, process.stderr
        plain = f"\0{smtp.USERNAME}\0{smtp.PASSWORD}".encode()
        for form in (smtp.PASSWORD, base64.b64encode(plain).decode()):
            assert form not in process.stdout + process.stderr
    assert len(smtp_env.received) == 1


def test_secrets_do_not_show_in_reprs() -> None:
    account = Account("h", 25, "starttls", "u", Secret("hunter2-secret"))
    assert "hunter2" not in repr(account) and "hunter2" not in str(Secret("hunter2"))


SECRETS = {"smtp": "s3cret-smtp-Pa55", "confluence": "conf-T0ken-xyz"}


@pytest.mark.parametrize(
    ("args", "exit_code"),
    [
        (["send", str(EXAMPLE), "--to", "a@example.com"], 4),
        (["send", str(EXAMPLE), "--to", "a@example.com", "--json"], 4),
        (["-v", "send", str(EXAMPLE), "--to", "a@example.com"], 4),
        (["--debug", "send", str(EXAMPLE), "--to", "a@example.com", "--json"], 4),
        (["--debug", "send", str(EXAMPLE), "--to", "not valid"], 2),
        (["send", str(EXAMPLE), "--to", "a@example.com", "--save", "-"], 0),
        (["config", "show"], 0),
        (["config", "show", "--json"], 0),
        (["--debug", "-v", "config", "show"], 0),
        (["preview", str(EXAMPLE), "--text"], 0),
    ],
)
def test_secrets_never_appear_in_any_output(
    args: list[str], exit_code: int, starttls_server: smtp.SmtpServer, ca_file: Path,
    config_file: Path,
) -> None:
    """The wrong password makes the send fail with exit 4: the error path is covered too
    (each command must get as far as it should, or the output proves nothing)."""
    env = {**starttls_server.env(ca_file), "MAILPAGE_SMTP_PASSWORD": SECRETS["smtp"]}
    kr = run_process("config", "set-smtp", "--host", "localhost", "--username", "u",
                     "--password-stdin", input=SECRETS["smtp"] + "-keyring\n", env=env)
    assert kr.returncode == 0, kr.stderr
    process = run_process(*args, env={**env, "MAILPAGE_CONFLUENCE_TOKEN": SECRETS["confluence"]})
    assert process.returncode == exit_code, process.stderr
    assert "Traceback" not in process.stderr or "--debug" in args
    written = config_file.read_text()
    for secret in (*SECRETS.values(), SECRETS["smtp"] + "-keyring"):
        forms = (secret, base64.b64encode(secret.encode()).decode(),
                 base64.b64encode(f"\0{smtp.USERNAME}\0{secret}".encode()).decode())
        for form in forms:
            assert form not in process.stdout
            assert form not in process.stderr
            assert form not in written


def test_preview_writes_html_with_data_uris_and_prints_text(tmp_path: Path) -> None:
    target = tmp_path / "page.html"
    result = run("preview", str(EXAMPLE), "--html", str(target), "--message", "FYI")
    assert result.exit_code == 0, result.stderr
    html = target.read_text()
    assert html.count("data:image/png;base64,") == 2
    assert "cid:" not in html and "FYI" in html
    text = run("preview", str(EXAMPLE), "--text")
    assert text.stdout.startswith("# Release notes 2.4")
    assert "[image: Build times of the release candidates]" in text.stdout


def test_preview_takes_the_note_file_and_image_rule_send_takes_and_opens_a_browser(
    tmp_path: Path,
) -> None:
    note = tmp_path / "note.md"
    note.write_text(f"Look: ![chart](http://127.0.0.1:{smtp.free_port()}/q3.png)\n")
    linked = run("preview", str(EXAMPLE), "--message-file", str(note), "--text")
    assert linked.exit_code == 0, linked.stderr
    assert "Look:" in linked.stdout and "q3.png" not in linked.stderr  # linked, not fetched
    fetched = run("preview", str(EXAMPLE), "--message-file", str(note), "--text",
                  "--external-images", "embed")
    assert "Downloading q3.png failed" in fetched.stderr  # tried, as send would
    opened = tmp_path / "opened.txt"
    browser = tmp_path / "browser.sh"
    browser.write_text(f'#!/bin/sh\nprintf %s "$1" > {opened}\n')
    browser.chmod(0o700)
    target = tmp_path / "page.html"
    shown = run_process("preview", str(EXAMPLE), "--html", str(target), "--open",
                        env={"BROWSER": str(browser)})
    assert shown.returncode == 0, shown.stderr
    assert opened.read_text() == target.resolve().as_uri()
    refused = run("preview", str(EXAMPLE), "--open")
    assert refused.exit_code == 2 and "Add --html FILE" in refused.stderr


def test_preview_shows_the_warnings_a_send_would(tmp_path: Path) -> None:
    page = tmp_path / "Page_1.html"
    page.write_text('<title>Space : T</title><div id="main-content"><img src="notes.txt"></div>')
    (tmp_path / "notes.txt").write_text("not a picture")
    result = run("preview", str(page), "--text")
    assert result.exit_code == 0, result.stderr
    assert "notes.txt is not an image" in result.stderr


def test_password_stdin_needs_a_username() -> None:
    result = run("config", "set-smtp", "--host", "h.example.com", "--password-stdin", input="x\n")
    assert result.exit_code == 2


def test_interrupt_exits_130_without_a_traceback(tmp_path: Path) -> None:
    with socket.socket() as silent:  # accepts, never greets: the send waits
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        env = {**os.environ, "PYTHONPATH": str(ROOT), "MAILPAGE_SMTP_HOST": "127.0.0.1",
               "MAILPAGE_SMTP_PORT": str(silent.getsockname()[1]),
               "MAILPAGE_SMTP_SECURITY": "starttls"}
        process = subprocess.Popen(
            [sys.executable, "-m", "mailpage_cli", "send", str(EXAMPLE), "--to", "a@example.com"],
            env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            text=True)
        connection, _ = silent.accept()  # it arrived, and waits for a greeting
        with connection:
            process.send_signal(signal.SIGINT)
            _, stderr = process.communicate(timeout=30)
    assert process.returncode == 130
    assert "Interrupted" in stderr and "Traceback" not in stderr


def test_a_closed_pipe_on_stdout_is_not_a_bug() -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    shell = f"{sys.executable} -m mailpage_cli config show | head -1; exit ${{PIPESTATUS[0]}}"
    process = subprocess.run(["bash", "-c", shell], env=env, capture_output=True, text=True,
                             timeout=60, check=False)
    assert process.stdout.startswith("profile:")
    assert process.stderr == ""
    assert process.returncode in (0, 141)  # 0 when everything fit in the pipe first
