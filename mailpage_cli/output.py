"""Results on stdout, conversation (progress, warnings, errors) on stderr.

Results are plain lines (or JSON through ``json.dumps``): data for scripts, never wrapped,
styled or tab-expanded by rich. The conversation goes through a rich console built per
invocation from the run's :class:`~mailpage_cli.environment.Environment`, never at import (rich
reads ``NO_COLOR`` and the terminal when a console is made), with markup and emoji codes off,
so "Release [beta] :warning:" stays text (prompts and spinners too: they get a ``Text``), and
without control characters, so that a page's text cannot drive the terminal.
"""

from __future__ import annotations

import re
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, Literal, TypeVar

from rich.console import Console
from rich.text import Text

from mailpage_cli.wording import count, human_size

if TYPE_CHECKING:
    from mailpage_cli.environment import Environment
    from mailpage_cli.models import SendResult

T = TypeVar("T")

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
        color: bool = True, interactive: bool = False, profile: str = "default",
    ) -> None:
        self.environment = environment
        self.profile = profile
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
        # Results go out plain (data for scripts); only on a colour terminal does this
        # console mark them, as gh does.
        self.out = Console(force_terminal=environment.stdout_isatty or None,
                           _environ=environment.env, **options)

    def fixes(self, text: str) -> str:
        """``text`` with its fix commands as they must be typed for this run's profile: a
        bare ``mailpage config …`` would change the default profile."""
        if self.profile == "default":
            return text
        import shlex  # noqa: PLC0415 - only another profile's hints need it

        return text.replace("`mailpage config ",
                            f"`mailpage --profile {shlex.quote(self.profile)} config ")

    def _said(self, text: str) -> str:
        """What the person reads of ``text``: its fixes for this profile, nothing that could
        act on the terminal."""
        return printable(self.fixes(text))

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

    def summary(self, text: str, mark: Mark | None = None) -> None:
        """The line that ends a command; on a colour terminal, ``mark`` says how it went."""
        if not self.quiet:
            self.err.print(_marked(self.err, mark, Text(self._said(text))))

    def check(self, name: str, ok: bool, detail: str) -> None:
        """One result of ``config check``: "name: ok - detail" or "name: FAILED - detail",
        marked ✓ / ✗ on a colour terminal."""
        word = "ok" if ok else "FAILED"
        detail = self.fixes(detail)
        if not _colours(self.out):
            self.result(f"{name}: {word} - {detail}")
            return
        mark: Mark = "done" if ok else "failed"
        line = Text.assemble(printable(name), ": ", (word, MARKS[mark][1]), " - ",
                             printable(detail))
        self.out.print(_marked(self.out, mark, line))

    def info(self, text: str) -> None:
        if self.verbose:
            self.err.print(printable(text), markup=False, style="dim")

    def warn(self, text: str) -> None:
        if not self.quiet:
            self.err.print(f"warning: {self._said(text)}", markup=False, style="yellow")

    def tell(self, text: str) -> None:
        self.err.print(self._said(text), markup=False, style="bold")

    def error(self, text: str) -> None:
        self.err.print(f"error: {self._said(text)}", markup=False, style="bold red")

    @contextmanager
    def step(self, name: str, total: int = 0) -> Iterator[Callable[[], None]]:
        """A spinner naming the stage, on a terminal only. With a ``total``, it counts ("download
        images 3/40"): the stage calls what this yields as each of its items is done, from
        any thread."""
        if self.quiet or not self.err.is_terminal:
            yield lambda: None
        else:
            from rich.live import Live  # noqa: PLC0415 - start-up time
            from rich.spinner import Spinner  # noqa: PLC0415

            label = printable(name)
            spinner = Spinner("dots", Text(f"{label} 0/{total}…" if total else f"{label}…"),
                              style="status.spinner")
            done, lock = 0, threading.Lock()
            with Live(spinner, console=self.err, transient=True,
                      refresh_per_second=12.5) as live:

                def advance() -> None:
                    nonlocal done
                    with lock:  # the count and the line that shows it move together
                        done += 1
                        if total:
                            spinner.update(text=Text(f"{label} {done}/{total}…"))
                            live.refresh()

                yield advance
        self.info(f"✓ {name}")

    def _answer(self, ask: Callable[[], T], *, on_eof: T) -> T:
        """A prompt's answer; Ctrl-D gives ``on_eof``, and either key ends the prompt's line
        first, so that what follows (Ctrl-C's error) starts a line of its own."""
        try:
            return ask()
        except EOFError:
            self.err.print()
            return on_eof
        except KeyboardInterrupt:
            self.err.print()
            raise

    def confirm(self, question: str, *, default: bool = False) -> bool:
        """Yes or no (Enter: ``default``; Ctrl-D: no); ``False`` where nobody can answer."""
        if not self.interactive:
            return False
        from rich.prompt import Confirm  # noqa: PLC0415 - start-up time

        label = Text(printable(question))
        return self._answer(lambda: Confirm.ask(label, console=self.err, default=default),
                            on_eof=False)

    def ask(self, question: str, default: str = "") -> str | None:
        """A line typed at a plain prompt (``default`` on Enter), or ``None`` on Ctrl-D, off
        a TTY and with ``--no-input``."""
        if not self.interactive:
            return None
        from rich.prompt import Prompt  # noqa: PLC0415 - start-up time

        label = Text(printable(question))
        answer = self._answer(lambda: Prompt.ask(label, console=self.err, show_default=bool(
            default), default=printable(default)), on_eof=None)
        return answer.strip() if answer is not None else None

    @property
    def prompt(self) -> Callable[[str], str] | None:
        """A hidden prompt for a secret (Ctrl-D: ``""``, none given), or ``None`` off a TTY /
        with ``--no-input``."""
        if not self.interactive:
            return None

        def ask(label: str) -> str:
            from rich.prompt import Prompt  # noqa: PLC0415 - start-up time

            return self._answer(lambda: Prompt.ask(Text(printable(label)), console=self.err,
                                                   password=True), on_eof="")

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


