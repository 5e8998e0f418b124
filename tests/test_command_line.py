"""How the command line is parsed: global options before or after the command, click's
usage errors as one ``error:`` line, and prompts on a real terminal (Ctrl-C, secrets)."""

from __future__ import annotations

import io
import json
import os
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import Result

from mailpage_cli.environment import Environment
from tests.conftest import EXAMPLE, at_a_terminal, run
from tests.support import smtp
from tests.support.keyrings import MemoryKeyring
from tests.support.terminal import finish, terminal

SEND = ("send", str(EXAMPLE), "--to", "a@example.com", "--dry-run")


def _work_profile() -> None:
    made = run("--profile", "work", "config", "set-sender", "--address", "work@example.com")
    assert made.exit_code == 0, made.stderr


def _other_config(tmp_path: Path) -> str:
    return str(tmp_path / "other.toml")


# Each global option, a command it changes, and what the run needs first.
CASES: dict[str, tuple[Callable[[Path], list[str]], tuple[str, ...], dict[str, str],
                       Callable[[], Environment | None]]] = {
    "profile": (lambda _: ["--profile", "work"], ("config", "show"), {}, lambda: None),
    "config": (lambda p: ["--config", _other_config(p)], ("config", "show"), {}, lambda: None),
    "quiet": (lambda _: ["-q"], SEND, {}, lambda: None),
    "verbose": (lambda _: ["-v"], SEND, {}, lambda: None),
    "debug": (lambda _: ["--debug"], ("send", "missing.html", "--to", "a@example.com"), {},
              lambda: None),
    "no-input": (lambda _: ["--no-input"],
                 ("config", "set-smtp", "--host", "smtp.example.com", "--username", "ann"), {},
                 at_a_terminal),
    "no-color": (lambda _: ["--no-color"], ("send", "missing.html", "--to", "a@example.com"),
                 {"FORCE_COLOR": "1"}, lambda: None),
}


def _ctrl_d(*_args: object, **_kwargs: object) -> str:
    raise EOFError


def _outcome(result: Result) -> tuple[int, str, str]:
    return result.exit_code, result.stdout, result.stderr


