"""Renewal: advance a subscription's stored billing period up to an instant, billing each new
period once.

Each advance is a version compare-and-set plus one ``renewal`` ledger entry (seats × unit price
for the new period, billed in advance) keyed by the subscription and the period start, with its
``subscription.renewed`` outbox event, so a renewal is written and handed over once whoever
triggers it. Advancing moves the version, so quotes made in the old period become stale. The
period a subscription was loaded in is not billed by Seatbot (it was billed before Seatbot took
over).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import update
from sqlalchemy.orm import Session

from billing.events.store import record_event, subscription_renewed
from billing.models import Account, LedgerEntry, Subscription
from billing.periods import Interval, period_at, zone
from billing.proration import LedgerKind
from billing.storage import audit, execute_update, get_subscription


def renewal_key(subscription_id: int, period_start: datetime) -> str:
    """The unique ledger key of one renewal."""
    return f"renewal:{subscription_id}:{period_start.isoformat()}"


def renew_due(
    session: Session, subscription_id: int, account: Account, at: datetime
) -> list[LedgerEntry]:
    """Advance the subscription's stored period until it contains ``at``, in the caller's
    transaction; the renewal entries this call wrote (none when another process renewed it)."""
    tz = zone(account.timezone)
    written: list[LedgerEntry] = []
    while True:
        current: Subscription = get_subscription(session, subscription_id)
        if at < current.current_period_end:
            return written
        following = period_at(
            current.anchor, Interval(current.interval), current.current_period_end, tz
        )
        moved = execute_update(
            session,
            update(Subscription)
            .where(Subscription.id == current.id, Subscription.version == current.version)
            .values(
                current_period_start=following.start,
                current_period_end=following.end,
                version=Subscription.version + 1,
            ),
        )
        if moved != 1:
            continue  # renewed or changed by another process meanwhile: read again
        entry = LedgerEntry(
            subscription_id=current.id,
            request_id=None,
            kind=LedgerKind.RENEWAL.value,
            quantity=current.seats,
            amount_minor=current.seats * current.unit_price_minor,
            currency=current.currency,
            period_start=following.start,
            period_end=following.end,
            created_at=at,
            idempotency_key=renewal_key(current.id, following.start),
        )
        session.add(entry)
        session.flush()
        record_event(session, subscription_renewed(account, current, entry, at))
        audit(
            session,
            account.id,
            "system",
            "subscription.renewed",
            at,
            subscription_id=current.id,
            period_start=following.start.isoformat(),
            seats=current.seats,
            amount_minor=entry.amount_minor,
        )
        written.append(entry)