Mark = Literal["done", "failed", "partial"]
# The sign before a line on a colour terminal, and its colour: as gh does.
MARKS: dict[Mark, tuple[str, str]] = {
    "done": ("✓", "green"), "failed": ("✗", "red"), "partial": ("!", "yellow"),
}


def _colours(console: Console) -> bool:
    return console.is_terminal and console.color_system is not None


def _marked(console: Console, mark: Mark | None, text: Text) -> Text:
    if mark is None or not _colours(console):
        return text
    sign, style = MARKS[mark]
    return Text.assemble((sign, style), " ", text)


# How a send that went part-way names who has the message, on stderr.
REPORT_LABELS = {
    "delivered": "delivered",
    "unknown": "may have it (sent, but the server's answer never came)",
    "not_sent": "not sent",
}


def send_summary(result: SendResult, save: str | None) -> str:
    """The line that ends a send or a digest: what happened, to how many, how big."""

    everyone = result.recipients.all
    recipients = count(len(everyone), "recipient")
    what = (f"{human_size(result.size)}, {count(result.images, 'image')}, "
            f"{count(result.attachments, 'attachment')}")
    if result.messages > 1:
        what = f"one message each, {what}"
    title = result.page.title
    if result.status == "unchanged":
        who = everyone[0].address if len(everyone) == 1 else f"all {recipients}"
        return (f"Unchanged: {title!r} version {result.page.version or '(this content)'} was"
                f" already sent to {who}; nothing sent.")
    if result.status == "empty":
        return "The search found nothing; nothing sent."
    where = "stdout" if save == "-" else save
    if result.status == "dry-run":
        kept = f"; the message it would send is written to {where}" if save else ""
        return (f"Dry run: {title!r} would go to {recipients} ({what}); nothing"
                f" sent{kept}.")
    if result.status == "saved":
        return f"Saved {title!r} for {recipients} to {where} ({what}); nothing sent."
    if result.status == "refused":
        nobody = (f"{everyone[0].address} did not get {title!r}" if len(everyone) == 1
                  else f"none of the {recipients} of {title!r} got it")
        return f"Not sent: {nobody} (see above)."
    maybe = f"; {len(result.unknown)} may have it" if result.unknown else ""
    return f"Sent {title!r} to {len(result.delivered)} of {recipients} ({what}){maybe}."


_SEND_MARKS: dict[str, Mark] = {"sent": "done", "saved": "done", "partial": "partial",
                                "refused": "failed"}


def send_mark(result: SendResult) -> Mark | None:
    """How the summary of a send is marked: done, failed, part-way; a dry run or a page
    already sent did nothing to mark."""
    return _SEND_MARKS.get(result.status)


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
