"""``seatbot check``'s invariants: clean after real work, and each planted violation named."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select, text, update
from sqlalchemy.orm import Session, sessionmaker

from billing.access import Caller
from billing.books.rules import CheckReport
from billing.books.service import SeatService
from billing.events.rules import EventType
from billing.events.store import OutboxEvent, record_event, seat_change_event
from billing.models import Account, AuditEvent, LedgerEntry, SeatChangeRequest, Subscription
from billing.seats.outcomes import ChangeApplied, ReadyToConfirm
from billing.seats.service import SeatChanges
from billing.users import UserListing

OWNER = Caller("T_ACME", "U_OWNER")
JAN_16 = datetime(2026, 1, 16, tzinfo=UTC)
NOBODY = UserListing.complete([])

Seed = Callable[..., Any]


def check(session_factory: sessionmaker[Session]) -> CheckReport:
    return SeatService(session_factory).check_invariants()


def work(session_factory: sessionmaker[Session], seed: Seed) -> dict[str, int]:
    """An applied increase, an applied decrease after a re-quote, a cancelled draft, a renewal."""
    acme = seed()
    changes = SeatChanges(session_factory)

    def draft(new_seats: int, at: datetime = JAN_16) -> ReadyToConfirm:
        outcome = changes.request_by_form(
            OWNER,
            account_id=acme.account_id,
            subscription_id=acme.subscription_id,
            new_seats=new_seats,
            at=at,
            users=NOBODY,
        )
        assert isinstance(outcome, ReadyToConfirm)
        return outcome

    def confirm(prompt: ReadyToConfirm, at: datetime = JAN_16) -> Any:
        return changes.confirm(
            OWNER,
            request_id=prompt.request.id,
            revision=prompt.request.revision,
            at=at,
            users=NOBODY,
        )

    up = draft(12)
    down = draft(8)
    assert isinstance(confirm(up), ChangeApplied)
    requoted = confirm(down)  # the subscription moved: re-quoted 12 → 8
    assert isinstance(requoted, ReadyToConfirm)
    applied = confirm(requoted)
    assert isinstance(applied, ChangeApplied)
    dropped = draft(9)
    changes.cancel(OWNER, request_id=dropped.request.id, at=JAN_16)
    SeatService(session_factory).renew(acme.subscription_id, JAN_16 + timedelta(days=20))
    return {
        "subscription": acme.subscription_id,
        "up": up.request.id,
        "dropped": dropped.request.id,
    }


def test_real_work_is_clean(session_factory: sessionmaker[Session], seed: Seed) -> None:
    work(session_factory, seed)
    report = check(session_factory)
    assert report.violations == ()
    assert (report.subscriptions, report.requests, report.ledger_lines) == (1, 3, 5)
    assert report.outbox_events == 3  # two applied changes and one renewal


def _delete_event(session_factory: sessionmaker[Session], action: str, request_id: int) -> None:
    with session_factory.begin() as session:
        for event in session.scalars(select(AuditEvent).where(AuditEvent.action == action)):
            if json.loads(event.details).get("request_id") == request_id:
                session.delete(event)


def _plant(session_factory: sessionmaker[Session], statement: Any, **params: Any) -> None:
    with session_factory.begin() as session:
        session.execute(statement, params)


@pytest.mark.parametrize(
    ("plant", "rule", "says"),
    [
        ("seats", "seats", "has 9 seats, but it started with 10"),
        ("amount", "ledger", "differ from its stored quote"),
        ("requote_after_apply", "ledger", "differ from its stored quote"),
        ("line_on_cancelled", "ledger", "is cancelled but has 1 ledger line"),
        ("applied_twice", "twice", "applied 2 time(s)"),
        ("no_creation", "audit", "does not start with its creation"),
        ("status_without_trail", "audit", "is applied but its trail ends with"),
        ("no_event", "outbox", "its seat_change.applied event is not in the outbox"),
        ("no_renewal_event", "outbox", "its subscription.renewed event is not in the outbox"),
        ("invented_event", "outbox", "records a change or renewal that is not in the ledger"),
        ("event_lines", "outbox", "its lines differ from the ledger lines it records"),
    ],
)
def test_each_planted_violation_is_named(
    session_factory: sessionmaker[Session], seed: Seed, plant: str, rule: str, says: str
) -> None:
    ids = work(session_factory, seed)
    up = ids["up"]
    if plant == "seats":
        _plant(session_factory, update(Subscription).values(seats=9))
    elif plant == "amount":
        _plant(
            session_factory,
            text("UPDATE ledger_entries SET amount_minor = amount_minor + 1 WHERE request_id = :r"),
            r=up,
        )
    elif plant == "requote_after_apply":
        # What defect 1 did: a re-quote rewrote an applied request's stored lines.
        lines = [{"kind": "credit", "quantity": 10, "amount_minor": -1}]
        _plant(
            session_factory,
            update(SeatChangeRequest)
            .where(SeatChangeRequest.id == up)
            .values(quote_lines=json.dumps(lines), net_minor=-1),
        )
    elif plant == "line_on_cancelled":
        with session_factory.begin() as session:
            entry = session.scalars(select(LedgerEntry).where(LedgerEntry.request_id == up)).first()
            assert entry is not None
            session.add(
                LedgerEntry(
                    subscription_id=entry.subscription_id,
                    request_id=ids["dropped"],
                    kind="charge",
                    quantity=1,
                    amount_minor=100,
                    currency="USD",
                    period_start=entry.period_start,
                    period_end=entry.period_end,
                    created_at=entry.created_at,
                    idempotency_key="planted",
                )
            )
    elif plant == "applied_twice":
        with session_factory.begin() as session:
            event = session.scalars(
                select(AuditEvent).where(AuditEvent.action == "request.applied")
            ).first()
            assert event is not None
            session.add(
                AuditEvent(
                    account_id=event.account_id,
                    actor=event.actor,
                    action=event.action,
                    details=event.details,
                    at=event.at,
                )
            )
    elif plant == "no_creation":
        _delete_event(session_factory, "request.created", up)
    elif plant == "status_without_trail":
        _delete_event(session_factory, "request.applied", up)
    elif plant == "no_event":
        _plant(session_factory, text("DELETE FROM outbox_events WHERE request_id = :r"), r=up)
    elif plant == "no_renewal_event":
        _plant(
            session_factory,
            text("DELETE FROM outbox_events WHERE event_type = 'subscription.renewed'"),
        )
    elif plant == "invented_event":
        with session_factory.begin() as session:
            request = session.get_one(SeatChangeRequest, ids["dropped"])
            subscription = session.get_one(Subscription, request.subscription_id)
            account = session.get_one(Account, subscription.account_id)
            record_event(
                session,
                seat_change_event(
                    EventType.SEAT_CHANGE_APPLIED, account, subscription, request, JAN_16
                ),
            )
    elif plant == "event_lines":
        with session_factory.begin() as session:
            row = session.scalars(select(OutboxEvent).where(OutboxEvent.request_id == up)).one()
            row.body = row.body.replace('"quantity":12', '"quantity":13')
    report = check(session_factory)
    assert not report.clean
    assert any(v.rule == rule and says in v.detail for v in report.violations), report.violations
