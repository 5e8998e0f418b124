"""The CLI on a real pseudo-terminal, as a person at a keyboard meets it: prompts, hidden
input, Ctrl-C and Ctrl-D. pexpect reads what the terminal shows and types the answers."""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping

import pexpect

from tests.conftest import ROOT

TIMEOUT = 60  # generous: the machine running the tests may be busy; nothing is timed


def terminal(*args: str, env: Mapping[str, str] | None = None) -> pexpect.spawn:
    """``mailpage ARGS`` on a pty with the file keyring and the test's environment."""
    full_env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "PYTHON_KEYRING_BACKEND": "tests.support.keyrings.FileKeyring",
        "TERM": "dumb",
        **(env or {}),
    }
    return pexpect.spawn(sys.executable, ["-m", "mailpage_cli", *args], env=full_env,
                         encoding="utf-8", timeout=TIMEOUT, dimensions=(24, 200))


def finish(child: pexpect.spawn) -> tuple[str, int]:
    """Everything the terminal showed after the last expectation, and the exit status."""
    rest = child.read()
    child.wait()
    child.close()
    return rest, child.exitstatus if child.exitstatus is not None else -child.signalstatus
