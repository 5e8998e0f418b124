"""Every test gets its own config dir, state dir, environment and keyring."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from collections.abc import Iterator, Mapping
from pathlib import Path

import keyring
import pytest
import trustme
from click.testing import CliRunner, Result

from mailpage_cli.cli import cli
from mailpage_cli.environment import Environment
from mailpage_cli.pipeline import Run
from tests.support import smtp
from tests.support.clock import FakeClock
from tests.support.confluence_server import FakeConfluence
from tests.support.idp import IdentityProvider
from tests.support.keyrings import MemoryKeyring

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "examples" / "export" / "Release-notes-2.4_98487.html"
SENDER = "Ann Example <ann@example.com>"


@pytest.fixture(autouse=True)
def isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[MemoryKeyring]:
    for name in list(os.environ):
        if name.startswith("MAILPAGE_") or name in (
            "NO_COLOR", "FORCE_COLOR", "PYTHON_KEYRING_BACKEND", "XDG_CONFIG_HOME",
            "XDG_STATE_HOME",
        ):
            monkeypatch.delenv(name)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    monkeypatch.setenv("MAILPAGE_TEST_KEYRING", str(tmp_path / "keyring.json"))
    monkeypatch.setenv("MAILPAGE_SENDER_ADDRESS", "ann@example.com")
    monkeypatch.setenv("MAILPAGE_SENDER_NAME", "Ann Example")
    previous = keyring.get_keyring()
    memory = MemoryKeyring()
    keyring.set_keyring(memory)
    # The files tests make are not group-writable, whatever the user's umask: mailpage
    # refuses a config file or folder that others can write.
    umask = os.umask(0o022)
    yield memory
    os.umask(umask)
    keyring.set_keyring(previous)


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> FakeClock:
    """The clock retries wait on, at both edges, in every run of the CLI in this test."""
    fake = FakeClock()
    monkeypatch.setattr(Run, "clock", fake)
    return fake


@pytest.fixture
def config_file(tmp_path: Path) -> Path:
    return tmp_path / "config" / "mailpage" / "config.toml"


def run(*args: str, input: str | None = None, env: dict[str, str] | None = None,
        environment: Environment | None = None) -> Result:
    """The CLI in-process, stdout and stderr apart, as a script would see it (no TTY), or in
    the ``environment`` given."""
    return CliRunner().invoke(cli, list(args), input=input, env=env, obj=environment,
                              catch_exceptions=False)


def at_a_terminal(input: str = "", **env: str) -> Environment:
    """A run whose stdin is a terminal, so that a person could answer a prompt; the
    variables are this test's, with ``env`` on top."""
    return Environment(env={**os.environ, **env}, stdin=io.StringIO(input), stdin_isatty=True,
                       stdout_isatty=False)


def run_process(
    *args: str, env: dict[str, str] | None = None, input: str | None = None
) -> subprocess.CompletedProcess[str]:
    """The CLI as a real process: its own interpreter, stdin not a TTY, the file keyring."""
    full_env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "PYTHON_KEYRING_BACKEND": "tests.support.keyrings.FileKeyring",
        **(env or {}),
    }
    return subprocess.run(
        [sys.executable, "-m", "mailpage_cli", *args],
        env=full_env, input=input or "", capture_output=True, text=True, timeout=60,
        check=False,
    )


@pytest.fixture(scope="session")
def ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture
def ca_file(ca: trustme.CA, tmp_path: Path) -> Path:
    path = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(path))
    return path


@pytest.fixture
def starttls_server(ca: trustme.CA) -> Iterator[smtp.SmtpServer]:
    server = smtp.start("starttls", ca)
    yield server
    server.stop()


@pytest.fixture
def ssl_server(ca: trustme.CA) -> Iterator[smtp.SmtpServer]:
    server = smtp.start("ssl", ca)
    yield server
    server.stop()


@pytest.fixture
def plain_server() -> Iterator[smtp.SmtpServer]:
    """Plaintext, and careless: it offers AUTH without TLS."""
    server = smtp.start("none", auth=True)
    yield server
    server.stop()


@pytest.fixture
def idp(ca: trustme.CA, ca_file: Path, monkeypatch: pytest.MonkeyPatch
        ) -> Iterator[IdentityProvider]:
    """A started loopback identity provider (Microsoft and Google) that requests trusts."""
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(ca_file))
    for name in ("MSAL_FORCE_REGION", "OAUTHLIB_RELAX_TOKEN_SCOPE", "OAUTHLIB_INSECURE_TRANSPORT"):
        monkeypatch.delenv(name, raising=False)
    with IdentityProvider(ca) as provider:
        yield provider


@pytest.fixture
def oauth_server(ca: trustme.CA, idp: IdentityProvider) -> Iterator[smtp.SmtpServer]:
    """The STARTTLS server, also taking the bearer tokens ``idp`` issues (XOAUTH2,
    OAUTHBEARER)."""
    server = smtp.start("starttls", ca, oauth=idp)
    yield server
    server.stop()


@pytest.fixture
def smtp_env(
    starttls_server: smtp.SmtpServer, ca_file: Path, monkeypatch: pytest.MonkeyPatch
) -> smtp.SmtpServer:
    """mailpage configured, through the environment, for the STARTTLS server."""
    set_env(monkeypatch, starttls_server.env(ca_file, password=True))
    return starttls_server


def unattended_env(confluence: FakeConfluence, server: smtp.SmtpServer, ca_file: Path,
                   tmp_path: Path) -> dict[str, str]:
    """A job's environment with the test servers and their secrets: no config file, state
    in ``tmp_path``."""
    return {
        **confluence.env(),
        **server.env(ca_file, password=True),
        "MAILPAGE_STATE_DIR": str(tmp_path / "state"),
        "MAILPAGE_CONFIG": str(tmp_path / "no-such-config.toml"),
    }


def set_env(monkeypatch: pytest.MonkeyPatch, variables: Mapping[str, str]) -> None:
    """Put ``variables`` (a test server's MAILPAGE_*) into the environment for one test."""
    for name, value in variables.items():
        monkeypatch.setenv(name, value)
