"""The billing hand-off's rows: the outbox of events and each account's webhook, and recording
an event in the caller's transaction.

:func:`record_event` adds the row in the transaction that writes the ledger lines, so the event
exists exactly when the change does: a rollback takes both away, a commit keeps both. Its key
is unique: an event cannot be written twice. A seat-change request's transitions build theirs
with :func:`seat_change_event` (``seat_change.applied`` adds its ledger lines), a renewal with
:func:`subscription_renewed`.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import Boolean, CheckConstraint, ForeignKey, Index, Integer, String, Text, false
from sqlalchemy.orm import Mapped, Session, mapped_column

from billing.events.rules import (
    EventLine,
    EventSubject,
    EventType,
    OutboxStatus,
    WebhookEvent,
    change_event,
    renewal_event,
)
from billing.models import (
    Account,
    Base,
    LedgerEntry,
    SeatChangeRequest,
    Subscription,
    UTCDateTime,
    _in_check,
)
from billing.money import Money


class BillingWebhook(Base):
    """Where an account's billing events go: a URL and the Standard Webhooks secret that signs
    them. ``url_encrypted`` and ``secret_encrypted`` are opaque ciphertext made and opened
    outside billing (``bot.webhooks.config``), never printed: a URL's query may hold a secret.
    ``url`` is the URL as people may read it (:func:`billing.formatting.shown_url`: no password,
    no query value). ``allow_private_destinations``: the operator let it reach loopback and
    private addresses (:mod:`billing.events.destinations`)."""

    __tablename__ = "billing_webhooks"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    account_id: Mapped[int] = mapped_column(
        ForeignKey("accounts.id", ondelete="CASCADE"), unique=True
    )
    url: Mapped[str] = mapped_column(String(2000))
    url_encrypted: Mapped[str] = mapped_column(Text)
    secret_encrypted: Mapped[str] = mapped_column(Text)
    allow_private_destinations: Mapped[bool] = mapped_column(
        Boolean, default=False, server_default=false()
    )


class OutboxEvent(Base):
    """One billing event, written in the transaction that made it happen (the transactional
    outbox) and delivered afterwards by ``seatbot serve``.

    ``body`` is the exact JSON text sent every time (so every retry carries the same bytes and
    the same ``webhook_id``). ``idempotency_key`` is unique and derived from what the event
    records (a request's key, a renewal's ledger key), so an event cannot be written twice.
    Delivery moves the row only by compare-and-set: an attempt claims it (``claimed_until``,
    ``attempts + 1``) while it is pending and unclaimed, so one replica sends each attempt.
    """

    __tablename__ = "outbox_events"
    __table_args__ = (
        CheckConstraint(_in_check("status", OutboxStatus), name="status"),
        CheckConstraint("attempts >= 0", name="attempts_not_negative"),
        Index(None, "status", "next_attempt_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    webhook_id: Mapped[str] = mapped_column(String(64), unique=True)
    idempotency_key: Mapped[str] = mapped_column(String(200), unique=True)
    event_type: Mapped[str] = mapped_column(String(64))
    account_id: Mapped[int] = mapped_column(
        ForeignKey("accounts.id", ondelete="RESTRICT"), index=True
    )
    request_id: Mapped[int | None] = mapped_column(
        ForeignKey("seat_change_requests.id", ondelete="RESTRICT"), index=True
    )
    body: Mapped[str] = mapped_column(Text)
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime())
    status: Mapped[str] = mapped_column(String(16))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime())
    claimed_until: Mapped[datetime | None] = mapped_column(UTCDateTime())
    last_error: Mapped[str | None] = mapped_column(String(500))
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    failed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # Set (by compare-and-set) by the one process that tells the owners about a failure.
    owners_notified_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


# -- events from rows -------------------------------------------------------------------------


def ledger_line(entry: LedgerEntry) -> EventLine:
    """A ledger entry as an event line."""
    return EventLine(
        entry.kind,
        entry.quantity,
        Money(entry.amount_minor, entry.currency),
        entry.period_start,
        entry.period_end,
        entry.idempotency_key,
    )


def quoted_lines(request: SeatChangeRequest) -> tuple[EventLine, ...]:
    """A request's stored quote as event lines (no ledger keys: nothing is written yet)."""
    return tuple(
        EventLine(
            str(item["kind"]),
            int(item["quantity"]),
            Money(int(item["amount_minor"]), request.currency),
            request.quoted_period_start,
            request.quoted_period_end,
        )
        for item in json.loads(request.quote_lines)
    )


def seat_change_event(
    event_type: EventType,
    account: Account,
    subscription: Subscription,
    request: SeatChangeRequest,
    at: datetime,
    decided_by: tuple[str, str] | None = None,
    entries: Sequence[LedgerEntry] | None = None,
) -> WebhookEvent:
    """The event of a request's transition: its ledger ``entries`` when given (applied),
    otherwise its stored quote; ``decided_by`` is ``(team_id, user_id)`` of who decided."""
    lines = (
        tuple(ledger_line(entry) for entry in entries)
        if entries is not None
        else quoted_lines(request)
    )
    return change_event(
        event_type.value,
        _subject(account, subscription),
        request_id=request.id,
        request_key=request.idempotency_key,
        old_seats=request.old_seats,
        new_seats=request.new_seats,
        effective_at=request.effective_at,
        period_start=request.quoted_period_start,
        period_end=request.quoted_period_end,
        currency=request.currency,
        lines=lines,
        requested_by=(request.requested_by_team, request.requested_by_user),
        decided_by=decided_by or (request.decided_by_team, request.decided_by_user),
        at=at,
        source=request.source,
    )


def subscription_renewed(
    account: Account, subscription: Subscription, entry: LedgerEntry, at: datetime
) -> WebhookEvent:
    """``subscription.renewed`` for the renewal ledger ``entry``."""
    return renewal_event(_subject(account, subscription), ledger_line(entry), at)


def _subject(account: Account, subscription: Subscription) -> EventSubject:
    return EventSubject(account.id, account.name, subscription.product, subscription.id)


def record_event(
    session: Session, event: WebhookEvent, *, status: OutboxStatus = OutboxStatus.PENDING
) -> OutboxEvent:
    """Add ``event`` to the outbox in the caller's transaction (due at once). Its key is
    unique: recording the same event twice fails with the transaction."""
    row = OutboxEvent(
        webhook_id=event.webhook_id,
        idempotency_key=event.idempotency_key,
        event_type=event.event_type,
        account_id=event.account_id,
        request_id=event.request_id,
        body=event.body(),
        occurred_at=event.occurred_at,
        status=status.value,
        attempts=0,
        next_attempt_at=event.occurred_at,
    )
    session.add(row)
    session.flush()
    return row
