"""``seatbot demo``: registered on the CLI by ``bot.cli``."""

from __future__ import annotations

import typer


def demo() -> None:
    """Play a whole seat-change session offline: SQLite, sandbox platforms, a Slack stand-in,
    the real app over HTTP, and signed requests as Slack sends them, printed as a transcript."""
    from bot.demo import main

    status = main()
    if status:
        raise typer.Exit(status)


def register(app: typer.Typer) -> None:
    """Add ``seatbot demo`` to ``app``."""
    app.command("demo")(demo)
