"""The ``seatbot`` command line: one entry point (``seatbot = "bot.cli:main"``).

Each command group is a module of this package with ``register(app)``; adding one is a line
per command in :data:`COMMANDS`. Every command reports the error tree's errors one way
(:func:`bot.cli.errors.exit_for`: one line on stderr, exit status 2 bad input, 1 failure);
:func:`run` turns whatever else goes wrong into one such line, never a traceback; it also sets
up logging, so library warnings (platform retries) are shown with ``--verbose`` and otherwise
summed up in one line.

Start-up is per command: the CLI imports a command's module only when that command is asked
for (``seatbot --help`` asks for all), and a command module imports only typer and billing's
pure vocabulary at the top; each command imports what it needs (the database, the platforms,
Slack, the web server) when it runs. ``seatbot --version`` and ``seatbot prorate``
never load SQLAlchemy, Alembic, Slack's libraries, uvicorn, httpx, openpyxl or matplotlib
(``tests/bot/cli/test_cli_startup.py`` holds it).
"""

from __future__ import annotations

import importlib
import logging
import sys
import traceback
from collections.abc import Iterator, Mapping, MutableMapping, Sequence
from dataclasses import dataclass, field
from importlib.metadata import PackageNotFoundError, version
from typing import TYPE_CHECKING, Annotated, Any, NoReturn, TypeGuard

import typer

from billing.errors import ConfigurationError
from bot.cli.commands import SeatbotGroup, unwrap_help
from bot.cli.errors import EXIT_BAD_INPUT, EXIT_FAILURE, one_line, say

if TYPE_CHECKING:
    from sqlalchemy.exc import SQLAlchemyError

    from bot.runtime.logging_setup import SecretRedactor

#: Each command and command group, in the order ``seatbot --help`` lists them → the module
#: whose ``register(app)`` adds it (imported when the command is first asked for).
COMMANDS: Mapping[str, str] = {
    "demo": "bot.cli.demo",
    "dev": "bot.cli.dev",
    "serve": "bot.cli.slack",
    "load": "bot.cli.database",
    "accounts": "bot.cli.billing",
    "quote": "bot.cli.billing",
    "ledger": "bot.cli.billing",
    "forecast": "bot.cli.forecast",
    "sandbox": "bot.cli.sandbox",
    "prorate": "bot.cli.prorate",
    "check": "bot.cli.check",
    "audit": "bot.cli.audit",
    "reconcile": "bot.cli.reports",
    "digest": "bot.cli.reports",
    "tokens": "bot.cli.slack",
    "db": "bot.cli.database",
    "users": "bot.cli.platforms",
    "webhooks": "bot.cli.webhooks",
}

#: The modules that add commands, each once.
COMMAND_MODULES: tuple[str, ...] = tuple(dict.fromkeys(COMMANDS.values()))

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
        self._redactor: SecretRedactor | None = None

    @property
    def redactor(self) -> SecretRedactor:
        """The redactor, made at the first record (most commands log nothing)."""
        if self._redactor is None:
            from bot.runtime.logging_setup import SecretRedactor

            self._redactor = SecretRedactor()
        return self._redactor

    def emit(self, record: logging.LogRecord) -> None:
        try:
            message = self.redactor.redact(record.getMessage())
        except (TypeError, ValueError):
            message = str(record.msg)
        from bot.runtime.logging_setup import is_operator_notice

        if is_operator_notice(record) and not self.state.verbose:
            self.state.notices.append(one_line(message))
        elif self.state.verbose:
            sys.stderr.write(f"seatbot: {record.levelname.lower()}: {record.name}: {message}\n")
        elif record.levelno >= logging.WARNING:
            self.state.warnings.append(one_line(message))


