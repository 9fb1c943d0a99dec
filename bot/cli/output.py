"""Where the CLI's output goes: whole when it is not a terminal, quiet when its reader leaves.

:func:`output_console` is the rich console every table is printed with: on a terminal, the
terminal's width (rich wraps and shrinks to fit); in a pipe or a file, wide enough that no value
is cut or wrapped (``seatbot audit | grep user9@acme.example`` finds whole rows).
:func:`transcript_console` is for boxes and rules (``seatbot dev``, ``seatbot demo``), which
are as wide as their console: never that wide.
:func:`output_trouble` is what a command's failed write becomes (see
:class:`bot.cli.commands.SeatbotCommand`): a reader that went away (``seatbot audit | head -1``)
ends the command quietly with status 0; a write that failed (``> /dev/full``) is one line, status 1.
"""

from __future__ import annotations

import contextlib
import errno
import io
import os
import sys
from typing import Annotated

import typer
from rich.console import Console

from billing.errors import Failure

#: The ``--json`` flag of every command that can print its result as JSON.
AsJson = Annotated[bool, typer.Option("--json", help="Print one JSON document.")]

#: The layout width for output that is not a terminal: wider than any row the CLI prints.
UNCUT_WIDTH = 10_000

#: The layout width of a transcript that is not a terminal, unless ``$COLUMNS`` says another:
#: a Slack reply's lines fit in its box unwrapped (80 would wrap most), and a file written by
#: ``seatbot demo > file`` is the same whoever writes it.
TRANSCRIPT_WIDTH = 100

#: Write errors that mean the output cannot be written (the disk is full, the device failed).
_WRITE_ERRORS = frozenset({errno.ENOSPC, errno.EFBIG, errno.EDQUOT, errno.EIO})


class _OutputConsole(Console):
    """Rich's console, leaving a closed pipe to the command (rich itself exits with 1)."""

    def on_broken_pipe(self) -> None:
        self.quiet = True
        raise BrokenPipeError(errno.EPIPE, os.strerror(errno.EPIPE))


def output_console(*, stderr: bool = False, min_width: int = 0) -> Console:
    """A rich console for the CLI's tables: the terminal's width (at least ``min_width``) on a
    terminal, :data:`UNCUT_WIDTH` otherwise, so that nothing is cut for a pipe or a file."""
    stream = sys.stderr if stderr else sys.stdout
    if _is_terminal(stream):
        width = Console(stderr=stderr).width
        return _OutputConsole(stderr=stderr, width=max(width, min_width) if min_width else None)
    return _OutputConsole(stderr=stderr, width=UNCUT_WIDTH)


def transcript_console() -> Console:
    """A rich console for a transcript of boxes and rules: the terminal's width on a terminal,
    else ``$COLUMNS`` when set (how a caller names a width), else :data:`TRANSCRIPT_WIDTH`."""
    if _is_terminal(sys.stdout):
        return _OutputConsole()
    columns = os.environ.get("COLUMNS", "")
    return _OutputConsole(width=(int(columns) if columns.isdigit() else 0) or TRANSCRIPT_WIDTH)


def _is_terminal(stream: object) -> bool:
    isatty = getattr(stream, "isatty", None)
    return bool(isatty and isatty())


def output_trouble(error: OSError) -> typer.Exit | Failure | None:
    """What a command's ``OSError`` means if it came from writing its output: the quiet end of
    a closed pipe (exit 0), a :class:`~billing.errors.Failure` saying why the output could not
    be written (exit 1), or ``None`` when it is about something else. Either way the rest of
    the output is dropped, so that Python's own flush at exit says nothing more."""
    if isinstance(error, BrokenPipeError) or error.errno == errno.EPIPE:
        _drop_stdout()
        return typer.Exit(0)
    if error.errno in _WRITE_ERRORS:
        _drop_stdout()
        reason = error.strerror or os.strerror(error.errno or 0)
        return Failure(f"cannot write the output: {reason.lower()}")
    return None


def _drop_stdout() -> None:
    """Point the process's standard output at the null device (what is still buffered goes)."""
    with contextlib.suppress(AttributeError, ValueError, io.UnsupportedOperation, OSError):
        null = os.open(os.devnull, os.O_WRONLY)
        os.dup2(null, sys.stdout.fileno())
        os.close(null)
