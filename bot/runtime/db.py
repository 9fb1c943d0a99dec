"""Database engine, sessions and migrations: the composition root's one way to reach storage.

SQLite (the embedded default) is configured for several processes on one file: foreign keys on,
WAL journal, a busy timeout, and write transactions that take the write lock at ``BEGIN``
(``BEGIN IMMEDIATE``), so two writers queue up instead of deadlocking on a lock upgrade.
PostgreSQL runs at its default READ COMMITTED; the services rely on compare-and-set updates,
never on ``SELECT ... FOR UPDATE``.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import URL, Connection, make_url
from sqlalchemy.exc import ArgumentError, SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

# Every table is registered (billing's, and the Slack installation tables below), so the
# schema the migrations are compared with (and Alembic autogenerates from) is complete wherever
# bot.runtime.db is imported.
import billing.tables  # noqa: F401
from billing.errors import Failure
from billing.models import READ_ONLY_OPTION
from bot.runtime import slack_tables  # noqa: F401

if TYPE_CHECKING:
    # Alembic is imported by the functions that migrate: a command that only reads and writes
    # rows starts without it.
    from alembic.config import Config

MIGRATIONS_DIR = Path(__file__).resolve().parents[1] / "migrations"

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
        # UTF-8 on the wire whatever the server's default: a SQL_ASCII database would otherwise
        # hand psycopg bytes, not text (the first non-ASCII account name would crash commands).
        connect_args = {"client_encoding": "utf8", **kwargs.pop("connect_args", {})}
        return create_engine(url, pool_pre_ping=True, connect_args=connect_args, **kwargs)

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
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    # Passed as an attribute, not an ini option, so '%' in passwords needs no escaping.
    config.attributes["url"] = url
    return config


def upgrade(url: str, revision: str = "head") -> None:
    """Apply the migrations to ``url`` up to ``revision`` (default: the newest).
    :class:`DatabaseUnavailable` when a newer version of Seatbot already upgraded it."""
    from alembic import command

    current = current_revision(url)
    if current is not None and current not in known_revisions():
        raise DatabaseUnavailable(
            f"the database at {shown_database(url)} has schema {current}, which this version of "
            f"Seatbot does not know (its newest is {head_revision()}): a newer version upgraded "
            "it; run that version, or restore the backup taken before the upgrade"
        )
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


def head_revision() -> str:
    """The newest migration's revision id (the schema ``upgrade`` brings a database to)."""
    from alembic.script import ScriptDirectory

    head = ScriptDirectory.from_config(alembic_config("sqlite://")).get_current_head()
    if head is None:  # pragma: no cover - the package always ships its migrations
        raise RuntimeError("no migrations found")
    return head


@cache
def known_revisions() -> frozenset[str]:
    """Every migration's revision id this version ships (a schema outside it is a newer one)."""
    from alembic.script import ScriptDirectory

    scripts = ScriptDirectory.from_config(alembic_config("sqlite://"))
    return frozenset(script.revision for script in scripts.walk_revisions())


@dataclass(frozen=True)
class MigrationOutcome:
    """What :func:`migrate` did: the revision before (``None``: no Seatbot tables yet) and
    after, and whether the SQLite file was created by it."""

    before: str | None
    after: str
    created_file: bool

    def describe(self, where: str) -> str:
        """One line for people, ``where`` naming the database (see :func:`shown_database`)."""
        if self.created_file:
            return f"created the database at {where} (schema {self.after})"
        if self.before is None:
            return f"created the Seatbot tables in {where} (schema {self.after})"
        if self.before != self.after:
            return f"upgraded the database at {where} from schema {self.before} to {self.after}"
        return f"the database at {where} is already up to date (schema {self.after})"


def migrate(url: str) -> MigrationOutcome:
    """:func:`upgrade` to the newest revision, saying what changed."""
    path = sqlite_path(url)
    existed = path is None or path.exists()
    before = current_revision(url) if existed else None
    upgrade(url)
    return MigrationOutcome(before, current_revision(url) or head_revision(), not existed)


