"""The ``seatbot`` command line: one entry point (``seatbot = "bot.cli:main"``).

Each command group is a module of this package with ``register(app)``; adding one is one line
in :data:`COMMAND_MODULES`. Every command reports the error tree's errors one way
(:func:`bot.cli.errors.exit_for`: one line on stderr, exit status 2 bad input, 1 failure);
:func:`run` turns whatever else goes wrong into one such line, never a traceback; it also sets
up logging, so library warnings (platform retries) are shown with ``--verbose`` and otherwise
summed up in one line.
"""

from __future__ import annotations

import importlib
import logging
import sys
import traceback
from collections.abc import Sequence
from dataclasses import dataclass, field
from importlib.metadata import PackageNotFoundError, version
from typing import Annotated, Any, NoReturn

import typer
from sqlalchemy.exc import SQLAlchemyError

from billing.errors import ConfigurationError
from bot.cli.commands import SeatbotGroup, unwrap_help
from bot.cli.errors import EXIT_BAD_INPUT, EXIT_FAILURE, one_line, say
from bot.runtime.db import describe_database_error
from bot.runtime.logging_setup import SecretRedactor, is_operator_notice
from bot.runtime.settings import database_url_setting

#: The modules that add commands, in the order ``seatbot --help`` lists them.
COMMAND_MODULES: tuple[str, ...] = (
    "bot.cli.demo",
    "bot.cli.dev",
    "bot.cli.slack",
    "bot.cli.database",
    "bot.cli.billing",
    "bot.cli.sandbox",
    "bot.cli.platforms",
    "bot.cli.prorate",
    "bot.cli.check",
    "bot.cli.audit",
    "bot.cli.reports",
    "bot.cli.webhooks",
)

_HELP = """Seatbot: add and remove paid Squaretalk seats from Slack, with exact proration.

Start with `seatbot demo`. Errors are one line on stderr; the exit status is 2 for bad input
and 1 for failures."""


@dataclass
class CliState:
    """Per-run state the root options set: verbosity, the warnings logged meanwhile (summed
    up in one line) and the operator notices (printed whole)."""

    verbose: bool = False
    warnings: list[str] = field(default_factory=list)
    notices: list[str] = field(default_factory=list)


class CliLogHandler(logging.Handler):
    """Library logging for the CLI: every record on stderr with ``--verbose``; otherwise
    warnings are only collected (for one summary line) so they never interleave with output,
    and operator notices (a key file made) are collected to be printed whole at the end."""

    def __init__(self, state: CliState) -> None:
        super().__init__(logging.DEBUG)
        self.state = state
        self.redactor = SecretRedactor()

    def emit(self, record: logging.LogRecord) -> None:
        try:
            message = self.redactor.redact(record.getMessage())
        except (TypeError, ValueError):
            message = str(record.msg)
        if is_operator_notice(record) and not self.state.verbose:
            self.state.notices.append(one_line(message))
        elif self.state.verbose:
            sys.stderr.write(f"seatbot: {record.levelname.lower()}: {record.name}: {message}\n")
        elif record.levelno >= logging.WARNING:
            self.state.warnings.append(one_line(message))


def seatbot_version() -> str:
    """The installed package's version."""
    try:
        return version("seatbot")
    except PackageNotFoundError:  # running from a source tree that was never installed
        return "unknown"


def _show_version(value: bool) -> None:
    if value:
        typer.echo(f"seatbot {seatbot_version()}")
        raise typer.Exit()


def _root(
    ctx: typer.Context,
    verbose: Annotated[
        bool,
        typer.Option("--verbose", "-v", help="Show library log messages (platform retries…)."),
    ] = False,
    show_version: Annotated[
        bool,
        typer.Option(
            "--version", help="Print the version and exit.", callback=_show_version, is_eager=True
        ),
    ] = False,
) -> None:
    if verbose and isinstance(ctx.obj, CliState):
        ctx.obj.verbose = True
        logging.getLogger().setLevel(logging.INFO)


def build_cli() -> typer.Typer:
    """Assemble the ``seatbot`` CLI (no side effects at import time)."""
    app = typer.Typer(
        name="seatbot",
        help=unwrap_help(_HELP),
        no_args_is_help=True,
        add_completion=False,
        pretty_exceptions_enable=False,
        cls=SeatbotGroup,
    )
    app.callback()(_root)
    for module_name in COMMAND_MODULES:
        importlib.import_module(module_name).register(app)
    return app


def run(argv: Sequence[str] | None = None) -> int:
    """Run the CLI on ``argv`` (default: the process's arguments); returns the exit status."""
    state = CliState()
    handler = CliLogHandler(state)
    root_logger = logging.getLogger()
    saved_level = root_logger.level
    root_logger.addHandler(handler)
    root_logger.setLevel(logging.WARNING)
    try:
        status = _invoke(state, list(sys.argv[1:] if argv is None else argv))
    finally:
        root_logger.removeHandler(handler)
        root_logger.setLevel(saved_level)
    if status == 0:  # a failure is its one line; the notices come with a success
        for notice in state.notices:
            say(notice)
    if status == 0 and state.warnings:
        count = len(state.warnings)
        first = state.warnings[0]
        first = first if len(first) <= 100 else first[:99] + "…"
        say(
            f"{count} warning{'s' if count != 1 else ''} while running (first: {first}); "
            "`seatbot --verbose …` shows them"
        )
    return status


def _invoke(state: CliState, args: list[str]) -> int:
    command = typer.main.get_command(build_cli())
    try:
        result = command.main(args=args, prog_name="seatbot", standalone_mode=False, obj=state)
    except typer.Abort:
        say("interrupted")
        return EXIT_FAILURE
    except typer.TyperException as error:
        # Typer's (vendored click's) usage errors: a missing argument, an unknown option.
        return _usage_error(error)
    except SQLAlchemyError as error:
        # A command that did not translate its database errors itself: say it in words all the
        # same, for the database the environment names.
        try:
            url = database_url_setting()
        except ConfigurationError:
            url = ""
        say(describe_database_error(error, url))
        return EXIT_FAILURE
    except Exception as error:
        if state.verbose:
            traceback.print_exception(error)
        say(f"unexpected error ({type(error).__name__}); `seatbot --verbose …` shows the details")
        return EXIT_FAILURE
    return result if isinstance(result, int) else 0


def _usage_error(error: typer.TyperException) -> int:
    ctx: Any = getattr(error, "ctx", None)
    if type(error).__name__ == "NoArgsIsHelpError":
        return 0  # `seatbot db` alone: typer has printed the group's help, the answer to it
    where = ctx.command_path if ctx is not None else "seatbot"
    say(f"{error.format_message().rstrip('.')} (see `{where} --help`)")
    status = getattr(error, "exit_code", EXIT_BAD_INPUT)
    return status if isinstance(status, int) and status > 0 else EXIT_BAD_INPUT


def main() -> NoReturn:
    """Console-script entry point."""
    sys.exit(run())
