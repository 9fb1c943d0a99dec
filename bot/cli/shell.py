"""What the database commands share: the database from ``DATABASE_URL``, the clock, JSON output.

The CLI is the imperative shell: the one place the environment and the clock are read. Each
command reads only the settings it needs, when it runs (``seatbot accounts`` never looks at
``PORT``), and every database error becomes one sentence saying what happened. SQLAlchemy and
the migrations are imported when a command first asks for the database, not before.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import typer

if TYPE_CHECKING:
    from sqlalchemy.orm import Session, sessionmaker


def database_url() -> str:
    """``DATABASE_URL``, checked (a bad value is a :class:`billing.errors.ConfigurationError`)."""
    from bot.runtime.settings import database_url_setting

    return database_url_setting()


@contextmanager
def sessions() -> Iterator[sessionmaker[Session]]:
    """Sessions on the configured database; its errors become
    :class:`bot.runtime.db.DatabaseUnavailable` with a sentence saying what happened."""
    from bot.runtime.db import database_errors, make_engine, make_session_factory

    url = database_url()
    with database_errors(url):
        engine = make_engine(url)
        try:
            yield make_session_factory(engine)
        finally:
            engine.dispose()


def migrate_database() -> str:
    """Apply the migrations to the configured database; one line saying what was done."""
    from bot.runtime.db import database_errors, migrate, shown_database

    url = database_url()
    with database_errors(url):
        return migrate(url).describe(shown_database(url))


def utc_now() -> datetime:
    """The current instant (aware UTC)."""
    return datetime.now(UTC)


def echo_json(document: Any) -> None:
    """Print ``document`` as one JSON document on stdout."""
    typer.echo(json.dumps(document, indent=2, ensure_ascii=False))
