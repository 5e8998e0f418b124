"""Results on stdout, conversation (progress, warnings, errors) on stderr.

Results are plain lines (or JSON through ``json.dumps``): data for scripts, never wrapped,
styled or tab-expanded by rich. The conversation goes through a rich console built per
invocation, never at import (rich reads ``NO_COLOR`` and the terminal when a console is made),
with markup and emoji codes off, so "Release [beta] :warning:" stays text, and without
control characters, so that a page's text cannot drive the terminal.
"""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from rich.console import Console

# C0 but tab and newline, DEL, C1, bidi controls. Page titles, file names and server replies
# reach the conversation; rich strips BEL, BS, VT, FF and CR but not ESC, so an OSC sequence
# in an image's URL would retitle the terminal or write the clipboard.
_UNPRINTABLE = re.compile(
    r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]+")


def printable(text: str) -> str:
    """``text`` without the characters that could act on a terminal instead of showing."""
    return _UNPRINTABLE.sub("", text)


class Output:
    """What one run prints, and how it asks (only where someone can answer)."""

    def __init__(
        self, *, quiet: bool = False, verbose: bool = False, color: bool = True,
        interactive: bool = False,
    ) -> None:
        self.quiet = quiet
        self.verbose = verbose and not quiet
        self.interactive = interactive
        # NO_COLOR (no-color.org) or --no-color: no escape codes at all, bold included.
        plain = not color or bool(os.environ.get("NO_COLOR"))
        options: dict[str, Any] = {"highlight": False, "emoji": False, "soft_wrap": True}
        if plain:
            options["color_system"] = None
        self.err = Console(stderr=True, **options)

    def result(self, text: str) -> None:
        sys.stdout.write(text + "\n")
        sys.stdout.flush()

    def json(self, data: Any) -> None:
        """Indented for a person at a terminal; one line for a log or a pipe (JSON Lines)."""
        import json  # noqa: PLC0415 - start-up time

        indent = 2 if sys.stdout.isatty() else None
        sys.stdout.write(json.dumps(data, indent=indent, ensure_ascii=False) + "\n")
        sys.stdout.flush()

    def raw(self, data: bytes) -> None:
        sys.stdout.buffer.write(data)
        sys.stdout.buffer.flush()

    def summary(self, text: str) -> None:
        if not self.quiet:
            self.err.print(printable(text), markup=False)

    def info(self, text: str) -> None:
        if self.verbose:
            self.err.print(printable(text), markup=False, style="dim")

    def warn(self, text: str) -> None:
        if not self.quiet:
            self.err.print(f"warning: {printable(text)}", markup=False, style="yellow")

    def tell(self, text: str) -> None:
        self.err.print(printable(text), markup=False, style="bold")

    def error(self, text: str) -> None:
        self.err.print(f"error: {printable(text)}", markup=False, style="bold red")

    @contextmanager
    def step(self, name: str) -> Iterator[None]:
        """A spinner naming the stage, on a terminal only."""
        if self.quiet or not self.err.is_terminal:
            yield
        else:
            with self.err.status(f"{name}…"):
                yield
        self.info(f"✓ {name}")

    def confirm(self, question: str) -> bool:
        if not self.interactive:
            return False
        from rich.prompt import Confirm  # noqa: PLC0415 - start-up time

        try:
            return Confirm.ask(printable(question), console=self.err, default=False)
        except EOFError:  # Ctrl-D: no answer is "no"
            self.err.print()
            return False

    @property
    def prompt(self) -> Any:
        """A hidden prompt for a secret, or ``None`` off a TTY / with ``--no-input``."""
        if not self.interactive:
            return None

        def ask(label: str) -> str:
            from rich.prompt import Prompt  # noqa: PLC0415 - start-up time

            try:
                return Prompt.ask(label, console=self.err, password=True)
            except EOFError:  # Ctrl-D: no secret given
                self.err.print()
                return ""

        return ask
