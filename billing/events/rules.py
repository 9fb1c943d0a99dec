"""The billing hand-off's vocabulary and decisions, as pure functions over plain values: what
an event is and how it is built, where it stands in its delivery, and when a failed attempt is
tried again.

An event is what the operator's billing system is told: a Standard Webhooks payload
(``{"type", "timestamp", "data"}``) whose ``data`` always carries the account, the product,
the request id (``null`` for a renewal), the event's idempotency key and the instant it
happened; money is a decimal string plus its currency (``"-154.84"``, ``"USD"``), instants ISO
8601 in UTC. The events and their fields are documented in ``docs/webhooks.md``. The event's
``idempotency_key`` is derived from what it records (the request's own key, the renewal's
ledger key), and its ``webhook_id`` (the ``webhook-id`` header, the same on every retry) from
that key.

Adding an event type is one line in :class:`EventType`; recording one is
:mod:`billing.events.store`'s, delivering it :mod:`billing.events.service`'s (the bookkeeping)
and ``bot``'s (HTTP, signatures).
"""

from __future__ import annotations

import enum
import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from billing.money import Money, sum_money


class OutboxStatus(enum.StrEnum):
    """Where an outbox event is in its delivery to the billing system."""

    PENDING = "pending"  # to be delivered (now or at ``next_attempt_at``)
    SENT = "sent"  # a receiver answered 2xx
    FAILED = "failed"  # every attempt of the retry schedule failed (``seatbot webhooks retry``)
    SKIPPED = "skipped"  # written for history by the migration, never sent unless retried


class EventType(enum.StrEnum):
    """What happened. The value is the event's ``type`` as the receiver sees it."""

    SEAT_CHANGE_APPLIED = "seat_change.applied"  # seats changed; the ledger lines written
    SUBSCRIPTION_RENEWED = "subscription.renewed"  # a new period billed in advance
    # A change that needs approval: submitted, then exactly one of approved (followed in the
    # same transaction by seat_change.applied), denied, cancelled or expired. These carry the
    # quoted lines: nothing is billed until seat_change.applied.
    SEAT_CHANGE_REQUESTED = "seat_change.requested"
    SEAT_CHANGE_APPROVED = "seat_change.approved"
    SEAT_CHANGE_DENIED = "seat_change.denied"
    SEAT_CHANGE_CANCELLED = "seat_change.cancelled"
    SEAT_CHANGE_EXPIRED = "seat_change.expired"


#: The ``type`` of the test event ``seatbot webhooks test`` sends (never stored).
PING = "ping"


@dataclass(frozen=True)
class EventLine:
    """One money line of an event: a ledger line, or a quoted line (``ledger_key`` ``None``)."""

    kind: str
    quantity: int
    amount: Money
    period_start: datetime
    period_end: datetime
    ledger_key: str | None = None

    def document(self) -> dict[str, Any]:
        line: dict[str, Any] = {
            "kind": self.kind,
            "quantity": self.quantity,
            "amount": self.amount.to_decimal_string(),
            "currency": self.amount.currency,
            "period_start": instant(self.period_start),
            "period_end": instant(self.period_end),
        }
        if self.ledger_key is not None:
            line["ledger_key"] = self.ledger_key
        return line


@dataclass(frozen=True)
class WebhookEvent:
    """An event ready to store: its type, whose it is, its keys, when, and its ``data``."""

    event_type: str
    account_id: int
    request_id: int | None
    idempotency_key: str
    occurred_at: datetime
    data: Mapping[str, Any] = field(hash=False)

    @property
    def webhook_id(self) -> str:
        """The ``webhook-id`` of every delivery of this event."""
        return webhook_id_for(self.idempotency_key)

    def body(self) -> str:
        """The JSON text sent to the receiver (the same bytes on every attempt)."""
        return event_body(self.event_type, self.occurred_at, self.data)


def instant(value: datetime) -> str:
    """An aware instant as ISO 8601 in UTC (``2026-01-16T12:00:00+00:00``)."""
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError("events carry aware instants only")
    return value.astimezone(UTC).isoformat()


def event_body(event_type: str, occurred_at: datetime, data: Mapping[str, Any]) -> str:
    """A Standard Webhooks payload as compact JSON text."""
    document = {"type": event_type, "timestamp": instant(occurred_at), "data": dict(data)}
    return json.dumps(document, ensure_ascii=False, separators=(",", ":"))


def webhook_id_for(idempotency_key: str) -> str:
    """``msg_`` and 32 hex digits derived from the event's key: stable for the event, so a
    receiver that deduplicates on ``webhook-id`` sees retries as one event."""
    return "msg_" + hashlib.sha256(idempotency_key.encode()).hexdigest()[:32]


