"""Database engine, sessions and migrations: the composition root's one way to reach storage.

SQLite (the embedded default) is configured for several processes on one file: foreign keys on,
WAL journal, a busy timeout, and write transactions that take the write lock at ``BEGIN``
(``BEGIN IMMEDIATE``), so two writers queue up instead of deadlocking on a lock upgrade.
PostgreSQL runs at its default READ COMMITTED; the services rely on compare-and-set updates,
never on ``SELECT ... FOR UPDATE``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.orm import Session, sessionmaker

from billing.models import READ_ONLY_OPTION

# Registers the Slack installation tables on the shared metadata, so the schema the migrations
# are compared with (and Alembic autogenerates from) is complete wherever bot.db is imported.
from bot import slack_tables  # noqa: F401

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"

#: Connection execution option: ``True`` begins a SQLite transaction DEFERRED (read-only work).
READ_ONLY = READ_ONLY_OPTION

SQLITE_BUSY_TIMEOUT_MS = 30_000


def make_engine(url: str, **kwargs: Any) -> Engine:
    """An engine for ``url`` (``sqlite:///seatbot.db`` or ``postgresql+psycopg://...``).

    On SQLite every connection gets ``foreign_keys=ON``, WAL (for file databases) and a busy
    timeout, and every transaction begins with ``BEGIN IMMEDIATE`` unless the connection carries
    the :data:`READ_ONLY` execution option (then plain ``BEGIN``). This is SQLAlchemy's documented
    pysqlite recipe: the driver's own transaction handling is switched off and SQLAlchemy emits
    ``BEGIN`` itself.
    """
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        return create_engine(url, pool_pre_ping=True, **kwargs)

    connect_args = dict(kwargs.pop("connect_args", {}))
    connect_args.setdefault("timeout", SQLITE_BUSY_TIMEOUT_MS / 1000)
    engine = create_engine(url, connect_args=connect_args, **kwargs)
    in_memory = parsed.database in (None, "", ":memory:")

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy emit BEGIN itself (the driver would defer it until the first write).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
            if not in_memory:
                cursor.execute("PRAGMA journal_mode=WAL")
                cursor.execute("PRAGMA synchronous=NORMAL")
        finally:
            cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Connection) -> None:
        if connection.get_execution_options().get(READ_ONLY):
            connection.exec_driver_sql("BEGIN")
        else:
            connection.exec_driver_sql("BEGIN IMMEDIATE")

    return engine


def make_session_factory(engine: Engine) -> sessionmaker[Session]:
    """Sessions for ``engine``; objects stay readable after commit (``expire_on_commit=False``)."""
    return sessionmaker(bind=engine, expire_on_commit=False, autoflush=False)


def alembic_config(url: str) -> Config:
    """An Alembic configuration pointing at this package's own migrations (works installed)."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    # Passed as an attribute, not an ini option, so '%' in passwords needs no escaping.
    config.attributes["url"] = url
    return config


def upgrade(url: str, revision: str = "head") -> None:
    """Apply the migrations to ``url`` up to ``revision`` (default: the newest)."""
    engine = make_engine(url)
    try:
        with engine.connect() as connection:
            config = alembic_config(url)
            config.attributes["connection"] = connection
            command.upgrade(config, revision)
    finally:
        engine.dispose()


def current_revision(url: str) -> str | None:
    """The revision the database at ``url`` is at, or ``None`` before the first migration."""
    from alembic.runtime.migration import MigrationContext

    engine = make_engine(url)
    try:
        with engine.connect().execution_options(**{READ_ONLY: True}) as connection:
            return MigrationContext.configure(connection).get_current_revision()
    finally:
        engine.dispose()