@pytest.mark.parametrize("name", CASES)
def test_a_global_option_after_the_command_means_what_it_means_before(
    name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    flag, command, env, environment = CASES[name]
    # Without --no-input, the person at the terminal presses Ctrl-D at the prompt.
    monkeypatch.setattr("rich.prompt.PromptBase.get_input", _ctrl_d)
    _work_profile()
    without = run(*command, env=env, environment=environment())
    before = run(*flag(tmp_path), *command, env=env, environment=environment())
    after = run(*command, *flag(tmp_path), env=env, environment=environment())
    assert "No such option" not in after.stderr
    assert _outcome(after) == _outcome(before)
    assert _outcome(before) != _outcome(without), "the option must change something"


def test_after_the_command_the_later_option_wins(monkeypatch: pytest.MonkeyPatch) -> None:
    _work_profile()

    def profile(*args: str) -> str:
        result = run(*args)
        assert result.exit_code == 0, result.stderr
        return result.stdout.splitlines()[0]

    assert profile("config", "show", "--profile", "work") == "profile: work"
    assert profile("config", "--profile", "work", "show") == "profile: work"
    assert profile("--profile", "work", "config", "show", "--profile", "default") == \
        "profile: default"
    assert profile("--profile", "default", "config", "--profile", "work", "show") == \
        "profile: work"
    monkeypatch.setenv("MAILPAGE_PROFILE", "work")
    assert profile("config", "show") == "profile: work"
    assert profile("config", "show", "--profile", "default") == "profile: default"


def test_the_global_options_are_listed_once_in_the_help() -> None:
    top = run("--help").stdout
    assert "--profile" in top and "may come after the command too" in top
    for command in (("send",), ("config", "forget")):
        shown = run(*command, "--help").stdout
        options = [line.split()[0] for line in shown.splitlines() if line.startswith("  -")]
        assert "--profile" not in options and "--no-color" not in options
        assert "The global options (see `mailpage --help`) may come after the command" in shown


@pytest.mark.parametrize(("args", "line"), [
    (("sned",), "error: No such command 'sned'. Did you mean 'send'? See `mailpage --help`."),
    (("send", "98487", "--too", "a@example.com"),
     "error: No such option '--too'. Did you mean '--to'? See `mailpage send --help`."),
    (("config", "set-smtp", "--host", "h", "--port", "x"),
     ("error: Invalid value for '--port': 'x' is not a valid integer range."
      " See `mailpage config set-smtp --help`.")),
    (("--frobnicate", "send"), "error: No such option '--frobnicate'. See `mailpage --help`."),
    (("config", "shwo"),
     "error: No such command 'shwo'. Did you mean 'show'? See `mailpage config --help`."),
    (("config", "set-smtp", "--json"),  # no --json there: no JSON either
     "error: No such option '--json'. See `mailpage config set-smtp --help`."),
])
def test_a_usage_error_is_one_error_line_exit_2(args: tuple[str, ...], line: str) -> None:
    result = run(*args)
    assert result.exit_code == 2
    assert result.stderr == line + "\n"
    assert result.stdout == ""


@pytest.mark.parametrize("args", [
    ("send", str(EXAMPLE), "--json", "--too", "a@example.com"),
    ("send", str(EXAMPLE), "--to", "a@example.com", "--json", "--external-images", "x"),
    ("config", "show", "--json", "--frobnicate"),
])
def test_a_usage_error_under_json_is_a_json_error_too(args: tuple[str, ...]) -> None:
    result = run(*args)
    assert result.exit_code == 2
    error = json.loads(result.stdout)
    assert error == {"status": "error", "exit": 2, "error": error["error"]}
    assert result.stderr == f"error: {error['error']}\n"
    assert error["error"].endswith("--help`.")


@pytest.mark.parametrize("args", [(), ("config",)])
def test_a_group_without_a_command_shows_its_help(args: tuple[str, ...]) -> None:
    result = run(*args)
    assert result.exit_code == 0
    assert result.stdout.startswith("Usage:") and "Commands:" in result.stdout
    assert result.stderr == ""


def _transcript(child: object) -> io.StringIO:
    shown = io.StringIO()
    child.logfile_read = shown  # type: ignore[attr-defined]
    return shown


@pytest.mark.parametrize("prompt", ["password", "confirm"])
def test_ctrl_c_at_a_prompt_ends_its_line_and_exits_130(
    prompt: str, smtp_env: smtp.SmtpServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    if prompt == "password":
        monkeypatch.setenv("MAILPAGE_SMTP_PASSWORD", "")
        args, shown = ["send", str(EXAMPLE), "--to", "a@example.com"], "for profile default: "
    else:
        assert run("config", "set-policy", "--max-recipients", "1").exit_code == 0
        args = ["send", str(EXAMPLE), "--to", "a@example.com,b@example.com", "--dry-run"]
        shown = "(n): "
    child = terminal(*args)
    transcript = _transcript(child)
    child.expect_exact(shown)
    child.send("\x03")
    _, status = finish(child)
    assert status == 130
    lines = transcript.getvalue().splitlines()
    assert "error: Interrupted" in lines, lines  # on a line of its own
    assert "Traceback" not in transcript.getvalue()


@pytest.mark.parametrize(("command", "label", "key"), [
    (["config", "set-smtp", "--host", "smtp.example.com", "--username", "ann",
      "--password-stdin"], "SMTP password", "default/smtp"),
    (["config", "set-directory", "org-1", "--key-stdin"],
     "Atlassian organization admin API key", "default/atlassian-admin"),
    (["config", "set-smtp", "--host", "smtp.office365.com", "--auth", "oauth2",
      "--oauth-provider", "microsoft", "--client-id", "app-1", "--tenant", "acme.com",
      "--username", "ann@acme.com", "--client-secret-stdin"],
     "OAuth client secret", "default/smtp-client"),
])
def test_a_secret_flag_at_a_terminal_asks_at_a_hidden_prompt(
    command: list[str], label: str, key: str
) -> None:
    child = terminal(*command)
    transcript = _transcript(child)
    child.expect_exact(f"{label}: ")
    child.sendline("hunter2")
    child.expect_exact(f"{label} (again): ")
    child.sendline("hunter2")
    _, status = finish(child)
    assert status == 0, transcript.getvalue()
    assert "hunter2" not in transcript.getvalue()
    stored = json.loads(Path(os.environ["MAILPAGE_TEST_KEYRING"]).read_text())
    assert json.loads(stored[f"mailpage\n{key}"])["secret"] == "hunter2"


def test_a_secret_flag_at_a_terminal_with_no_input_is_refused_not_echoed(
    isolated: MemoryKeyring,
) -> None:
    result = run("--no-input", "config", "set-smtp", "--host", "smtp.example.com",
                 "--username", "ann", "--password-stdin", environment=at_a_terminal("hunter2\n"))
    assert result.exit_code == 2
    assert "would be typed in clear at the terminal" in result.stderr
    assert "Pipe it in" in result.stderr
    assert not isolated.store


def test_a_fix_command_in_an_error_names_the_profile_in_use(config_file: Path) -> None:
    """Run as printed, a bare `mailpage config …` would change the default profile."""
    config_file.parent.mkdir(parents=True)
    config_file.write_text('[profiles."my work".sender]\naddress = "ann@example.com"\n')
    result = run("--profile", "my work", "send", str(EXAMPLE), "--to", "a@example.com")
    assert result.exit_code == 3
    assert "Run `mailpage --profile 'my work' config set-smtp --host HOST`" in result.stderr
    default = run("send", str(EXAMPLE), "--to", "a@example.com")
    assert "Run `mailpage config set-smtp --host HOST`" in default.stderr


def test_a_fix_command_in_a_summary_names_the_profile_in_use_too() -> None:
    result = run("--profile", "work", "config", "set-smtp", "--host", "smtp.office365.com",
                 "--auth", "oauth2", "--oauth-provider", "microsoft", "--client-id", "app-id",
                 "--username", "ann@acme.com")
    assert result.exit_code == 0, result.stderr
    assert "Next, sign in once: `mailpage --profile work config login smtp`." in result.stderr
