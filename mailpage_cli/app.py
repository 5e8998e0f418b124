"""The frame every command runs in: :class:`App` (the run's global options, environment and
output), the global options themselves (before or after the command), and the group that
turns every error into one line on stderr and the SPEC's exit code. ``cli`` declares the
commands on it."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING, Any, NoReturn, TypeVar

import click
from click.core import ParameterSource

from mailpage_cli.environment import Environment
from mailpage_cli.errors import ExitCode, MailpageError, Terminated
from mailpage_cli.output import REPORT_LABELS, Output

if TYPE_CHECKING:
    from mailpage_cli.configure import Profile, Settings

Command = TypeVar("Command", bound=Callable[..., Any])
CONTEXT = {"help_option_names": ["-h", "--help"], "max_content_width": 100}


@dataclass
class App:
    """What every command needs: the global options, the environment, the output."""

    environment: Environment
    profile: str = "default"
    config_flag: str | None = None
    quiet: bool = False
    verbose: bool = False
    debug: bool = False
    no_input: bool = False
    no_color: bool = False
    as_json: bool = False  # set by --json: errors are printed as a JSON object too

    def __post_init__(self) -> None:
        self.profile = self.profile.strip() or "default"
        _setup_logging(self.debug)

    @property
    def env(self) -> Mapping[str, str]:
        return self.environment.env

    @cached_property
    def output(self) -> Output:
        return Output(self.environment, quiet=self.quiet, verbose=self.verbose,
                      color=not self.no_color,
                      interactive=self.environment.stdin_isatty and not self.no_input,
                      profile=self.profile)

    @cached_property
    def config(self) -> Profile:
        """The profile and its config file."""
        from mailpage_cli.configure import Profile  # noqa: PLC0415 - --help loads no settings

        return Profile.find(self.profile, click.get_app_dir("mailpage"), self.config_flag,
                            self.env)

    @cached_property
    def settings(self) -> Settings:
        return self.config.load(self.env)

    def given_again(self, name: str, value: Any) -> None:
        """A global option given after the command too: the later one wins."""
        setattr(self, name, value)
        for made_from_them in ("output", "config", "settings"):
            self.__dict__.pop(made_from_them, None)
        self.__post_init__()


# The global options, declared once: the group takes them before the command, and every
# command (see Commands.add_command) takes them after it too.
GLOBAL_OPTIONS: tuple[tuple[tuple[str, ...], dict[str, Any]], ...] = (
    (("--profile",), {"envvar": "MAILPAGE_PROFILE", "default": "default", "show_default": True,
                      "help": "Settings profile to use."}),
    (("--config", "config_flag"), {
        "metavar": "PATH",
        "help": "Config file (default: $MAILPAGE_CONFIG or the user config dir)."}),
    (("-q", "--quiet"), {"is_flag": True, "help": "Print errors only."}),
    (("-v", "--verbose"), {"is_flag": True, "help": "Say more about each step."}),
    (("--debug",), {"is_flag": True, "envvar": "MAILPAGE_DEBUG",
                    "help": "Log Confluence requests and SMTP steps (no user data);"
                            " tracebacks on errors."}),
    (("--no-input",), {"is_flag": True, "envvar": "MAILPAGE_NO_INPUT",
                       "help": "Never prompt; fail instead."}),
    (("--no-color",), {"is_flag": True, "help": "No colours (also: NO_COLOR)."}),
)
GLOBALS_AFTER = "The global options (see `mailpage --help`) may come after the command too."


def global_options(command: Command) -> Command:
    """The global options, as the group takes them (before the command)."""
    for declarations, settings in reversed(GLOBAL_OPTIONS):
        command = click.option(*declarations, **settings)(command)
    return command


def _given_after(ctx: click.Context, param: click.Parameter, value: Any) -> None:
    app = ctx.find_object(App)
    if app and param.name and ctx.get_parameter_source(param.name) is ParameterSource.COMMANDLINE:
        app.given_again(param.name, value)


class Commands(click.Group):
    """A group whose every command takes the global options after its name too, as gh and
    kubectl do: ``mailpage config forget smtp --profile work``. There they are hidden from the
    command's help, and have no environment variable or default of their own: given, they
    win over the same option before the command (the later one wins); not given, they
    change nothing."""

    def add_command(self, cmd: click.Command, name: str | None = None) -> None:
        taken = {opt for param in cmd.params for opt in getattr(param, "opts", ())}
        for declarations, settings in GLOBAL_OPTIONS:
            if taken & set(declarations):
                raise TypeError(f"{cmd.name} declares the global option {declarations[0]}")
            cmd.params.append(click.Option(
                declarations, is_flag=settings.get("is_flag", False),
                metavar=settings.get("metavar"), hidden=True, expose_value=False,
                callback=_given_after))
        cmd.epilog = f"{cmd.epilog}\n\n{GLOBALS_AFTER}" if cmd.epilog else GLOBALS_AFTER
        super().add_command(cmd, name)

    def resolve_command(self, ctx: click.Context,
                        args: list[str]) -> tuple[str | None, click.Command | None, list[str]]:
        # What the command is given, to tell whether a usage error should come as JSON.
        ctx.meta["mailpage.command_args"] = args[1:]
        return super().resolve_command(ctx, args)


class MailpageGroup(Commands):
    """Turns every exception into one line on stderr and the SPEC's exit code, click's usage
    errors included."""

    group_class = Commands  # `config`

    def make_context(self, info_name: str | None, args: list[str],
                     parent: click.Context | None = None, **extra: Any) -> click.Context:
        try:
            return super().make_context(info_name, args, parent, **extra)
        except click.UsageError as exc:  # before the command: `mailpage --frobnicate`
            if exc.ctx is None:
                raise
            self._usage_error(exc.ctx, exc)

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except click.UsageError as exc:
            self._usage_error(ctx, exc)
        except (click.exceptions.ClickException, click.exceptions.Exit, click.Abort):
            raise
        except MailpageError as exc:
            self._fail(ctx, str(exc), exc.exit_code, exc.report, exc.reason)
        except KeyboardInterrupt as exc:
            signalled = isinstance(exc, Terminated)
            self._fail(ctx, "Stopped by SIGTERM" if signalled else "Interrupted",
                       ExitCode.TERMINATED if signalled else ExitCode.INTERRUPTED)
        except BrokenPipeError:
            # The reader of stdout left (`mailpage config show | head`): stop quietly, as a
            # Unix tool killed by SIGPIPE would, without a second error when Python flushes.
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            ctx.exit(128 + 13)
        except Exception as exc:  # noqa: BLE001 - the last resort: a bug, said as such
            self._fail(
                ctx,
                f"Unexpected {type(exc).__name__}; this is a bug in mailpage."
                " Run again with --debug and report the traceback",
                ExitCode.UNEXPECTED,
            )

    @classmethod
    def _usage_error(cls, ctx: click.Context, exc: click.UsageError) -> NoReturn:
        """A group without its command shows its help (exit 0, as gh does); any other usage
        error is one line that points at the help of the command it is about, exit 2."""
        where = exc.ctx or ctx
        if isinstance(exc, click.exceptions.NoArgsIsHelpError):
            click.echo(where.get_help(), color=where.color)
            ctx.exit(ExitCode.OK)
        message = " ".join(exc.format_message().split())
        if not message.endswith((".", "?", "!")):
            message += "."
        names = []
        while where.parent is not None:
            names.append(where.info_name or "")
            where = where.parent
        # A parse error comes before --json's callback: look for the flag itself.
        given = ctx.meta.get("mailpage.command_args", ())
        as_json = "--json" in given and any(p.name == "as_json"
                                            for p in (exc.ctx or ctx).command.params)
        command = " ".join(["mailpage", *reversed(names)])
        cls._fail(ctx, f"{message} See `{command} --help`.", ExitCode.USAGE,
                  as_json=as_json, trace=False)

    @staticmethod
    def _fail(ctx: click.Context, text: str, code: int,
              report: Mapping[str, tuple[str, ...]] | None = None,
              reason: str | None = None, *, as_json: bool = False,
              trace: bool = True) -> NoReturn:
        """The error line, who has the message if it went part-way, and with ``--json`` the
        same as an object on stdout: a CI artifact is never empty."""
        app = ctx.find_object(App)
        if app and app.debug and trace:
            import traceback  # noqa: PLC0415 - only for a --debug error

            traceback.print_exc()
        if app:
            output = app.output
            text = output.fixes(text)  # the JSON error says the same as the line
        else:  # the group's own options were wrong: no App yet
            given = ctx.find_object(Environment)
            output = Output(given or read_environment())
        output.error(text)
        for key, addresses in (report or {}).items():
            if addresses:
                output.error(f"{REPORT_LABELS[key]}: {', '.join(addresses)}")
        if as_json or (app and app.as_json):
            output.json({"status": "error", "exit": int(code), "error": text,
                         **({"reason": reason} if reason else {}),
                         **{key: list(addresses) for key, addresses in (report or {}).items()}})
        ctx.exit(code)


def _remember_json(ctx: click.Context, _param: click.Parameter, value: bool) -> bool:
    """Errors come as JSON too once ``--json`` is given."""
    app = ctx.find_object(App)
    if app and value:
        app.as_json = True
    return value


def json_option(help_text: str) -> Callable[[Command], Command]:
    return click.option("--json", "as_json", is_flag=True, callback=_remember_json,
                        help=help_text)


def _setup_logging(debug: bool) -> None:
    """With --debug our loggers write one line per step to this run's stderr; without it,
    nothing (and logging is not even imported unless a part already did)."""
    if not debug and "logging" not in sys.modules:
        return
    import logging  # noqa: PLC0415 - start-up time: --help logs nothing

    ours = logging.getLogger("mailpage_cli")
    ours.handlers = [h for h in ours.handlers if h.get_name() != "mailpage-debug"]
    ours.setLevel(logging.DEBUG if debug else logging.WARNING)
    if debug:
        handler = logging.StreamHandler(sys.stderr)
        handler.set_name("mailpage-debug")
        handler.setFormatter(logging.Formatter("debug: %(message)s"))
        ours.addHandler(handler)


def read_environment() -> Environment:
    """This process's environment, read once per run."""
    return Environment(env=dict(os.environ), stdin=sys.stdin, stdin_isatty=sys.stdin.isatty(),
                       stdout_isatty=sys.stdout.isatty())
