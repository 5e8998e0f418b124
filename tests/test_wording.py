"""Counts are said in words that agree with them: "1 recipient", "2 recipients", never
"recipient(s)"."""

from __future__ import annotations

import re

from mailpage_cli.wording import count
from tests.conftest import EXAMPLE, ROOT, run
from tests.support import smtp


def test_a_count_agrees_with_its_noun() -> None:
    assert count(1, "recipient") == "1 recipient"
    assert count(2, "recipient") == "2 recipients"
    assert count(0, "image") == "0 images"
    assert count(1, "try", "tries") == "1 try"
    assert count(4, "try", "tries") == "4 tries"


def test_no_message_hedges_its_plural_with_s_in_parentheses() -> None:
    """"recipient(s)" is the program not knowing its own count; "http(s)" is a scheme."""
    hedged = [f"{path.relative_to(ROOT)}:{number}: {line.strip()}"
              for path in sorted((ROOT / "mailpage_cli").rglob("*.py"))
              for number, line in enumerate(path.read_text().splitlines(), start=1)
              if re.search(r"(?<!http)\(s\)", line)]
    assert hedged == []


def test_the_summary_counts_in_the_singular_and_the_plural() -> None:
    one = run("send", str(EXAMPLE), "--to", "a@example.com", "--dry-run")
    assert one.exit_code == 0, one.stderr
    assert "would go to 1 recipient (" in one.stderr
    assert ", 2 images, 0 attachments)" in one.stderr
    two = run("send", str(EXAMPLE), "--to", "a@example.com,b@example.com", "--dry-run")
    assert "would go to 2 recipients (" in two.stderr


def test_an_unchanged_page_names_whom_it_was_sent_to(smtp_env: smtp.SmtpServer) -> None:
    def send_twice(to: str) -> str:
        first = run("send", str(EXAMPLE), "--to", to, "--if-changed")
        assert first.exit_code == 0, first.stderr
        again = run("send", str(EXAMPLE), "--to", to, "--if-changed")
        assert again.exit_code == 0, again.stderr
        return again.stderr

    assert "was already sent to a@example.com; nothing sent." in send_twice("a@example.com")
    assert "was already sent to all 2 recipients; nothing sent." in send_twice(
        "b@example.com,c@example.com")
