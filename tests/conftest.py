"""Shared database fixtures: every database test runs on SQLite and on PostgreSQL.

- ``db_url``: a migrated, empty database. Parametrised ``sqlite`` (a fresh file per test) and
  ``postgres`` (one fresh database per test session, every table truncated before each test).
- ``engine`` / ``session_factory``: built on ``db_url`` with :mod:`bot.runtime.db`.
- ``blank_db_url``: an empty, *unmigrated* database (for migration tests), on both.
- ``seed``: a helper that inserts an account with an owner and a subscription.

PostgreSQL comes from ``SEATBOT_TEST_POSTGRES_URL`` (a server URL whose user may create
databases). Without it the postgres cases are skipped with that reason, except under ``CI=true``,
where a missing server is a failure.
"""

from __future__ import annotations

import os
import secrets
import shutil
import subprocess
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import settings
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import NullPool

from billing.access import Role
from billing.models import Account, Member, Subscription
from billing.periods import Interval, period_at, zone
from bot.runtime.db import make_engine, make_session_factory, upgrade

# No time limit per generated example: Hypothesis's default (200 ms) is a timing threshold, and
# on a loaded two-core CI machine a YAML parse or a database round trip can pass it.
settings.register_profile("seatbot", deadline=None)
settings.load_profile("seatbot")

POSTGRES_ENV = "SEATBOT_TEST_POSTGRES_URL"
DB_BACKENDS = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]


def _postgres_server_url() -> str:
    url = os.environ.get(POSTGRES_ENV, "").strip()
    if not url:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"{POSTGRES_ENV} is not set, and CI must run the PostgreSQL tests")
        pytest.skip(
            f"PostgreSQL tests need {POSTGRES_ENV}, e.g. "
            "postgresql+psycopg://seatbot:seatbot@127.0.0.1:5432/seatbot"
        )
    return url


@contextmanager
def fresh_postgres_database(server_url: str) -> Iterator[str]:
    """Create an empty database on the server, yield its URL, drop it afterwards."""
    name = f"seatbot_test_{os.getpid()}_{secrets.token_hex(4)}"
    admin = create_engine(server_url, isolation_level="AUTOCOMMIT", poolclass=NullPool)
    with admin.connect() as connection:
        connection.exec_driver_sql(f'CREATE DATABASE "{name}"')
    try:
        yield make_url(server_url).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()


@pytest.fixture(scope="session")
def postgres_db_url() -> Iterator[str]:
    """A migrated PostgreSQL database for the whole session (tests truncate it)."""
    with fresh_postgres_database(_postgres_server_url()) as url:
        upgrade(url)
        yield url


def _truncate_postgres(url: str) -> None:
    engine = create_engine(url, poolclass=NullPool)
    try:
        with engine.begin() as connection:
            tables = connection.execute(
                text(
                    "SELECT tablename FROM pg_tables WHERE schemaname = current_schema() "
                    "AND tablename <> 'alembic_version'"
                )
            ).scalars()
            names = ", ".join(f'"{name}"' for name in tables)
            if names:
                connection.exec_driver_sql(f"TRUNCATE {names} RESTART IDENTITY CASCADE")
    finally:
        engine.dispose()


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One migrated SQLite file per test session (and xdist worker), copied for each test:
    running every migration for each of several hundred tests cost minutes."""
    template = tmp_path_factory.mktemp("template") / "seatbot.db"
    upgrade(f"sqlite:///{template}")
    return template


@pytest.fixture(params=DB_BACKENDS)
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A migrated, empty database: SQLite file or PostgreSQL."""
    if request.param == "sqlite":
        target = tmp_path / "seatbot.db"
        shutil.copyfile(request.getfixturevalue("sqlite_template"), target)
        return f"sqlite:///{target}"
    url: str = request.getfixturevalue("postgres_db_url")
    _truncate_postgres(url)
    return url


