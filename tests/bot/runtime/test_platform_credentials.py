"""Platform credentials at rest, end to end: `seatbot load` stores none in clear, the migration
encrypts the ones older databases hold, rotation covers them with the Slack tokens, and a
server database without a key refuses to start. On SQLite and PostgreSQL."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import typer
from alembic import command
from pydantic import SecretStr
from slack_sdk.oauth.installation_store.models.installation import Installation
from sqlalchemy import Engine, text
from sqlalchemy.orm import Session, sessionmaker
from typer.testing import CliRunner

from billing.errors import ConfigurationError, DecryptionError
from bot.cli import database as cli_database
from bot.cli import shell as cli_shell
from bot.cli import slack as cli_slack
from bot.runtime.db import alembic_config, current_revision, make_engine, upgrade
from bot.runtime.installations import SqlInstallationStore
from bot.runtime.key_rotation import rotate_all
from bot.runtime.platform_credentials import unseal
from bot.runtime.secrets import TokenCipher, cipher_for
from bot.runtime.settings import Settings
from bot.runtime.wiring import build_runtime
from bot.setup.loader import apply_config, load_file

EXAMPLE = Path(__file__).resolve().parents[3] / "examples" / "accounts.yml"
AT = datetime(2026, 1, 16, 9, 30, tzinfo=UTC)
OLD_KEY = TokenCipher.new_key()
NEW_KEY = TokenCipher.new_key()
#: Every credential value (and the webhook secret) in examples/accounts.yml.
EXAMPLE_WEBHOOK_SECRET = "whsec_c2VhdGJvdC1sb2NhbC1kZW1vLW9ubHkh"
EXAMPLE_SECRETS = ("sandbox-api-key", "admin@acme.example", EXAMPLE_WEBHOOK_SECRET)
BOT_TOKEN = "xoxb-credentials-test-bot-token"


def raw_rows(engine: Engine, table: str) -> str:
    """Every column of every row of ``table`` as the database returns it, as one text."""
    with engine.connect() as connection:
        rows = connection.execute(text(f"SELECT * FROM {table}")).mappings().all()
    return json.dumps([dict(row) for row in rows], default=str)


def database_bytes(url: str) -> bytes:
    path = Path(url.removeprefix("sqlite:///"))
    files = [path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")]
    return b"".join(f.read_bytes() for f in files if f.exists())


def is_sqlite(url: str) -> bool:
    return url.startswith("sqlite")


@pytest.fixture
def no_keys(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SEATBOT_TOKEN_KEYS", raising=False)


def cli(module: Any) -> typer.Typer:
    app = typer.Typer()
    app.callback()(lambda: None)
    module.register(app)
    return app


# ---------------------------------------------------------------- seatbot load


def test_seatbot_load_leaves_no_credential_readable(
    db_url: str, monkeypatch: pytest.MonkeyPatch, no_keys: None
) -> None:
    monkeypatch.setenv("DATABASE_URL", db_url)
    monkeypatch.setattr(cli_shell, "utc_now", lambda: AT)
    if not is_sqlite(db_url):
        monkeypatch.setenv("SEATBOT_TOKEN_KEYS", NEW_KEY)  # SQLite makes its key file instead
    result = CliRunner().invoke(cli(cli_database), ["load", str(EXAMPLE)])
    assert result.exit_code == 0, result.output
    assert not any(secret in result.output for secret in EXAMPLE_SECRETS)

    engine = make_engine(db_url)
    try:
        stored = (
            raw_rows(engine, "platform_connections")
            + raw_rows(engine, "audit_events")
            + raw_rows(engine, "billing_webhooks")
        )
        assert "credentials_encrypted" in stored  # the right tables were read
        assert "secret_encrypted" in stored
        for secret in EXAMPLE_SECRETS:
            assert secret not in stored
        # ...yet the credentials are there, for whoever holds the key.
        settings = Settings(
            database_url=db_url, seatbot_token_keys=None if is_sqlite(db_url) else NEW_KEY
        )
        cipher = cipher_for(settings)
        with engine.connect() as connection:
            ciphertexts = connection.execute(
                text("SELECT credentials_encrypted FROM platform_connections")
            ).scalars()
            opened = [dict(unseal(cipher, c)) for c in ciphertexts if c is not None]
            webhook = connection.execute(text("SELECT secret_encrypted FROM billing_webhooks"))
            [webhook_secret] = webhook.scalars()
    finally:
        engine.dispose()
    assert {"api_key": "sandbox-api-key", "login_email": "admin@acme.example"} in opened
    assert cipher.decrypt(webhook_secret) == EXAMPLE_WEBHOOK_SECRET
    if is_sqlite(db_url):
        on_disk = database_bytes(db_url)
        assert b"platform_connections" in on_disk
        for secret in EXAMPLE_SECRETS:
            assert secret.encode() not in on_disk


def test_seatbot_load_without_a_key_on_postgresql_is_one_line_and_writes_nothing(
    db_url: str, monkeypatch: pytest.MonkeyPatch, no_keys: None
) -> None:
    monkeypatch.setenv("DATABASE_URL", db_url)
    result = CliRunner().invoke(cli(cli_database), ["load", str(EXAMPLE)])
    engine = make_engine(db_url)
    try:
        accounts = raw_rows(engine, "accounts")
    finally:
        engine.dispose()
    if is_sqlite(db_url):
        assert result.exit_code == 0, result.output
        assert Path(db_url.removeprefix("sqlite:///") + ".key").is_file()
        return
    assert result.exit_code == 2
    [line] = result.stderr.splitlines()
    assert "credentials cannot be stored: SEATBOT_TOKEN_KEYS is not set" in line
    assert "seatbot tokens new-key" in line
    assert accounts == "[]"


# ---------------------------------------------------------------- rotation


def load_example(sessions: sessionmaker[Session], cipher: TokenCipher) -> None:
    with sessions.begin() as session:
        apply_config(session, load_file(EXAMPLE), AT, cipher=cipher)


async def test_rotation_re_encrypts_slack_tokens_and_platform_credentials(
    session_factory: sessionmaker[Session], engine: Engine
) -> None:
    old = TokenCipher([OLD_KEY])
    store = SqlInstallationStore(session_factory, old, client_id="1.2")
    await store.async_save(
        Installation(team_id="T1", user_id="U1", bot_token=BOT_TOKEN, bot_id="B", bot_user_id="U")
    )
    load_example(session_factory, old)

    report = rotate_all(session_factory, TokenCipher([NEW_KEY, OLD_KEY]))
    assert (report.slack_tokens, report.platform_credentials, report.webhook_secrets) == (2, 3, 1)

    only_new = TokenCipher([NEW_KEY])
    with engine.connect() as connection:
        credentials = connection.execute(
            text("SELECT credentials_encrypted FROM platform_connections WHERE kind = 'api'")
        ).scalars()
        opened = [dict(unseal(only_new, c)) for c in credentials]
        token = connection.execute(text("SELECT bot_token_encrypted FROM slack_bots")).scalar()
        webhook, url = connection.execute(
            text("SELECT secret_encrypted, url_encrypted FROM billing_webhooks")
        ).one()
    assert {"token": "sandbox-api-key"} in opened
    assert only_new.decrypt(token) == BOT_TOKEN
    assert only_new.decrypt(webhook) == EXAMPLE_WEBHOOK_SECRET
    assert only_new.decrypt(url) == "http://127.0.0.1:8766/hooks/seatbot"
    with pytest.raises(DecryptionError):
        old.decrypt(token)


def test_rotation_with_a_lost_key_changes_nothing_and_names_the_connection(
    session_factory: sessionmaker[Session], engine: Engine
) -> None:
    load_example(session_factory, TokenCipher([OLD_KEY]))
    before = raw_rows(engine, "platform_connections")
    with pytest.raises(DecryptionError) as refused:
        rotate_all(session_factory, TokenCipher([NEW_KEY]))
    assert "credentials of account acme" in str(refused.value)
    assert "gAAAA" not in str(refused.value)  # no ciphertext
    assert raw_rows(engine, "platform_connections") == before


def test_tokens_rotate_command_counts_both(
    db_url: str, session_factory: sessionmaker[Session], monkeypatch: pytest.MonkeyPatch
) -> None:
    load_example(session_factory, TokenCipher([OLD_KEY]))
    monkeypatch.setenv("DATABASE_URL", db_url)
    monkeypatch.setenv("SEATBOT_TOKEN_KEYS", f"{NEW_KEY},{OLD_KEY}")
    result = CliRunner().invoke(cli(cli_slack), ["tokens", "rotate"])
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == (
        "Re-encrypted 0 stored token(s), the credentials of 3 platform connection(s) and 1 "
        "billing webhook secret(s) with the newest of 2 key(s)."
    )


# ---------------------------------------------------------------- the migration


PLAINTEXT_OPTIONS = {
    "api_key": "legacy-api-key-123",
    "login_email": "legacy@acme.example",
    "page_size": 25,
}


@pytest.fixture
def legacy_db(blank_db_url: str) -> str:
    """A database at the revision before encryption, holding credentials in ``options``."""
    upgrade(blank_db_url, "0002_slack_installations")
    engine = make_engine(blank_db_url)
    try:
        with engine.begin() as connection:
            connection.execute(
                text(
                    "INSERT INTO accounts (id, name, display_name, currency, timezone, team_id) "
                    "VALUES (1, 'acme', 'Acme', 'USD', 'UTC', 'T1')"
                )
            )
            for row_id, product, options in (
                (1, "axiom", PLAINTEXT_OPTIONS),
                (2, "matrix", {"token": "legacy-matrix-token"}),
                (3, "contact_center", {"page_size": 10}),
            ):
                connection.execute(
                    text(
                        "INSERT INTO platform_connections "
                        "(id, account_id, product, kind, base_url, options) "
                        "VALUES (:id, 1, :product, 'api', 'https://x.example', :options)"
                    ),
                    {"id": row_id, "product": product, "options": json.dumps(options)},
                )
    finally:
        engine.dispose()
    return blank_db_url


def test_upgrade_encrypts_the_credentials_older_rows_hold(
    legacy_db: str, monkeypatch: pytest.MonkeyPatch, no_keys: None
) -> None:
    if not is_sqlite(legacy_db):
        monkeypatch.setenv("SEATBOT_TOKEN_KEYS", NEW_KEY)
    upgrade(legacy_db, "0003_platform_credentials")
    assert current_revision(legacy_db) == "0003_platform_credentials"
    engine = make_engine(legacy_db)
    try:
        stored = raw_rows(engine, "platform_connections")
        with engine.connect() as connection:
            rows = connection.execute(
                text("SELECT product, options, credentials_encrypted FROM platform_connections")
            ).all()
    finally:
        engine.dispose()
    for secret in ("legacy-api-key-123", "legacy@acme.example", "legacy-matrix-token"):
        assert secret not in stored
    cipher = cipher_for(
        Settings(
            database_url=legacy_db, seatbot_token_keys=None if is_sqlite(legacy_db) else NEW_KEY
        )
    )
    by_product = {
        product: (json.loads(options), ciphertext) for product, options, ciphertext in rows
    }
    assert by_product["axiom"][0] == {"page_size": 25}
    assert unseal(cipher, by_product["axiom"][1]) == {
        "api_key": "legacy-api-key-123",
        "login_email": "legacy@acme.example",
    }
    assert unseal(cipher, by_product["matrix"][1]) == {"token": "legacy-matrix-token"}
    assert by_product["contact_center"] == ({"page_size": 10}, None)
    if is_sqlite(legacy_db):
        on_disk = database_bytes(legacy_db)
        for secret in ("legacy-api-key-123", "legacy-matrix-token"):
            assert secret.encode() not in on_disk


def test_upgrade_without_a_key_on_postgresql_stops_and_changes_nothing(
    legacy_db: str, no_keys: None
) -> None:
    if is_sqlite(legacy_db):
        upgrade(legacy_db)  # the key file is made on the spot
        assert Path(legacy_db.removeprefix("sqlite:///") + ".key").is_file()
        return
    with pytest.raises(ConfigurationError) as refused:
        upgrade(legacy_db)
    assert "seatbot tokens new-key" in str(refused.value)
    assert current_revision(legacy_db) == "0002_slack_installations"
    engine = make_engine(legacy_db)
    try:
        assert "legacy-api-key-123" in raw_rows(engine, "platform_connections")
    finally:
        engine.dispose()


def test_downgrade_puts_the_credentials_back_into_options(
    legacy_db: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SEATBOT_TOKEN_KEYS", NEW_KEY)
    upgrade(legacy_db)
    engine = make_engine(legacy_db)
    try:
        with engine.connect() as connection:
            config = alembic_config(legacy_db)
            config.attributes["connection"] = connection
            command.downgrade(config, "0002_slack_installations")
        with engine.connect() as connection:
            options = connection.execute(
                text("SELECT options FROM platform_connections WHERE product = 'axiom'")
            ).scalar_one()
    finally:
        engine.dispose()
    assert json.loads(options) == PLAINTEXT_OPTIONS


def test_a_cipher_handed_to_the_migration_is_used(legacy_db: str, no_keys: None) -> None:
    cipher = TokenCipher([OLD_KEY])
    engine = make_engine(legacy_db)
    try:
        with engine.connect() as connection:
            config = alembic_config(legacy_db)
            config.attributes["connection"] = connection
            config.attributes["token_cipher"] = cipher
            command.upgrade(config, "head")
        with engine.connect() as connection:
            ciphertext = connection.execute(
                text("SELECT credentials_encrypted FROM platform_connections WHERE id = 2")
            ).scalar_one()
    finally:
        engine.dispose()
    assert unseal(cipher, ciphertext) == {"token": "legacy-matrix-token"}


# ---------------------------------------------------------------- startup


def test_serve_refuses_a_server_database_without_a_key(
    db_url: str, monkeypatch: pytest.MonkeyPatch, no_keys: None
) -> None:
    settings = Settings(
        database_url=db_url,
        slack_signing_secret=SecretStr("credentials-test-signing-secret"),
        slack_bot_token=SecretStr(BOT_TOKEN),
    )
    if is_sqlite(db_url):
        runtime = build_runtime(settings)
        runtime.engine.dispose()
        assert Path(db_url.removeprefix("sqlite:///") + ".key").is_file()
        return
    with pytest.raises(ConfigurationError):
        build_runtime(settings)

    def serve(settings: Settings, host: str, port: int | None) -> None:
        build_runtime(settings)

    monkeypatch.setenv("DATABASE_URL", db_url)
    app = typer.Typer()
    app.callback()(lambda: None)
    cli_slack.register(app, serve=serve)
    result = CliRunner().invoke(app, ["serve"])
    assert result.exit_code == 2
    [line] = result.stderr.splitlines()
    assert line.startswith("seatbot: SEATBOT_TOKEN_KEYS is not set")
    assert "`seatbot tokens new-key`" in line
