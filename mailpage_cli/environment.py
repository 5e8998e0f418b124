"""What one run gets from its process, read once: kept apart from ``models`` so that the
command line's start (``mailpage --help``) loads no more than this."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TextIO


@dataclass(frozen=True)
class Environment:
    """What one run gets from its process: the variables, stdin, and whether a person is at
    either end. The command line builds it once; tests build their own."""

    env: Mapping[str, str]
    stdin: TextIO
    stdin_isatty: bool
    stdout_isatty: bool

    @property
    def no_color(self) -> bool:
        """NO_COLOR (no-color.org) is set, to anything."""
        return bool(self.env.get("NO_COLOR"))

    def read_stdin(self) -> str:
        return self.stdin.read()
