"""``seatbot demo``: the whole product offline, as a transcript."""

from __future__ import annotations

import typer

from bot.cli.commands import add_command


def demo() -> None:
    """Play a whole seat-change session offline, printed as a transcript.

    Runs SQLite, the sandbox platforms, a Slack stand-in and the real app over HTTP in one
    process tree, and sends requests signed as Slack signs them; ends with a reconciliation
    report and the daily digest, whose trend chart is saved beside the database (the transcript
    names the folder). Exits 0 only when every step did what it should.
    """
    from bot.cli.output import transcript_console
    from bot.offline.demo import main

    main(transcript_console())


def register(app: typer.Typer) -> None:
    """Add ``seatbot demo``."""
    add_command(app, "demo", demo)
