"""The two consoles: results on stdout, conversation (progress, warnings, errors) on stderr.

Built per invocation, never at import: rich reads ``NO_COLOR`` and the terminal when a console
is made. User text is printed with markup off, so "Release [beta]" stays text. JSON goes out
through ``json.dumps``, never through rich, which would wrap it.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from rich.console import Console
from rich.prompt import Confirm, Prompt


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
        options: dict[str, Any] = {"highlight": False, "soft_wrap": True}
        if plain:
            options["color_system"] = None
        self.out = Console(**options)
        self.err = Console(stderr=True, **options)

    def result(self, text: str) -> None:
        self.out.print(text, markup=False)

    def json(self, data: Any) -> None:
        sys.stdout.write(json.dumps(data, indent=2, ensure_ascii=False) + "\n")
        sys.stdout.flush()

    def raw(self, data: bytes) -> None:
        sys.stdout.buffer.write(data)
        sys.stdout.buffer.flush()

    def summary(self, text: str) -> None:
        if not self.quiet:
            self.err.print(text, markup=False)

    def info(self, text: str) -> None:
        if self.verbose:
            self.err.print(text, markup=False, style="dim")

    def warn(self, text: str) -> None:
        if not self.quiet:
            self.err.print(f"warning: {text}", markup=False, style="yellow")

    def error(self, text: str) -> None:
        self.err.print(f"error: {text}", markup=False, style="bold red")

    @contextmanager
    def step(self, name: str) -> Iterator[None]:
        """A spinner naming the stage, on a terminal only."""
        if self.quiet or not self.err.is_terminal:
            yield
            return
        with self.err.status(f"{name}…"):
            yield
        self.info(f"✓ {name}")

    def confirm(self, question: str) -> bool:
        if not self.interactive:
            return False
        return Confirm.ask(question, console=self.err, default=False)

    @property
    def prompt(self) -> Any:
        """A hidden prompt for a secret, or ``None`` off a TTY / with ``--no-input``."""
        if not self.interactive:
            return None

        def ask(label: str) -> str:
            return Prompt.ask(label, console=self.err, password=True)

        return ask
