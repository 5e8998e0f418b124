"""Policy stops a send before anything goes out."""

from __future__ import annotations

import json

from tests.conftest import EXAMPLE, run
from tests.support import smtp


def test_recipients_outside_allowed_domains_stop_the_send(smtp_env: smtp.SmtpServer) -> None:
    run("config", "set-policy", "--allowed-domain", "example.com")
    result = run("send", str(EXAMPLE), "--to", "a@example.com,b@sub.example.com",
                 "--bcc", "x@elsewhere.org")
    assert result.exit_code == 8
    assert "x@elsewhere.org" in result.stderr
    assert "b@sub.example.com" not in result.stderr
    assert smtp_env.recorder.connections == 0


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
    assert result.stdout == ""
    assert smtp_env.recorder.connections == 0


def test_dry_run_reports_without_asking_but_keeps_the_domain_rule() -> None:
    run("config", "set-policy", "--max-recipients", "1", "--allowed-domain", "example.com")
    result = run("send", str(EXAMPLE), "--to", "a@example.com,b@example.com", "-n", "--json")
    assert result.exit_code == 0
    assert json.loads(result.stdout)["status"] == "dry-run"
    outside = run("send", str(EXAMPLE), "--to", "a@example.com,x@elsewhere.org", "-n")
    assert outside.exit_code == 8 and "x@elsewhere.org" in outside.stderr
