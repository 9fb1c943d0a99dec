"""The migrations produce exactly the models' schema, on SQLite and PostgreSQL."""

from __future__ import annotations

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import inspect

from billing.models import Base
from bot.db import MIGRATIONS_DIR, alembic_config, current_revision, make_engine, upgrade


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
