"""The billing hand-off's outbox on a real database (SQLite and PostgreSQL): each applied change
and renewal writes its one event in its own transaction, and every delivery step is a
compare-and-set that one process wins."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from outbox_helpers import JAN_16, NOBODY, OWNER, change, document, outbox_rows
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from billing.books.service import SeatService
from billing.errors import InvalidInput, NotFound
from billing.events.rules import (
    DEFAULT_RETRY_SCHEDULE,
    EventType,
    OutboxStatus,
    RetrySchedule,
    event_key,
    webhook_id_for,
)
from billing.events.service import Outbox
from billing.events.store import OutboxEvent
from billing.models import LedgerEntry
from billing.money import Money
from billing.seats import steps as change_steps
from billing.seats.outcomes import ChangeApplied
from billing.seats.service import SeatChanges

LEASE = timedelta(seconds=30)

Seed = Callable[..., Any]


def events(sessions: sessionmaker[Session]) -> list[OutboxEvent]:
    return outbox_rows(sessions)


# ---------------------------------------------------------------- writing events


def test_an_applied_change_writes_one_event_whose_lines_are_its_ledger_lines(
    session_factory: sessionmaker[Session], seed: Seed
) -> None:
    acme = seed(seats=10, unit_price_minor=3000)
    applied = change(session_factory, acme, 12)
    [row] = events(session_factory)
    body = document(row)
    data = body["data"]
    request = applied.request
    assert row.event_type == body["type"] == "seat_change.applied"
    assert row.status == OutboxStatus.PENDING.value
    assert row.request_id == request.id == data["request_id"]
    assert row.idempotency_key == data["idempotency_key"]
    assert row.idempotency_key == event_key(EventType.SEAT_CHANGE_APPLIED, request.idempotency_key)
    assert row.webhook_id == webhook_id_for(row.idempotency_key)
    assert row.webhook_id.startswith("msg_")
    assert body["timestamp"] == data["occurred_at"] == JAN_16.isoformat()
    assert (data["account"], data["product"]) == ("acme", "axiom")
    assert (data["from_seats"], data["to_seats"]) == (10, 12)
    assert data["effective_at"] == JAN_16.isoformat()
    # 16 of 31 days left in January: credit 10 × 30.00 × 16/31, charge 12 × 30.00 × 16/31.
    assert [(line["kind"], line["quantity"], line["amount"]) for line in data["lines"]] == [
        ("credit", 10, "-154.84"),
        ("charge", 12, "185.81"),
    ]
    assert data["net"] == "30.97"
    assert data["currency"] == "USD"
    assert data["requested_by"] == data["decided_by"] == {"team_id": "T_ACME", "user_id": "U_OWNER"}
    with session_factory() as session:
        ledger = list(
            session.scalars(
                select(LedgerEntry)
                .where(LedgerEntry.request_id == request.id)
                .order_by(LedgerEntry.id)
            )
        )
    assert [
        (
            line["kind"],
            line["quantity"],
            line["amount"],
            line["currency"],
            line["period_start"],
            line["period_end"],
            line["ledger_key"],
        )
        for line in data["lines"]
    ] == [
        (
            entry.kind,
            entry.quantity,
            Money(entry.amount_minor, entry.currency).to_decimal_string(),
            entry.currency,
            entry.period_start.isoformat(),
            entry.period_end.isoformat(),
            entry.idempotency_key,
        )
        for entry in ledger
    ]


def test_money_has_the_currencys_decimals(
    session_factory: sessionmaker[Session], seed: Seed
) -> None:
    kuwait = seed("kuwait", currency="KWD", unit_price_minor=9750, seats=3)
    change(session_factory, kuwait, 4)
    tokyo = seed("tokyo", currency="JPY", unit_price_minor=1000, seats=4)
    change(session_factory, tokyo, 5)
    amounts = {
        document(row)["data"]["currency"]: [
            line["amount"] for line in document(row)["data"]["lines"]
        ]
        for row in events(session_factory)
    }
    # 16/31 of a period: KWD has three decimals, JPY none.
    assert amounts == {"KWD": ["-15.097", "20.129"], "JPY": ["-2065", "2581"]}


def test_an_apply_that_fails_after_its_event_leaves_neither_event_nor_ledger(
    session_factory: sessionmaker[Session], seed: Seed, monkeypatch: pytest.MonkeyPatch
) -> None:
    acme = seed()
    real_audit = change_steps.audit

    def failing_audit(
        session: Session, account_id: int, actor: str, action: str, *a: Any, **k: Any
    ) -> None:
        if action == "request.applied":  # after the ledger lines and the event were written
            raise RuntimeError("the process dies here")
        real_audit(session, account_id, actor, action, *a, **k)

    monkeypatch.setattr(change_steps, "audit", failing_audit)
    with pytest.raises(RuntimeError):
        change(session_factory, acme, 12)
    with session_factory() as session:
        assert session.scalar(select(func.count()).select_from(OutboxEvent)) == 0
        assert session.scalar(select(func.count()).select_from(LedgerEntry)) == 0
    monkeypatch.setattr(change_steps, "audit", real_audit)
    [request] = SeatService(session_factory).history(acme.account_id)
    applied = SeatChanges(session_factory).confirm(
        OWNER, request_id=request.id, revision=request.revision, at=JAN_16, users=NOBODY
    )
    assert isinstance(applied, ChangeApplied)
    assert len(events(session_factory)) == 1


def test_a_renewal_writes_its_event_once(
    session_factory: sessionmaker[Session], seed: Seed
) -> None:
    acme = seed(seats=10, unit_price_minor=3000)
    service = SeatService(session_factory)
    written = service.renew(acme.subscription_id, datetime(2026, 2, 3, tzinfo=UTC))
    assert service.renew(acme.subscription_id, datetime(2026, 2, 3, tzinfo=UTC)) == []
    [renewal] = written
    [row] = events(session_factory)
    data = document(row)["data"]
    assert row.event_type == "subscription.renewed"
    assert row.request_id is None
    assert data["request_id"] is None
    assert row.idempotency_key == event_key(EventType.SUBSCRIPTION_RENEWED, renewal.idempotency_key)
    assert (data["seats"], data["amount"], data["currency"]) == (10, "300.00", "USD")
    assert data["period_start"] == datetime(2026, 2, 1, tzinfo=UTC).isoformat()
    assert data["lines"][0]["ledger_key"] == renewal.idempotency_key


# ---------------------------------------------------------------- delivering them


def test_one_of_many_claimers_wins_each_attempt(
    session_factory: sessionmaker[Session], seed: Seed
) -> None:
    change(session_factory, seed(), 12)
    outbox = Outbox(session_factory)
    now = datetime.now(UTC)
    [event_id] = outbox.due(now)
    wins: list[Any] = []
    barrier = threading.Barrier(8)

    def claimer() -> None:
        barrier.wait()
        claimed = outbox.claim(event_id, now, LEASE)
        if claimed is not None:
            wins.append(claimed)

    threads = [threading.Thread(target=claimer) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    [delivery] = wins
    assert delivery.attempt == 1
    assert outbox.due(now) == []  # claimed: nobody else may try it
    # A claim that lapses (its process died) is taken over: attempt 2, same webhook-id.
    later = now + LEASE + timedelta(seconds=1)
    taken_over = outbox.claim(event_id, later, LEASE)
    assert taken_over is not None
    assert (taken_over.attempt, taken_over.webhook_id) == (2, delivery.webhook_id)
    # The first claimer's outcome no longer counts; the second's does.
    assert not outbox.attempt_failed(delivery, "HTTP 500", later).recorded
    assert outbox.delivered(taken_over, later)
    assert outbox.claim(event_id, later + LEASE * 3, LEASE) is None
    assert outbox.entry(str(event_id)).status is OutboxStatus.SENT


def test_failed_attempts_follow_the_schedule_then_fail_and_owners_are_told_once(
    session_factory: sessionmaker[Session], seed: Seed
) -> None:
    change(session_factory, seed(), 12)
    schedule = RetrySchedule.of_seconds([10, 20])
    outbox = Outbox(session_factory, schedule)
    now = datetime.now(UTC)
    [event_id] = outbox.due(now)
    first = outbox.claim(event_id, now, LEASE)
    assert first is not None
    recorded = outbox.attempt_failed(first, "HTTP 500", now)
    assert recorded.retry_at == now + timedelta(seconds=10)
    assert outbox.due(now + timedelta(seconds=9)) == []
    assert outbox.claim(event_id, now + timedelta(seconds=9), LEASE) is None
    second = outbox.claim(event_id, now + timedelta(seconds=10), LEASE)
    assert second is not None
    assert second.attempt == 2
    assert outbox.attempt_failed(second, "no answer within 10 s", now).retry_at is not None
    third = outbox.claim(event_id, now + timedelta(seconds=30), LEASE)
    assert third is not None
    assert third.attempt == 3
    final = outbox.attempt_failed(third, "HTTP 503", now + timedelta(seconds=30))
    assert final.failed
    assert [entry.id for entry in outbox.entries(failed_only=True)] == [event_id]
    assert outbox.entry(str(event_id)).last_error == "HTTP 503"

    assert outbox.failures_to_tell() == [event_id]
    notice = outbox.claim_notice(event_id, now)
    assert notice is not None
    assert notice.owners == (("T_ACME", "U_OWNER"),)
    assert (notice.account_name, notice.attempts, notice.last_error) == ("acme", 3, "HTTP 503")
    assert outbox.claim_notice(event_id, now) is None  # told once
    assert outbox.failures_to_tell() == []

    # Retried by the operator: due at once, a fresh schedule, told again if it fails again.
    retried = outbox.retry(str(event_id), now)
    assert (retried.status, retried.attempts) == (OutboxStatus.PENDING, 0)
    again = outbox.claim(event_id, now, LEASE)
    assert again is not None
    assert again.attempt == 1
    assert outbox.delivered(again, now)
    with pytest.raises(InvalidInput, match="was delivered"):
        outbox.retry(again.webhook_id, now)
    with pytest.raises(NotFound):
        outbox.retry("msg_nosuchevent", now)


def test_retry_all_failed_and_in_flight_events(
    session_factory: sessionmaker[Session], seed: Seed
) -> None:
    acme = seed()
    change(session_factory, acme, 12)
    change(session_factory, acme, 14)
    outbox = Outbox(session_factory, RetrySchedule.of_seconds([]))
    now = datetime.now(UTC)
    first, second = outbox.due(now)
    claimed = outbox.claim(first, now, LEASE)
    assert claimed is not None
    assert outbox.attempt_failed(claimed, "HTTP 500", now).failed
    in_flight = outbox.claim(second, now, LEASE)
    assert in_flight is not None
    with pytest.raises(InvalidInput, match="being delivered right now"):
        outbox.retry(str(second), now)
    assert outbox.retry_all_failed(now) == 1
    assert outbox.due(now) == [first]


def test_due_events_are_only_those_of_accounts_with_a_destination(
    session_factory: sessionmaker[Session], seed: Seed
) -> None:
    acme, globex = seed("acme"), seed("globex")
    change(session_factory, acme, 12)
    change(session_factory, globex, 12)
    outbox = Outbox(session_factory)
    now = datetime.now(UTC)
    assert len(outbox.due(now)) == 2
    assert len(outbox.due(now, account_ids={globex.account_id})) == 1
    assert outbox.due(now, account_ids=set()) == []
    assert outbox.accounts_with_webhooks() == frozenset()


def test_the_default_schedule_spans_about_a_day() -> None:
    assert timedelta(hours=20) <= DEFAULT_RETRY_SCHEDULE.span <= timedelta(hours=30)
    assert DEFAULT_RETRY_SCHEDULE.attempts == 12
    assert DEFAULT_RETRY_SCHEDULE.after(1) == timedelta(seconds=5)
    assert DEFAULT_RETRY_SCHEDULE.after(12) is None
    with pytest.raises(ValueError, match="positive"):
        RetrySchedule.of_seconds([1, 0])
