"""``seatbot db upgrade`` and ``seatbot load FILE.yml``: the database and what is in it."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from billing.errors import ConfigurationError
from bot.cli import shell
from bot.cli.commands import add_command, new_group


def db_upgrade() -> None:
    """Create the database, or bring its schema up to date (Alembic migrations).

    Says what it did: created the database, upgraded it from one schema to another, or found it
    already up to date. The database is DATABASE_URL (default: sqlite:///seatbot.db).
    """
    typer.echo(shell.migrate_database())


def load(
    file: Annotated[Path, typer.Argument(help="YAML file, e.g. examples/accounts.yml.")],
) -> None:
    """Create or update accounts, members, subscriptions and platform connections from YAML.

    Idempotent, all in one transaction; a bad file is reported with line and field and nothing
    is written. Migrates the database first.
    """
    from bot.setup.loader import apply_config, load_file

    try:
        config = load_file(file)
    except ConfigurationError as error:
        raise error.in_file(str(file)) from None
    shell.migrate_database()
    with shell.sessions() as factory:
        try:
            with factory.begin() as session:
                report = apply_config(session, config, shell.utc_now())
        except ConfigurationError as error:
            raise error.in_file(str(file)) from None
    for change in report.changes:
        typer.echo(change)
    if not report.changed:
        typer.echo("nothing to change")


def register(app: typer.Typer) -> None:
    """Add ``seatbot db upgrade`` and ``seatbot load``."""
    db_app = new_group("The database: create it or bring its schema up to date.")
    add_command(db_app, "upgrade", db_upgrade)
    app.add_typer(db_app, name="db")
    add_command(app, "load", load)
