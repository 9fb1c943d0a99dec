"""Migration 0006: a database with history gets the events of what was applied and renewed
before, stored as ``skipped`` (billed before the hand-off existed), so ``seatbot check`` holds.
Migration 0009: webhook URLs stored before it are encrypted, only their shown form readable."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from alembic import command
from outbox_helpers import JAN_16, change
from sqlalchemy import select, text
from sqlalchemy.orm import Session, sessionmaker

from billing.books.service import SeatService
from billing.events.store import BillingWebhook, OutboxEvent
from bot.runtime.db import alembic_config, make_engine, upgrade
from bot.runtime.secrets import TokenCipher


def _events(sessions: sessionmaker[Session]) -> dict[str, tuple[str, str, str]]:
    with sessions() as session:
        return {
            row.idempotency_key: (row.webhook_id, row.body, row.status)
            for row in session.scalars(select(OutboxEvent))
        }


def test_history_before_the_outbox_gets_its_events_as_skipped(
    db_url: str, session_factory: sessionmaker[Session], seed: Any
) -> None:
    acme = seed()
    change(session_factory, acme, 12)
    change(session_factory, acme, 9)
    SeatService(session_factory).renew(acme.subscription_id, JAN_16 + timedelta(days=20))
    written = _events(session_factory)
    assert len(written) == 3

    engine = make_engine(db_url)
    try:
        with engine.connect() as connection:
            config = alembic_config(db_url)
            config.attributes["connection"] = connection
            command.downgrade(config, "0005_reports")
            connection.commit()
    finally:
        engine.dispose()
    upgrade(db_url)

    backfilled = _events(session_factory)
    assert {key: (wid, body) for key, (wid, body, _) in backfilled.items()} == {
        key: (wid, body) for key, (wid, body, _) in written.items()
    }
    assert {status for _, _, status in backfilled.values()} == {"skipped"}
    report = SeatService(session_factory).check_invariants()
    assert report.violations == ()
    assert report.outbox_events == 3


def _migrate(url: str, action: str, revision: str, cipher: TokenCipher) -> None:
    engine = make_engine(url)
    try:
        with engine.connect() as connection:
            config = alembic_config(url)
            config.attributes["connection"] = connection
            config.attributes["token_cipher"] = cipher
            getattr(command, action)(config, revision)
            connection.commit()
    finally:
        engine.dispose()


def test_webhook_urls_stored_in_clear_before_0009_are_encrypted_by_it(
    db_url: str, session_factory: sessionmaker[Session], seed: Any
) -> None:
    """A URL may carry a secret in its query: from 0009 on only its shown form is readable."""
    acme = seed()
    cipher = TokenCipher([TokenCipher.new_key()])
    clear = "https://billing.example.com/hooks?token=legacy-q-token-1234"
    _migrate(db_url, "downgrade", "0007_approvals", cipher)
    engine = make_engine(db_url)
    try:
        with engine.begin() as connection:
            connection.execute(
                text(
                    "INSERT INTO billing_webhooks (account_id, url, secret_encrypted) "
                    "VALUES (:account, :url, :secret)"
                ),
                {"account": acme.account_id, "url": clear, "secret": cipher.encrypt("whsec_x")},
            )
    finally:
        engine.dispose()
    _migrate(db_url, "upgrade", "head", cipher)
    with session_factory() as session:
        row = session.scalars(select(BillingWebhook)).one()
        assert row.url == "https://billing.example.com/hooks?token=…"
        assert cipher.decrypt(row.url_encrypted) == clear
        assert row.allow_private_destinations is False

    _migrate(db_url, "downgrade", "0007_approvals", cipher)
    engine = make_engine(db_url)
    try:
        with engine.connect() as connection:
            assert (
                connection.execute(text("SELECT url FROM billing_webhooks")).scalar_one() == clear
            )
    finally:
        engine.dispose()
    _migrate(db_url, "upgrade", "head", cipher)
