"""The migrations produce exactly the models' schema, on SQLite and PostgreSQL."""

from __future__ import annotations

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import inspect

from billing.models import Base
from bot.runtime.db import MIGRATIONS_DIR, alembic_config, current_revision, make_engine, upgrade


def _diffs(url: str) -> list[object]:
    engine = make_engine(url)
    try:
        with engine.connect() as connection:
            context = MigrationContext.configure(connection, opts={"compare_type": True})
            return list(compare_metadata(context, Base.metadata))
    finally:
        engine.dispose()


def test_upgrade_head_matches_the_models_exactly(blank_db_url: str) -> None:
    upgrade(blank_db_url)
    assert _diffs(blank_db_url) == []
    engine = make_engine(blank_db_url)
    try:
        tables = set(inspect(engine).get_table_names())
    finally:
        engine.dispose()
    assert set(Base.metadata.tables) <= tables


def test_an_unmigrated_database_differs_from_the_models(blank_db_url: str) -> None:
    # Guards the comparison itself: an empty schema must show every table as missing.
    assert len(_diffs(blank_db_url)) >= len(Base.metadata.tables)


def test_upgrade_is_repeatable_and_lands_on_head(blank_db_url: str) -> None:
    upgrade(blank_db_url)
    upgrade(blank_db_url)
    head = ScriptDirectory.from_config(alembic_config(blank_db_url)).get_current_head()
    assert current_revision(blank_db_url) == head


def test_downgrade_to_base_removes_every_table(blank_db_url: str) -> None:
    upgrade(blank_db_url)
    engine = make_engine(blank_db_url)
    try:
        with engine.connect() as connection:
            config = alembic_config(blank_db_url)
            config.attributes["connection"] = connection
            command.downgrade(config, "base")
        remaining = set(inspect(engine).get_table_names()) - {"alembic_version"}
    finally:
        engine.dispose()
    assert remaining == set()


def test_first_revision_is_named_for_later_migrations_to_build_on() -> None:
    script = ScriptDirectory.from_config(alembic_config("sqlite://"))
    assert script.get_revision("0001_initial").down_revision is None
    assert MIGRATIONS_DIR.is_dir()
    # The migrations live inside the bot package so an installed wheel carries them.
    assert MIGRATIONS_DIR.parent.name == "bot"
    assert (MIGRATIONS_DIR / "env.py").is_file()


def test_upgrading_a_database_with_history_keeps_every_row(blank_db_url: str) -> None:
    """Migrations that rebuild a table (SQLite's batch mode) must not cascade-delete the rows
    that point at it: a database with accounts, requests and a ledger is upgraded whole."""
    upgrade(blank_db_url, "0002_slack_installations")
    engine = make_engine(blank_db_url)
    rows = {
        "accounts": "INSERT INTO accounts (id, name, display_name, currency, timezone, team_id) "
        "VALUES (1, 'acme', 'Acme', 'USD', 'UTC', 'T1')",
        "members": "INSERT INTO members (id, account_id, team_id, user_id, role) "
        "VALUES (1, 1, 'T1', 'U1', 'owner')",
        "subscriptions": "INSERT INTO subscriptions (id, account_id, product, seats, "
        "unit_price_minor, currency, interval, anchor, proration_rule, decrease_policy, "
        "current_period_start, current_period_end, version) VALUES (1, 1, 'axiom', 12, 3000, "
        "'USD', 'monthly', '2026-01-01', 'daily', 'prorated', '2026-01-01 00:00:00+00:00', "
        "'2026-02-01 00:00:00+00:00', 2)",
        "seat_change_requests": "INSERT INTO seat_change_requests (id, subscription_id, "
        "requested_by_team, requested_by_user, old_seats, new_seats, reason, status, "
        "idempotency_key, quoted_at, effective_at, quoted_period_start, quoted_period_end, "
        "quoted_version, quoted_fraction, quote_lines, net_minor, currency, created_at, "
        "updated_at) VALUES (1, 1, 'T1', 'U1', 10, 12, '', 'applied', 'scr_1', "
        "'2026-01-16 00:00:00+00:00', '2026-01-16 00:00:00+00:00', '2026-01-01 00:00:00+00:00', "
        "'2026-02-01 00:00:00+00:00', 1, '16/31', "
        '\'[{"kind": "credit", "quantity": 10, "amount_minor": -15484}, '
        '{"kind": "charge", "quantity": 12, "amount_minor": 18581}]\', 3097, \'USD\', '
        "'2026-01-16 00:00:00+00:00', '2026-01-16 00:00:00+00:00')",
        "ledger_entries": "INSERT INTO ledger_entries (id, subscription_id, request_id, kind, "
        "quantity, amount_minor, currency, period_start, period_end, created_at, "
        "idempotency_key) VALUES (1, 1, 1, 'credit', 10, -15484, 'USD', "
        "'2026-01-01 00:00:00+00:00', '2026-02-01 00:00:00+00:00', '2026-01-16 00:00:00+00:00', "
        "'scr_1:credit')",
    }
    try:
        with engine.begin() as connection:
            for statement in rows.values():
                connection.exec_driver_sql(statement)
    finally:
        engine.dispose()
    upgrade(blank_db_url)
    engine = make_engine(blank_db_url)
    try:
        with engine.connect() as connection:
            counts = {
                table: connection.exec_driver_sql(f"SELECT count(*) FROM {table}").scalar_one()
                for table in rows
            }
            initial = connection.exec_driver_sql(
                "SELECT initial_seats FROM subscriptions"
            ).scalar_one()
        assert counts == dict.fromkeys(rows, 1)
        assert initial == 10  # 12 seats now, less the applied +2
        downgrade_to = "0002_slack_installations"
        with engine.connect() as connection:
            config = alembic_config(blank_db_url)
            config.attributes["connection"] = connection
            command.downgrade(config, downgrade_to)
        with engine.connect() as connection:
            after = {
                table: connection.exec_driver_sql(f"SELECT count(*) FROM {table}").scalar_one()
                for table in rows
            }
        assert after == dict.fromkeys(rows, 1)
    finally:
        engine.dispose()