@pytest.fixture(params=DB_BACKENDS)
def blank_db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """An empty database without any migration applied: SQLite file or PostgreSQL."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'blank.db'}"
        return
    with fresh_postgres_database(_postgres_server_url()) as url:
        yield url


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    built = make_engine(db_url)
    yield built
    built.dispose()


@pytest.fixture
def session_factory(engine: Engine) -> sessionmaker[Session]:
    return make_session_factory(engine)


#: The instant the ``seed`` helper puts a subscription's current period around.
SEED_AT = datetime(2026, 1, 10, 9, 0, tzinfo=UTC)


@dataclass(frozen=True)
class Seeded:
    account_id: int
    subscription_id: int
    team_id: str
    owner_id: str


Seed = Callable[..., Seeded]


def add_subscription(
    session: Session,
    account: Account,
    product: str,
    seats: int,
    unit_price_minor: int,
    interval: Interval,
    anchor: date,
    at: datetime,
    *,
    rule: str = "daily",
    decrease_policy: str = "prorated",
) -> Subscription:
    """A subscription of ``account`` (already flushed) in its currency, its stored period the one
    containing ``at`` in the account's zone; added and flushed, so it has its id."""
    period = period_at(anchor, interval, at, zone(account.timezone))
    subscription = Subscription(
        account_id=account.id, product=product, seats=seats, initial_seats=seats,
        started_at=period.start, unit_price_minor=unit_price_minor, currency=account.currency,
        interval=interval.value, anchor=anchor, proration_rule=rule,
        decrease_policy=decrease_policy, current_period_start=period.start,
        current_period_end=period.end, version=1,
    )  # fmt: skip
    session.add(subscription)
    session.flush()
    return subscription


@pytest.fixture
def seed(session_factory: sessionmaker[Session]) -> Seed:
    """``seed(name="acme", seats=10, ...)`` inserts an account, an owner ``U_OWNER``, a manager
    ``U_MANAGER``, a viewer ``U_VIEWER`` and one subscription whose stored period contains
    ``at`` (default :data:`SEED_AT`); returns the ids."""

    def _seed(
        name: str = "acme",
        *,
        product: str = "axiom",
        seats: int = 10,
        unit_price_minor: int = 3000,
        currency: str = "USD",
        timezone: str = "UTC",
        interval: Interval = Interval.MONTHLY,
        anchor: date = date(2026, 1, 1),
        rule: str = "daily",
        decrease_policy: str = "prorated",
        team_id: str = "T_ACME",
        at: datetime = SEED_AT,
    ) -> Seeded:
        with session_factory.begin() as session:
            account = Account(
                name=name,
                display_name=name.title(),
                currency=currency,
                timezone=timezone,
                team_id=team_id,
                channel_id="C_SEATS",
            )
            session.add(account)
            session.flush()
            for user_id, role in (
                ("U_OWNER", Role.OWNER),
                ("U_MANAGER", Role.MANAGER),
                ("U_VIEWER", Role.VIEWER),
            ):
                session.add(
                    Member(account_id=account.id, team_id=team_id, user_id=user_id, role=role)
                )
            subscription = add_subscription(
                session, account, product, seats, unit_price_minor, interval, anchor, at,
                rule=rule, decrease_policy=decrease_policy,
            )  # fmt: skip
            return Seeded(account.id, subscription.id, team_id, "U_OWNER")

    return _seed


# -- test tiers ---------------------------------------------------------------------------------

FAST_TIER = "--fast-tier"


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        FAST_TIER,
        action="store_true",
        help="the inner loop: leave out tests marked slow (server processes, real time) and "
        "the PostgreSQL cases, and fail any test left in that starts a process",
    )


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if config.getoption(FAST_TIER):
        kept = [item for item in items if not _in_a_slow_tier(item)]
        config.hook.pytest_deselected(items=[item for item in items if item not in kept])
        items[:] = kept
    # The long tests first, so that parallel workers (pytest-xdist) end together instead of one
    # of them starting the longest test last.
    items.sort(key=lambda item: item.get_closest_marker("slow") is None)


def _in_a_slow_tier(item: pytest.Item) -> bool:
    return item.get_closest_marker("slow") is not None or (
        item.get_closest_marker("postgres") is not None
    )


@pytest.fixture(autouse=True)
def _fast_tier_starts_no_process(
    request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch
) -> None:
    """In the fast tier a test that starts a process fails, saying to mark it slow (so the
    tier stays what it says: no server process, no PostgreSQL, no real time)."""
    if not request.config.getoption(FAST_TIER):
        return

    def refuse(self: subprocess.Popen[Any], args: Any, *rest: Any, **kwargs: Any) -> None:
        pytest.fail(
            f"{request.node.nodeid} starts a process ({args!r}): mark it "
            "@pytest.mark.slow so the fast tier leaves it out",
            pytrace=False,
        )

    monkeypatch.setattr(subprocess.Popen, "__init__", refuse)
