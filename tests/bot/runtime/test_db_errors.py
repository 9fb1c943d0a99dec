"""Database trouble said in words: what happened, where, and the fix when there is one."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.exc import OperationalError

from bot.runtime.db import (
    DatabaseUnavailable,
    database_errors,
    describe_database_error,
    head_revision,
    make_engine,
    migrate,
    shown_database,
    sqlite_path,
)


def _run_sql(url: str, sql: str) -> None:
    with database_errors(url):
        engine = make_engine(url)
        try:
            with engine.begin() as connection:
                connection.execute(text(sql))
        finally:
            engine.dispose()


def _failure(url: str, sql: str = "SELECT count(*) FROM accounts") -> str:
    with pytest.raises(DatabaseUnavailable) as raised:
        _run_sql(url, sql)
    return raised.value.message


def test_missing_tables_suggest_db_upgrade(tmp_path: Path) -> None:
    message = _failure(f"sqlite:///{tmp_path / 'blank.db'}")
    assert message == (
        f"the database at {tmp_path / 'blank.db'} has no Seatbot tables yet: "
        "run `seatbot db upgrade`"
    )


def test_a_missing_folder(tmp_path: Path) -> None:
    path = tmp_path / "no" / "such" / "x.db"
    assert _failure(f"sqlite:///{path}") == (
        f"cannot create the database file at {path}: the folder {path.parent} does not exist"
    )


def test_a_read_only_file(tmp_path: Path) -> None:
    path = tmp_path / "ro.db"
    migrate(f"sqlite:///{path}")
    url = f"sqlite:///file:{path}?mode=ro&uri=true"
    assert _failure(url, "DELETE FROM accounts") == f"the database file {path} is read-only"


def test_a_file_that_is_not_a_database(tmp_path: Path) -> None:
    path = tmp_path / "notes.db"
    path.write_text("not a database, just some text that is long enough " * 20)
    assert _failure(f"sqlite:///{path}") == f"{path} is not a SQLite database file"


def test_an_unreachable_server_never_shows_the_password() -> None:
    message = _failure("postgresql+psycopg://seatbot:hunter22@127.0.0.1:9/seatbot")
    assert message == "cannot connect to the database server at 127.0.0.1:9 (connection refused)"


@pytest.mark.parametrize(
    ("driver_says", "reason"),
    [
        (
            "failed to resolve host 'db.nowhere': [Errno -2] Name or service not known",
            "unknown host",
        ),
        ('could not translate host name "db.nowhere" to address', "unknown host"),
        (
            "failed to resolve host 'db.nowhere': [Errno -3] Temporary failure in name resolution",
            "its host name could not be looked up",
        ),
        ("connection failed: Connection refused", "connection refused"),
    ],
)
def test_an_unreachable_host_is_said_in_words(driver_says: str, reason: str) -> None:
    error = OperationalError("SELECT 1", {}, Exception(driver_says))
    url = "postgresql+psycopg://seatbot:hunter22@db.nowhere:6432/seatbot"
    assert describe_database_error(error, url) == (
        f"cannot connect to the database server at db.nowhere:6432 ({reason})"
    )


def test_migrate_says_what_it_did(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'new.db'}"
    first, again = migrate(url), migrate(url)
    assert first.describe("X") == f"created the database at X (schema {head_revision()})"
    assert again.describe("X") == (
        f"the database at X is already up to date (schema {head_revision()})"
    )


def test_a_schema_newer_than_this_version_is_said_in_words(tmp_path: Path) -> None:
    """An older Seatbot (an image rolled back, a replica not yet replaced) on a database a newer
    one upgraded: one line saying so, never Alembic's "Can't locate revision"."""
    path = tmp_path / "newer.db"
    url = f"sqlite:///{path}"
    migrate(url)
    _run_sql(url, "UPDATE alembic_version SET version_num = '0099_from_a_newer_seatbot'")
    with pytest.raises(DatabaseUnavailable) as raised:
        migrate(url)
    assert raised.value.message == (
        f"the database at {path} has schema 0099_from_a_newer_seatbot, which this version of "
        f"Seatbot does not know (its newest is {head_revision()}): a newer version upgraded it; "
        "run that version, or restore the backup taken before the upgrade"
    )


def test_how_databases_are_named() -> None:
    assert sqlite_path("sqlite:///seatbot.db") == Path("seatbot.db")
    assert sqlite_path("sqlite://") is None
    assert sqlite_path("sqlite:///file:/x/y.db?mode=ro&uri=true") == Path("/x/y.db")
    assert shown_database("postgresql+psycopg://u:hunter22@h:5432/d") == (
        "postgresql+psycopg://u:***@h:5432/d"
    )
