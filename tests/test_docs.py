"""The README is part of the contract: its exit-code table and command list stay true."""

from __future__ import annotations

import re

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
