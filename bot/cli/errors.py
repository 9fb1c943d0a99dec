"""How every ``seatbot`` command reports trouble: one line on stderr, a documented exit status."""

from __future__ import annotations

import typer

EXIT_BAD_INPUT = 2
EXIT_FAILURE = 1


def fail_bad_input(message: str) -> typer.Exit:
    """Print ``message`` as one line on stderr and return the exit for bad input (status 2)."""
    typer.echo(f"seatbot: {message}", err=True)
    return typer.Exit(EXIT_BAD_INPUT)


def fail(message: str) -> typer.Exit:
    """Print ``message`` as one line on stderr and return the exit for a failure (status 1)."""
    typer.echo(f"seatbot: {message}", err=True)
    return typer.Exit(EXIT_FAILURE)