def hand_over_logging() -> None:
    """For a command that sets up its own logging and runs until stopped (``serve``): the CLI's
    handler leaves the root logger, so that no record is redacted twice or printed twice, and
    a server's warnings do not pile up in memory for a summary line that never comes."""
    root = logging.getLogger()
    for handler in [h for h in root.handlers if isinstance(h, CliLogHandler)]:
        root.removeHandler(handler)


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


def _as_a_group() -> None:
    """A callback, so that typer makes a group even of a module that adds one command."""


def module_commands(module_name: str) -> dict[str, Any]:
    """The commands (click's) that ``module_name``'s ``register(app)`` adds, by name."""
    app = typer.Typer()
    app.callback()(_as_a_group)
    importlib.import_module(module_name).register(app)
    group: Any = typer.main.get_command(app)
    return dict(group.commands)


class CommandsOnDemand(MutableMapping[str, Any]):
    """The root's commands by name (:data:`COMMANDS`); looking one up imports its module and
    registers that module's commands. Listing the names imports nothing."""

    def __init__(self, modules: Mapping[str, str]) -> None:
        self.modules = modules
        self.loaded: dict[str, Any] = {}

    def __getitem__(self, name: str) -> Any:
        if name not in self.loaded and name in self.modules:
            self.loaded.update(module_commands(self.modules[name]))
        return self.loaded[name]

    def __setitem__(self, name: str, command: Any) -> None:
        self.loaded[name] = command

    def __delitem__(self, name: str) -> None:
        del self.loaded[name]

    def __contains__(self, name: object) -> bool:
        return name in self.modules or name in self.loaded

    def __iter__(self) -> Iterator[str]:
        return iter(dict.fromkeys([*self.modules, *self.loaded]))

    def __len__(self) -> int:
        return len(set(self.modules) | set(self.loaded))


class RootGroup(SeatbotGroup):
    """The ``seatbot`` group: its commands come from :class:`CommandsOnDemand`."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.commands = CommandsOnDemand(COMMANDS)

    # ctx is typed Any: typer vendors click, and its Context class is private to typer.
    def list_commands(self, ctx: Any) -> list[str]:
        return list(self.commands)


def build_cli() -> typer.Typer:
    """Assemble the ``seatbot`` CLI (no side effects at import time)."""
    app = typer.Typer(
        name="seatbot",
        help=unwrap_help(_HELP),
        no_args_is_help=True,
        add_completion=False,
        pretty_exceptions_enable=False,
        cls=RootGroup,
    )
    app.callback()(_root)
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
        say(warnings_summary(state.warnings))
    return status


def warnings_summary(warnings: Sequence[str]) -> str:
    """One line for the library warnings a successful command met: how many, and the first
    (cut at a word past 100 characters)."""
    count, first = len(warnings), warnings[0]
    first = first if len(first) <= 100 else first[:100].rsplit(" ", 1)[0] + " …"
    return (
        f"{count} warning{'s' if count != 1 else ''} while running (first: {first}); "
        "`seatbot --verbose …` shows them"
    )


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
    except Exception as error:
        if _is_database_error(error):
            say(_database_error_message(error))
            return EXIT_FAILURE
        if state.verbose:
            traceback.print_exception(error)
        say(f"unexpected error ({type(error).__name__}); `seatbot --verbose …` shows the details")
        return EXIT_FAILURE
    return result if isinstance(result, int) else 0


def _is_database_error(error: Exception) -> TypeGuard[SQLAlchemyError]:
    # SQLAlchemy is loaded only by the commands that use a database; none other raises its errors.
    exc = sys.modules.get("sqlalchemy.exc")
    return exc is not None and isinstance(error, exc.SQLAlchemyError)


def _database_error_message(error: SQLAlchemyError) -> str:
    """A command that did not translate its database errors itself: say it in words all the
    same, for the database the environment names."""
    from bot.runtime.db import describe_database_error
    from bot.runtime.settings import database_url_setting

    try:
        url = database_url_setting()
    except ConfigurationError:
        url = ""
    return describe_database_error(error, url)


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
