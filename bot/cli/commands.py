"""Registering commands on the ``seatbot`` CLI the same way everywhere.

:func:`add_command` and :func:`new_group` give every command ``--help`` built from its docstring
with the author's line breaks removed (paragraphs kept), so the terminal wraps help at its own
width instead of breaking sentences in the middle, and a parser that lets a negative number
reach the command's own validation (``seatbot quote acme axiom -3`` → "SEATS: must be …",
not "No such option: -3"); and every command reports the error tree's errors the CLI's one way.
"""

from __future__ import annotations

import contextlib
import inspect
import re
import signal
import sys
from collections.abc import Callable, Iterator
from typing import Any

import typer
from typer.core import TyperArgument, TyperCommand, TyperGroup, TyperOption

from billing.errors import UserFacingError
from bot.cli.errors import exit_for
from bot.cli.output import output_trouble

_NEGATIVE_NUMBER = re.compile(r"-[0-9][0-9_.,]*")


def unwrap_help(text: str | None) -> str:
    """A docstring as help text: each paragraph on one line, paragraphs apart."""
    cleaned = inspect.cleandoc(text or "")
    paragraphs = [" ".join(block.split()) for block in re.split(r"\n\s*\n", cleaned)]
    return "\n\n".join(paragraph for paragraph in paragraphs if paragraph)


def _takes_value(command: TyperCommand, token: str) -> bool:
    """Whether ``token`` names an option of ``command`` that consumes the next argument."""
    for param in command.params:
        if isinstance(param, TyperOption) and token in (*param.opts, *param.secondary_opts):
            return not param.is_flag and not param.count
    return False


def negative_numbers_as_arguments(command: TyperCommand, args: list[str]) -> list[str]:
    """``args`` reordered so that a negative number given as a positional argument stays an
    argument: options (with their values) first, then ``--``, then the positional arguments in
    their order. Unchanged when no such number is present."""
    options: list[str] = []
    positionals: list[str] = []
    found = False
    words = iter(args)
    for word in words:
        if word == "--":
            positionals.extend(words)
            break
        if _NEGATIVE_NUMBER.fullmatch(word):
            found = True
            positionals.append(word)
        elif word.startswith("-") and len(word) > 1:
            options.append(word)
            if "=" not in word and _takes_value(command, word):
                value = next(words, None)
                if value is not None:
                    options.append(value)
        else:
            positionals.append(word)
    if not found:
        return args
    return [*options, "--", *positionals]


def tidy_params(params: list[Any]) -> list[Any]:
    """``params`` as every help screen shows them: a flag as a flag (``--json``, not typer's
    ``--json <bool>``), an argument by one upper-case name (``ACCOUNT``, ``PRODUCT``, ``FILE``),
    an option's value by its flag's (``--latency-ms LATENCY_MS``, not ``<int>``)."""
    for param in params:
        if isinstance(param, TyperOption) and (param.is_flag or param.count):
            param.metavar = ""
        elif isinstance(param, TyperArgument) and param.metavar is None:
            param.metavar = (param.name or "").upper()
        elif param.metavar is None:  # an option's value, named after its flag
            param.metavar = max(param.opts, key=len).lstrip("-").replace("-", "_").upper()
    return params


def _plain_usage(pieces: list[str]) -> list[str]:
    # Typer writes a required argument as {ACCOUNT}; the README and every message write ACCOUNT.
    return [
        piece[1:-1] if piece.startswith("{") and piece.endswith("}") else piece for piece in pieces
    ]


class SeatbotGroup(TyperGroup):
    """A typer group whose help shows flags and arguments as :func:`tidy_params` says."""

    # ctx is typed Any: typer vendors click, and its Context class is private to typer.
    def get_params(self, ctx: Any) -> list[Any]:
        return tidy_params(super().get_params(ctx))


class SeatbotCommand(TyperCommand):
    """A typer command whose positional arguments may be negative numbers, whose expected
    errors (:class:`billing.errors.UserFacingError`) end it the one way the CLI reports
    them (:func:`bot.cli.errors.exit_for`), and whose output failing to be written ends it as
    :func:`bot.cli.output.output_trouble` says (a closed pipe quietly)."""

    # ctx is typed Any: typer vendors click, and its Context class is private to typer.
    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
        return super().parse_args(ctx, negative_numbers_as_arguments(self, args))

    def get_params(self, ctx: Any) -> list[Any]:
        return tidy_params(super().get_params(ctx))

    def collect_usage_pieces(self, ctx: Any) -> list[str]:
        return _plain_usage(super().collect_usage_pieces(ctx))

    def invoke(self, ctx: Any) -> Any:
        try:
            result = super().invoke(ctx)
            sys.stdout.flush()  # buffered output fails here, while its command can say so
            return result
        except UserFacingError as error:
            raise exit_for(error) from None
        except KeyboardInterrupt:  # Ctrl-C mid-work: `seatbot: interrupted`, status 1
            raise typer.Abort from None
        except OSError as error:
            trouble = output_trouble(error)
            if trouble is None:
                raise
            raise (exit_for(trouble) if isinstance(trouble, UserFacingError) else trouble) from None


@contextlib.contextmanager
def until_stopped(what: str) -> Iterator[None]:
    """Run a server-like command (``sandbox``, ``dev``, ``webhooks listen``) until Ctrl-C or
    SIGTERM stops it, then say that ``what`` stopped: status 0, as for ``serve``. SIGTERM is
    taken as Ctrl-C, for whoever handles that at the time (uvicorn, asyncio's runner)."""
    previous = signal.signal(signal.SIGTERM, lambda *_: signal.raise_signal(signal.SIGINT))
    try:
        yield
    except KeyboardInterrupt:
        pass
    finally:
        signal.signal(signal.SIGTERM, previous)
    typer.echo(f"{what} stopped")


def add_command(app: typer.Typer, name: str, function: Callable[..., Any]) -> None:
    """Register ``function`` as ``seatbot … name``, its docstring as the help text."""
    app.command(name, cls=SeatbotCommand, help=unwrap_help(function.__doc__))(function)


def new_group(help_text: str, *, cls: type[TyperGroup] = SeatbotGroup) -> typer.Typer:
    """A command group (``seatbot db …``) that shows its help when called without a command."""
    return typer.Typer(help=unwrap_help(help_text), no_args_is_help=True, cls=cls)
