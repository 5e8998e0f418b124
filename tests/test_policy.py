"""Policy stops a send before anything goes out."""

from __future__ import annotations

import json
from email import message_from_bytes
from pathlib import Path

import pytest

from tests.conftest import EXAMPLE, at_a_terminal, run
from tests.support import smtp


def test_recipients_outside_allowed_domains_stop_the_send(smtp_env: smtp.SmtpServer) -> None:
    run("config", "set-policy", "--allowed-domain", "example.com")
    result = run("send", str(EXAMPLE), "--to", "a@example.com,b@sub.example.com",
                 "--bcc", "x@elsewhere.org")
    assert result.exit_code == 8
    assert "x@elsewhere.org" in result.stderr
    assert "b@sub.example.com" not in result.stderr
    assert smtp_env.recorder.connections == 0


@pytest.mark.parametrize("outside", ["x@notexample.com", "x@example.com.evil.org",
                                     "x@example.co"])
def test_an_allowed_domain_does_not_admit_look_alikes(outside: str) -> None:
    """example.com allows itself and its subdomains, not every name that ends like it."""
    run("config", "set-policy", "--allowed-domain", "example.com")
    result = run("send", str(EXAMPLE), "--to", f"a@example.com,b@sub.example.com,{outside}",
                 "--dry-run")
    assert result.exit_code == 8
    assert f"allowed domains (example.com): {outside}" in result.stderr


def test_exactly_max_recipients_needs_no_yes(smtp_env: smtp.SmtpServer) -> None:
    run("config", "set-policy", "--max-recipients", "2")
    result = run("send", str(EXAMPLE), "--to", "a@example.com,b@example.com")
    assert result.exit_code == 0, result.stderr
    assert [r.rcpt_tos for r in smtp_env.received] == [["a@example.com", "b@example.com"]]


def test_many_recipients_need_yes_without_a_tty(smtp_env: smtp.SmtpServer) -> None:
    run("config", "set-policy", "--max-recipients", "2")
    refused = run("send", str(EXAMPLE), "--to", "a@example.com,b@example.com,c@example.com")
    assert refused.exit_code == 8
    assert "--yes" in refused.stderr
    assert smtp_env.recorder.connections == 0
    allowed = run("send", str(EXAMPLE), "--to", "a@example.com,b@example.com,c@example.com",
                  "--yes")
    assert allowed.exit_code == 0, allowed.stderr
    assert len(smtp_env.received[0].rcpt_tos) == 3


def test_oversized_message_is_refused_before_connecting(smtp_env: smtp.SmtpServer) -> None:
    run("config", "set-policy", "--max-size", "0.01")
    result = run("send", str(EXAMPLE), "--to", "a@example.com", "--attachments", "--json")
    assert result.exit_code == 8
    assert "build-times.png" in result.stderr and "--max-size" in result.stderr
    error = json.loads(result.stdout)  # a CI artifact that says why
    assert (error["status"], error["exit"]) == ("error", 8)
    assert "build-times.png" in error["error"]
    assert smtp_env.recorder.connections == 0


def test_a_dry_run_fails_where_the_send_would() -> None:
    """A dry run applies every check of the send it rehearses, max_recipients included: a CI
    rehearsal that passes is a send that passes (D17)."""
    run("config", "set-policy", "--max-recipients", "1", "--allowed-domain", "example.com")
    many = ("send", str(EXAMPLE), "--to", "a@example.com,b@example.com", "-n", "--json")
    refused = run(*many)
    assert refused.exit_code == 8
    assert "more than max_recipients (1)" in refused.stderr and "--yes" in refused.stderr
    assert json.loads(refused.stdout)["exit"] == 8
    rehearsed = run(*many, "--yes")
    assert rehearsed.exit_code == 0, rehearsed.stderr
    assert json.loads(rehearsed.stdout)["status"] == "dry-run"
    outside = run("send", str(EXAMPLE), "--to", "a@example.com,x@elsewhere.org", "-n", "--yes")
    assert outside.exit_code == 8 and "x@elsewhere.org" in outside.stderr


@pytest.mark.parametrize(("answer", "code"), [("y", 0), ("n", 8)])
def test_a_dry_run_on_a_terminal_asks_as_the_send_would(
    smtp_env: smtp.SmtpServer, answer: str, code: int,
) -> None:
    """The question comes in the rehearsal too; its answer decides, and nothing is sent."""
    run("config", "set-policy", "--max-recipients", "1")
    result = run("send", str(EXAMPLE), "--to", "a@example.com,b@example.com", "--dry-run",
                 input=f"{answer}\n", environment=at_a_terminal())
    assert result.exit_code == code, result.stderr
    assert "Send to 2 recipients (more than 1): a@example.com, b@example.com?" in result.stderr
    assert smtp_env.recorder.connections == 0


def test_no_to_the_question_is_not_sent_and_names_the_first_few(
    smtp_env: smtp.SmtpServer,
) -> None:
    """The question shows who would get it; after a "no", nothing is sent and no way round
    the limit is offered: the person has just chosen not to."""
    run("config", "set-policy", "--max-recipients", "2")
    everyone = ",".join(f"r{n}@example.com" for n in range(1, 6))
    result = run("send", str(EXAMPLE), "--to", everyone, "--json", input="n\n",
                 environment=at_a_terminal())
    assert result.exit_code == 8
    assert ("Send to 5 recipients (more than 2): r1@example.com, r2@example.com,"
            " r3@example.com and 2 more?") in result.stderr
    assert result.stderr.endswith("(n): error: Not sent.\n")  # the typed "n" is not echoed here
    assert "--yes" not in result.stderr and "max_recipients" not in result.stderr
def test_a_saved_message_is_not_asked_about() -> None:
    """--save sends nothing, so many recipients need no --yes to be saved for."""
    run("config", "set-policy", "--max-recipients", "1")
    result = run("send", str(EXAMPLE), "--to", "a@example.com,b@example.com", "--save", "-")
    assert result.exit_code == 0, result.stderr
    assert message_from_bytes(result.stdout_bytes)["To"] == "a@example.com, b@example.com"


def test_a_page_far_over_the_size_limit_is_refused_before_rendering(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A 50 MB page once took 40 s and 3 GB to render before the size policy said no (E4)."""
    rendered: list[object] = []
    monkeypatch.setattr("mailpage_cli.render.prepare", rendered.append)
    run("config", "set-policy", "--max-size", "0.1")
    page = tmp_path / "Big_1.html"
    page.write_text('<title>ENG : Big</title><div id="main-content">'
                    + "<p>word</p>" * 30_000 + "</div>")
    result = run("send", str(page), "--to", "a@example.com", "--dry-run")
    assert result.exit_code == 8, result.stderr
    assert "of HTML; its message would be over the limit of 0.1 MB" in result.stderr
    assert rendered == []
