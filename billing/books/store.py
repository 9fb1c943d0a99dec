"""The rows the books' invariants are checked over, read at once in the caller's transaction."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from billing.events.store import OutboxEvent
from billing.models import Account, AuditEvent, LedgerEntry, SeatChangeRequest, Subscription


@dataclass(frozen=True)
class Books:
    """Every account's name, subscription, request, ledger line, audit event and outbox event
    (each in id order)."""

    accounts: dict[int, str]
    subscriptions: list[Subscription]
    requests: list[SeatChangeRequest]
    entries: list[LedgerEntry]
    events: list[AuditEvent]
    outbox: list[OutboxEvent]


def read_books(session: Session) -> Books:
    """Read every row the invariants look at (in the caller's read transaction)."""
    return Books(
        accounts={a.id: a.name for a in session.scalars(select(Account))},
        subscriptions=list(session.scalars(select(Subscription).order_by(Subscription.id))),
        requests=list(session.scalars(select(SeatChangeRequest).order_by(SeatChangeRequest.id))),
        entries=list(session.scalars(select(LedgerEntry).order_by(LedgerEntry.id))),
        events=list(session.scalars(select(AuditEvent).order_by(AuditEvent.id))),
        outbox=list(session.scalars(select(OutboxEvent).order_by(OutboxEvent.id))),
    )
