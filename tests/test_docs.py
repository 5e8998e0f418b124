"""The README is part of the contract: its exit-code table and command list stay true."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import click
import pytest

from mailpage_cli.cli import cli
from mailpage_cli.errors import ExitCode
from tests.conftest import ROOT, run

README = (ROOT / "README.md").read_text()


def commands(group: click.Group = cli, prefix: str = "mailpage") -> list[tuple[str, click.Command]]:
    found = []
    for name, command in sorted(group.commands.items()):
        path = f"{prefix} {name}"
        if isinstance(command, click.Group):
            found += commands(command, path)
        else:
            found.append((path, command))
    return found


def test_exit_code_table_matches_the_enum() -> None:
    section = README.split("## Exit codes", 1)[1].split("\n## ", 1)[0]
    documented = {int(code) for code in re.findall(r"^\| (\d+) \|", section, re.M)}
    assert documented == {int(code) for code in ExitCode}


@pytest.mark.parametrize(("path", "command"), commands(), ids=str)
def test_every_command_is_documented_and_has_help_with_an_example(
    path: str, command: click.Command
) -> None:
    assert f"`{path}" in README, f"{path} is missing from the README"
    assert command.help and "mailpage " in command.help, f"{path} help lacks an example"
    result = run(*path.split()[1:], "--help")
    assert result.exit_code == 0
    assert "Usage:" in result.stdout


@pytest.mark.parametrize(("path", "command"), [*commands(), ("mailpage", cli)], ids=str)
def test_every_long_option_is_in_the_readme(path: str, command: click.Command) -> None:
    for param in command.params:
        for option in param.opts if isinstance(param, click.Option) else ():
            if option.startswith("--") and option != "--help":
                token = rf"(?<![\w-]){re.escape(option)}(?![\w-])"
                assert re.search(token, README), f"{path} {option} is not in the README"


def test_the_documented_shell_completion_completes_commands_and_choices() -> None:
    """The README's bash line defines a completion function, and the installed command answers
    it with subcommands and an option's choices."""
    assert 'eval "$(_MAILPAGE_COMPLETE=bash_source mailpage)"' in README
    program = str(Path(sys.executable).with_name("mailpage"))

    def complete(words: str, **env: str) -> str:
        return subprocess.run([program], env={**os.environ, **env, "COMP_WORDS": words,
                                              "COMP_CWORD": str(len(words.split(" ")) - 1)},
                              capture_output=True, text=True, check=True, timeout=60).stdout

    source = complete("", _MAILPAGE_COMPLETE="bash_source")
    assert "complete -o nosort -F _mailpage_completion mailpage" in source
    assert "plain,send" in complete("mailpage se", _MAILPAGE_COMPLETE="bash_complete")
    choices = complete("mailpage config set-smtp --security ", _MAILPAGE_COMPLETE="bash_complete")
    assert choices.split() == ["plain,ssl", "plain,starttls", "plain,none"]
