"""Results on stdout, conversation (progress, warnings, errors) on stderr.

Results are plain lines (or JSON through ``json.dumps``): data for scripts, never wrapped,
styled or tab-expanded by rich. The conversation goes through a rich console built per
invocation from the run's :class:`~mailpage_cli.models.Environment`, never at import (rich
reads ``NO_COLOR`` and the terminal when a console is made), with markup and emoji codes off,
so "Release [beta] :warning:" stays text (prompts and spinners too: they get a ``Text``), and
without control characters, so that a page's text cannot drive the terminal.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from rich.console import Console
from rich.text import Text

if TYPE_CHECKING:
    from mailpage_cli.models import Environment, SendResult

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
        self, environment: Environment, *, quiet: bool = False, verbose: bool = False,
        color: bool = True, interactive: bool = False,
    ) -> None:
        self.environment = environment
        self.quiet = quiet
        self.verbose = verbose and not quiet
        self.interactive = interactive
        # NO_COLOR (no-color.org) or --no-color: no escape codes at all, bold included.
        plain = not color or environment.no_color
        options: dict[str, Any] = {"highlight": False, "emoji": False, "markup": False,
                                   "soft_wrap": True}
        if plain:
            options["color_system"] = None
        # _environ: rich's seam for the variables it reads (TERM, COLUMNS, FORCE_COLOR), so
        # that the console sees the run's environment, not the process's.
        self.err = Console(stderr=True, _environ=environment.env, **options)

    def result(self, text: str) -> None:
        sys.stdout.write(text + "\n")
        sys.stdout.flush()

    def json(self, data: Any) -> None:
        """Indented for a person at a terminal; one line for a log or a pipe (JSON Lines)."""
        import json  # noqa: PLC0415 - start-up time

        indent = 2 if self.environment.stdout_isatty else None
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
            with self.err.status(Text(printable(f"{name}…"))):
                yield
        self.info(f"✓ {name}")

    def confirm(self, question: str) -> bool:
        if not self.interactive:
            return False
        from rich.prompt import Confirm  # noqa: PLC0415 - start-up time

        try:
            return Confirm.ask(Text(printable(question)), console=self.err, default=False)
        except EOFError:  # Ctrl-D: no answer is "no"
            self.err.print()
            return False
        except KeyboardInterrupt:  # Ctrl-C: end the prompt's line before the error
            self.err.print()
            raise

    @property
    def prompt(self) -> Callable[[str], str] | None:
        """A hidden prompt for a secret, or ``None`` off a TTY / with ``--no-input``."""
        if not self.interactive:
            return None

        def ask(label: str) -> str:
            from rich.prompt import Prompt  # noqa: PLC0415 - start-up time

            try:
                return Prompt.ask(Text(printable(label)), console=self.err, password=True)
            except EOFError:  # Ctrl-D: no secret given
                self.err.print()
                return ""
            except KeyboardInterrupt:  # Ctrl-C: end the prompt's line before the error
                self.err.print()
                raise

        return ask

    def new_secret(self, label: str) -> str | None:
        """A secret to store, typed twice at a hidden prompt (``""``: none typed), or ``None``
        off a TTY / with ``--no-input``."""
        if (ask := self.prompt) is None:
            return None
        while first := ask(label):
            again = ask(f"{label} (again)")
            if again == first or not again:
                return again
            self.error("the two entries differ; type it again")
        return ""


# How a send that went part-way names who has the message, on stderr.
REPORT_LABELS = {
    "delivered": "delivered",
    "unknown": "may have it (sent, but the server's answer never came)",
    "not_sent": "not sent",
}


def send_summary(result: SendResult, save: str | None) -> str:
    """The line that ends a send or a digest: what happened, to how many, how big."""
    from mailpage_cli.message import human_size  # noqa: PLC0415 - loaded by send already

    count = len(result.recipients.all)
    what = (f"{human_size(result.size)}, {result.images} image(s), "
            f"{result.attachments} attachment(s)")
    if result.messages > 1:
        what = f"one message each, {what}"
    title = result.page.title
    if result.status == "unchanged":
        return (f"Unchanged: {title!r} version {result.page.version or '(this content)'} was"
                f" already sent to these {count} recipient(s); nothing sent.")
    if result.status == "empty":
        return "The search found nothing; nothing sent."
    where = "stdout" if save == "-" else save
    if result.status == "dry-run":
        kept = f"; the message it would send is written to {where}" if save else ""
        return (f"Dry run: {title!r} would go to {count} recipient(s) ({what}); nothing"
                f" sent{kept}.")
    if result.status == "saved":
        return f"Saved {title!r} for {count} recipient(s) to {where} ({what}); nothing sent."
    if result.status == "refused":
        return f"Not sent: none of the {count} recipient(s) of {title!r} got it (see above)."
    maybe = f"; {len(result.unknown)} may have it" if result.unknown else ""
    return f"Sent {title!r} to {len(result.delivered)} of {count} recipient(s) ({what}){maybe}."


def send_report(result: SendResult) -> dict[str, Any]:
    """The ``--json`` object of SPEC "Output", plus who got it (``delivered``), who may have
    it (``unknown``: the server's reply was lost) and who was not tried (``not_sent``)."""
    page = result.page
    return {
        "status": result.status,
        "page": {"id": page.id, "title": page.title, "version": page.version, "url": page.url},
        "recipients": {
            kind: [r.address for r in getattr(result.recipients, kind)]
            for kind in ("to", "cc", "bcc")
        },
        "refused": dict(result.refused),
        "delivered": list(result.delivered),
        "unknown": list(result.unknown),
        "not_sent": list(result.not_sent),
        "message": {
            "id": result.message_id or None,
            "bytes": result.size,
            "images": result.images,
            "attachments": result.attachments,
        },
        "warnings": list(result.warnings),
    }
