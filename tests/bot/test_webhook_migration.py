"""Migration 0006: a database with history gets the events of what was applied and renewed
before, stored as ``skipped`` (billed before the hand-off existed), so ``seatbot check`` holds."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from alembic import command
from outbox_helpers import JAN_16, change
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from billing.models import OutboxEvent
from billing.service import SeatService
from bot.db import alembic_config, make_engine, upgrade


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
