"""The fault matrix (tests/fault_matrix.py) holds: each fault of the reliability report it
reproduces meets its expectation, no message reaches anyone twice and no secret leaks. The
controls show that its counters are not blind: a message sent twice counts as doubled, and a
secret counts as leaked in a server, an output or a file where it does not belong."""

from __future__ import annotations

import base64
from email.message import EmailMessage
from pathlib import Path

import pytest
import trustme

from tests import fault_matrix as matrix
from tests.support import smtp

ALWAYS_RUNS = {s.id for s in matrix.SCENARIOS} - {
    "A2d",  # as root it needs chattr +i
    "G9",  # it needs strace to hold a write open
}


@pytest.mark.timeout(300)  # about 40 s on two cores
def test_every_fault_meets_its_expectation_and_nothing_is_doubled_or_leaked() -> None:
    rows = matrix.run_matrix()
    text = matrix.report(rows, seconds=0)
    tried, met, doubled, leaked = matrix.totals(rows)
    assert (doubled, leaked) == (0, 0), text
    assert met == tried, text
    assert {row.id for row in rows if not row.skipped} >= ALWAYS_RUNS, text


def control(play: matrix.Play, folder: Path) -> matrix.Row:
    return matrix.play(matrix.Scenario("X", "control", play), trustme.CA(), folder)


def test_a_message_sent_twice_and_a_password_sent_elsewhere_are_counted(tmp_path: Path) -> None:
    def twice_to_a_stranger(lab: matrix.Lab) -> None:
        stranger = lab.smtp_server(destination=False)  # it gets the password, in AUTH
        lab.unattended(stranger, lab.confluence())
        for _ in range(2):
            lab.run(*matrix.send(), expect=0, status="sent")

    row = control(twice_to_a_stranger, tmp_path)
    assert row.met, row.problems
    assert (row.copies, row.doubled) == ("1×2", 1)
    assert row.leaked == ["SMTP server 1"]


def test_a_secret_in_any_form_in_an_output_or_a_file_is_counted(tmp_path: Path) -> None:
    basic = base64.b64encode(f"{matrix.ME.email}:{matrix.TOKEN}".encode()).decode()
    mail = EmailMessage()
    mail.set_content(f"the password is {smtp.PASSWORD}\n", cte="base64")

    def leaky(lab: matrix.Lab) -> None:
        lab.outputs.append(("run 1 stderr", f"error: your header was Basic {basic}"))
        (lab.folder / "saved.eml").write_bytes(bytes(mail))
        (lab.folder / "keyring.json").write_text(matrix.TOKEN)  # where secrets belong
        lab.steps.append(matrix.Step("0", "0", met=True))

    row = control(leaky, tmp_path)
    assert sorted(row.leaked) == ["run 1 stderr", "saved.eml"]
    assert smtp.PASSWORD not in bytes(mail).decode()  # only the decoded part shows it