def event_key(event_type: str, source_key: str) -> str:
    """An event's idempotency key: its type and the key of what it records."""
    return f"{event_type}:{source_key}"


@dataclass(frozen=True)
class EventSubject:
    """What an event is about: an account (its id and name) and one of its subscriptions."""

    account_id: int
    account: str
    product: str
    subscription_id: int

    def event(
        self, event_type: str, key: str, request_id: int | None, at: datetime, **data: Any
    ) -> WebhookEvent:
        """The event: the fields every event's ``data`` carries, then ``data``."""
        common = {
            "account": self.account,
            "product": self.product,
            "subscription_id": self.subscription_id,
            "request_id": request_id,
            "idempotency_key": key,
            "occurred_at": instant(at),
        }
        return WebhookEvent(event_type, self.account_id, request_id, key, at, common | data)


def _person(team_id: str | None, user_id: str | None) -> dict[str, str] | None:
    if team_id is None or user_id is None:
        return None
    return {"team_id": team_id, "user_id": user_id}


# -- building events from plain values (the migration backfills with these too) ---------------


def change_event(
    event_type: str,
    subject: EventSubject,
    *,
    request_id: int,
    request_key: str,
    old_seats: int,
    new_seats: int,
    effective_at: datetime,
    period_start: datetime,
    period_end: datetime,
    currency: str,
    lines: Sequence[EventLine],
    requested_by: tuple[str, str],
    decided_by: tuple[str | None, str | None],
    at: datetime,
    source: str | None = None,
) -> WebhookEvent:
    """A seat-change request's event (``event_type``) with its lines and their net; ``source``
    (``"digest"``) says where the change was started, when it was not by ``/seats``."""
    net = sum_money([line.amount for line in lines], currency)
    return subject.event(
        event_type,
        event_key(event_type, request_key),
        request_id,
        at,
        from_seats=old_seats,
        to_seats=new_seats,
        effective_at=instant(effective_at),
        period_start=instant(period_start),
        period_end=instant(period_end),
        currency=net.currency,
        lines=[line.document() for line in lines],
        net=net.to_decimal_string(),
        requested_by=_person(*requested_by),
        decided_by=_person(*decided_by),
        **({} if source is None else {"source": source}),
    )


def renewal_event(subject: EventSubject, line: EventLine, at: datetime) -> WebhookEvent:
    """``subscription.renewed``: one new period billed in advance (``line`` is its ledger
    line: seats × unit price)."""
    if line.ledger_key is None:
        raise ValueError("a renewal event records a ledger line")
    event_type = EventType.SUBSCRIPTION_RENEWED.value
    return subject.event(
        event_type,
        event_key(event_type, line.ledger_key),
        None,
        at,
        seats=line.quantity,
        period_start=instant(line.period_start),
        period_end=instant(line.period_end),
        currency=line.amount.currency,
        lines=[line.document()],
        amount=line.amount.to_decimal_string(),
    )


# -- when a failed attempt is tried again ----------------------------------------------------


#: Seconds to wait after each failed attempt: 12 attempts over 23 h 52 min (about a day).
DEFAULT_RETRY_DELAYS_S: tuple[float, ...] = (
    5,
    30,
    2 * 60,
    5 * 60,
    15 * 60,
    30 * 60,
    60 * 60,
    2 * 3600,
    4 * 3600,
    8 * 3600,
    8 * 3600,
)


@dataclass(frozen=True)
class RetrySchedule:
    """The waits between attempts: after attempt *n* fails, the next comes ``delays[n-1]``
    later; after the last delay's attempt fails too, the event has failed."""

    delays: tuple[timedelta, ...]

    @classmethod
    def of_seconds(cls, seconds: Sequence[float]) -> RetrySchedule:
        if any(delay <= 0 for delay in seconds):
            raise ValueError("every retry delay must be positive")
        return cls(tuple(timedelta(seconds=delay) for delay in seconds))

    @property
    def attempts(self) -> int:
        """How many attempts an event gets in all."""
        return len(self.delays) + 1

    @property
    def span(self) -> timedelta:
        """How long from the first attempt to the last (at the least)."""
        return sum(self.delays, timedelta(0))

    def after(self, attempts: int) -> timedelta | None:
        """The wait after ``attempts`` failed attempts; ``None`` when none is left."""
        if 1 <= attempts <= len(self.delays):
            return self.delays[attempts - 1]
        return None


DEFAULT_RETRY_SCHEDULE = RetrySchedule.of_seconds(DEFAULT_RETRY_DELAYS_S)