def sqlite_path(url: str) -> Path | None:
    """The file of a SQLite ``url`` (also ``sqlite:///file:PATH?uri=true``), ``None`` for
    another database or an in-memory one."""
    try:
        parsed = make_url(url)
    except ArgumentError:
        return None
    if parsed.get_backend_name() != "sqlite" or parsed.database in (None, "", ":memory:"):
        return None
    database = str(parsed.database)
    if parsed.query.get("uri") == "true" and database.startswith("file:"):
        database = database.removeprefix("file:").partition("?")[0]
    return Path(database)


def shown_database(url: str) -> str:
    """How messages name the database: a SQLite file's path, else the URL without password."""
    path = sqlite_path(url)
    if path is not None:
        return str(path)
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return "the database"


class DatabaseUnavailable(Failure):
    """The database could not be used; ``message`` says what happened, without secrets."""


def describe_database_error(error: SQLAlchemyError, url: str) -> str:
    """One line saying what went wrong with the database at ``url``, in words (no password,
    no SQL), with the fix when there is one (``seatbot db upgrade`` for missing tables)."""
    cause = getattr(error, "orig", None) or error
    text = str(cause)
    lowered = text.lower()
    path = sqlite_path(url)
    where = shown_database(url)
    if "no such table" in lowered or type(cause).__name__ == "UndefinedTable":
        return f"the database at {where} has no Seatbot tables yet: run `seatbot db upgrade`"
    if path is not None and isinstance(cause, sqlite3.Error):
        return _describe_sqlite_error(cause, path)
    if any(words in lowered for words in _CONNECTION_WORDS):
        return _describe_connection_error(lowered, url)
    return f"the database at {where} failed ({type(cause).__name__})"


def _describe_sqlite_error(cause: sqlite3.Error, path: Path) -> str:
    name = getattr(cause, "sqlite_errorname", "")
    text = str(cause).lower()
    if name.startswith("SQLITE_READONLY") or "readonly" in text:
        return f"the database file {path} is read-only"
    if name == "SQLITE_NOTADB" or "not a database" in text:
        return f"{path} is not a SQLite database file"
    if name.startswith("SQLITE_BUSY") or "locked" in text:
        return f"the database file {path} stayed locked by another process"
    if name.startswith("SQLITE_CANTOPEN") or "unable to open" in text:
        folder = path.parent
        if path.is_dir():
            return f"cannot open the database file {path}: it is a folder"
        if not folder.is_dir():
            return f"cannot create the database file at {path}: the folder {folder} does not exist"
        return f"cannot create or open the database file at {path}"
    return f"the database file {path} failed ({name or type(cause).__name__})"


#: Words in a driver's message that mean the server could not be reached at all.
_CONNECTION_WORDS = ("connect", "resolve host", "host name", "name resolution")

#: Words in a driver's message → why the server could not be reached, in words (first match).
_CONNECTION_REASONS = (
    ("connection refused", "connection refused"),
    ("timeout", "timed out"),
    ("timed out", "timed out"),
    ("temporary failure in name resolution", "its host name could not be looked up"),
    ("could not translate host name", "unknown host"),
    ("failed to resolve host", "unknown host"),
    ("name or service not known", "unknown host"),
    ("no route to host", "no route to the host"),
    ("network is unreachable", "network unreachable"),
)


def _describe_connection_error(lowered: str, url: str) -> str:
    try:
        parsed: URL | None = make_url(url)
    except ArgumentError:
        parsed = None
    host = (parsed.host if parsed else None) or "localhost"
    port = (parsed.port if parsed else None) or 5432
    user = parsed.username if parsed else None
    database = parsed.database if parsed else None
    target = f"{host}:{port}"
    if "password authentication failed" in lowered or "authentication failed" in lowered:
        return f"the database server at {target} refused the login of user {user!r}"
    if "does not exist" in lowered and database and f'"{database.lower()}"' in lowered:
        return f"the database server at {target} has no database {database!r}"
    for words, reason in _CONNECTION_REASONS:
        if words in lowered:
            return f"cannot connect to the database server at {target} ({reason})"
    return f"cannot connect to the database server at {target}"


@contextmanager
def database_errors(url: str) -> Iterator[None]:
    """Turn SQLAlchemy's errors inside the block into :class:`DatabaseUnavailable` with a
    sentence from :func:`describe_database_error`."""
    try:
        yield
    except SQLAlchemyError as error:
        raise DatabaseUnavailable(describe_database_error(error, url)) from error
