"""Engine set-up: SQLite pragmas and BEGIN IMMEDIATE; aware UTC datetimes on both databases."""

from __future__ import annotations

import secrets
import sqlite3
from datetime import UTC, date, datetime, timedelta, timezone
from pathlib import Path

import pytest
from sqlalchemy import Engine, event, select, text
from sqlalchemy.orm import Session, sessionmaker

from billing.models import Account, AuditEvent
from bot.runtime.db import READ_ONLY, make_engine, make_session_factory, upgrade


def test_sqlite_connections_enforce_foreign_keys_and_use_wal(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'a.db'}")
    try:
        with engine.connect() as connection:
            assert connection.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
            assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
            assert connection.exec_driver_sql("PRAGMA busy_timeout").scalar() == 30_000
    finally:
        engine.dispose()


def _statements(engine: Engine) -> list[str]:
    seen: list[str] = []

    @event.listens_for(engine, "before_cursor_execute")
    def _record(_c: object, _cur: object, statement: str, *_args: object) -> None:
        seen.append(statement)

    return seen


def test_sqlite_write_transactions_take_the_lock_at_begin(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'b.db'}"
    upgrade(url)
    engine = make_engine(url)
    seen = _statements(engine)
    sessions = make_session_factory(engine)
    try:
        with sessions.begin() as session:
            session.execute(text("SELECT 1"))
            # While this transaction is open, a plain sqlite3 writer cannot even begin one.
            other = sqlite3.connect(tmp_path / "b.db", timeout=0, isolation_level=None)
            with pytest.raises(sqlite3.OperationalError, match="locked"):
                other.execute("BEGIN IMMEDIATE")
            other.close()
        with sessions() as session:
            session.connection(execution_options={READ_ONLY: True})
            session.execute(text("SELECT 2"))
    finally:
        engine.dispose()
    begins = [s for s in seen if s.startswith("BEGIN")]
    assert begins == ["BEGIN IMMEDIATE", "BEGIN"]


def test_sqlite_foreign_keys_are_enforced(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'c.db'}"
    upgrade(url)
    engine = make_engine(url)
    try:
        with pytest.raises(Exception, match="FOREIGN KEY"), engine.begin() as connection:
            connection.execute(
                AuditEvent.__table__.insert().values(
                    account_id=999, actor="cli", action="x", details="{}", at=datetime.now(UTC)
                )
            )
    finally:
        engine.dispose()


def test_datetimes_come_back_aware_utc(session_factory: sessionmaker[Session]) -> None:
    plus_two = timezone(timedelta(hours=2))
    written = datetime(2026, 3, 29, 1, 30, tzinfo=plus_two)
    with session_factory.begin() as session:
        account = Account(
            name="tz", display_name="Tz", currency="USD", timezone="UTC", team_id="T1"
        )
        session.add(account)
        session.flush()
        session.add(
            AuditEvent(account_id=account.id, actor="cli", action="t", details="{}", at=written)
        )
    with session_factory() as session:
        read = session.scalars(select(AuditEvent.at)).one()
    assert read.tzinfo is not None
    assert read.utcoffset() == timedelta(0)
    assert read == written
    assert read.hour == 23  # 01:30 at +02:00 is 23:30 UTC the day before
    assert read.date() == date(2026, 3, 28)


def test_naive_datetimes_are_refused(session_factory: sessionmaker[Session]) -> None:
    with session_factory() as session:
        account = Account(name="n", display_name="N", currency="USD", timezone="UTC", team_id="T")
        session.add(account)
        session.flush()
        session.add(
            AuditEvent(
                account_id=account.id,
                actor="cli",
                action="t",
                details="{}",
                at=datetime(2026, 1, 1),  # noqa: DTZ001 - the point of the test
            )
        )
        with pytest.raises(Exception, match="naive"):
            session.flush()


@pytest.mark.postgres
def test_a_sql_ascii_postgresql_database_reads_back_the_names_it_was_given() -> None:
    """A server created with ``ENCODING 'SQL_ASCII'`` (old clusters, some hosted ones) sends
    text undecoded: unless the connection says UTF-8, psycopg hands back bytes, and the first
    Japanese account name crashes every command. Seatbot's engine asks for UTF-8."""
    from sqlalchemy import create_engine
    from sqlalchemy.engine import make_url
    from sqlalchemy.pool import NullPool

    from tests.conftest import _postgres_server_url

    server = _postgres_server_url()
    name = f"seatbot_ascii_{secrets.token_hex(4)}"
    admin = create_engine(server, isolation_level="AUTOCOMMIT", poolclass=NullPool)
    with admin.connect() as connection:
        connection.exec_driver_sql(
            f"CREATE DATABASE \"{name}\" ENCODING 'SQL_ASCII' LC_COLLATE 'C' LC_CTYPE 'C' "
            "TEMPLATE template0"
        )
    url = make_url(server).set(database=name).render_as_string(hide_password=False)
    try:
        upgrade(url)
        engine = make_engine(url, poolclass=NullPool)
        sessions = make_session_factory(engine)
        with sessions.begin() as session:
            session.add(
                Account(
                    name="tokyo",
                    display_name="山田商事 ¥",
                    currency="JPY",
                    timezone="Asia/Tokyo",
                    team_id="T1",
                )
            )
        with sessions() as session:
            assert session.scalars(select(Account.display_name)).one() == "山田商事 ¥"
        engine.dispose()
    finally:
        with admin.connect() as connection:
            connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()
