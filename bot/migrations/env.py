"""Alembic environment: migrates the database given by ``bot.runtime.db.upgrade`` (or ``alembic -x
url=...``) to the schema of ``billing.models`` (and the bot's own tables)."""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection, text

from billing.models import Base
from bot.runtime.db import make_engine  # also registers the bot's own tables on Base.metadata

target_metadata = Base.metadata

# Any fixed number: the PostgreSQL advisory lock taken while migrating, so that several replicas
# starting at once run the migrations one after another instead of colliding.
_MIGRATION_LOCK_ID = 7_202_601


def _configure_and_run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=True,  # SQLite cannot ALTER most things; batch mode recreates tables
        compare_type=True,
    )
    # SQLite's batch mode rebuilds a table by dropping it; with foreign keys enforced, that
    # drop would delete (or refuse because of) every row pointing at it. Enforcement is off
    # while migrating (the pragma only works outside a transaction) and the whole database is
    # checked before the migration commits.
    sqlite = connection.dialect.name == "sqlite" and not connection.in_transaction()
    if sqlite:
        _foreign_keys(connection, enforced=False)
    try:
        with context.begin_transaction():
            if connection.dialect.name == "postgresql":
                connection.execute(
                    text("SELECT pg_advisory_xact_lock(:id)"), {"id": _MIGRATION_LOCK_ID}
                )
            context.run_migrations()
            if sqlite:
                broken = connection.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
                if broken:
                    raise RuntimeError(
                        f"the migration would leave {len(broken)} row(s) pointing at nothing "
                        f"(first: table {broken[0][0]}); nothing was changed"
                    )
    finally:
        if sqlite:
            _foreign_keys(connection, enforced=True)


def _foreign_keys(connection: Connection, *, enforced: bool) -> None:
    """Switch SQLite's foreign key enforcement on the raw driver connection (not inside a
    transaction, where the pragma does nothing)."""
    driver = connection.connection.driver_connection
    if driver is not None:
        driver.execute(f"PRAGMA foreign_keys={'ON' if enforced else 'OFF'}")


def run_migrations_online() -> None:
    config = context.config
    connection = config.attributes.get("connection")
    if connection is not None:
        _configure_and_run(connection)
        return
    url = config.attributes.get("url") or context.get_x_argument(as_dictionary=True).get("url")
    if not url:
        raise RuntimeError("no database URL: use bot.runtime.db.upgrade(url) or alembic -x url=...")
    engine = make_engine(url)
    try:
        with engine.connect() as new_connection:
            _configure_and_run(new_connection)
    finally:
        engine.dispose()


if context.is_offline_mode():
    raise RuntimeError("offline (--sql) migrations are not supported")
run_migrations_online()
