"""Shared by the outbox tests: applying a seat change through the use cases, as an owner's
confirmation does, and reading the outbox."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from billing.access import Caller
from billing.events.store import BillingWebhook, OutboxEvent
from billing.formatting import shown_url
from billing.seats.outcomes import ChangeApplied, ReadyToConfirm
from billing.seats.service import SeatChanges
from billing.users import UserListing
from bot.runtime.secrets import TokenCipher

OWNER = Caller("T_ACME", "U_OWNER")
JAN_16 = datetime(2026, 1, 16, 12, 0, tzinfo=UTC)
NOBODY = UserListing.complete([])


def change(
    sessions: sessionmaker[Session], seeded: Any, new_seats: int, at: datetime = JAN_16
) -> ChangeApplied:
    """Request ``new_seats`` for the seeded subscription and confirm the prompt (as its
    owner): the change applied."""
    changes = SeatChanges(sessions)
    owner = Caller(seeded.team_id, seeded.owner_id)
    prompt = changes.request_by_form(
        owner,
        account_id=seeded.account_id,
        subscription_id=seeded.subscription_id,
        new_seats=new_seats,
        at=at,
        users=NOBODY,
    )
    assert isinstance(prompt, ReadyToConfirm), prompt
    applied = changes.confirm(
        owner, request_id=prompt.request.id, revision=prompt.request.revision, at=at, users=NOBODY
    )
    assert isinstance(applied, ChangeApplied), applied
    return applied


def store_webhook(
    sessions: sessionmaker[Session],
    account_id: int,
    url: str,
    secret: str,
    cipher: TokenCipher,
    *,
    allow_private: bool = False,
) -> None:
    """Store ``url`` and ``secret`` as the account's billing webhook the way ``seatbot load``
    stores them, without its rules (as one stored before a rule existed)."""
    with sessions.begin() as session:
        session.add(
            BillingWebhook(
                account_id=account_id,
                url=shown_url(url),
                url_encrypted=cipher.encrypt(url) or "",
                secret_encrypted=cipher.encrypt(secret) or "",
                allow_private_destinations=allow_private,
            )
        )


def outbox_rows(sessions: sessionmaker[Session]) -> list[OutboxEvent]:
    """Every outbox event, in the order written."""
    with sessions() as session:
        return list(session.scalars(select(OutboxEvent).order_by(OutboxEvent.id)))


def document(row: OutboxEvent) -> dict[str, Any]:
    """An outbox event's body, parsed."""
    parsed: dict[str, Any] = json.loads(row.body)
    return parsed
