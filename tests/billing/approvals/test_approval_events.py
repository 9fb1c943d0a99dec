"""The billing system hears every approval step: seat_change.requested when a change is
submitted, then exactly one of approved (with seat_change.applied in the same transaction),
denied, cancelled or expired; and ``seatbot check`` notices a missing or invented one."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select, text
from sqlalchemy.orm import Session, sessionmaker
from test_approvals import JAN_16, MANAGER, NOBODY, OWNER, submitted, with_policy

from billing.approvals.service import Approvals
from billing.books.service import SeatService
from billing.events.store import OutboxEvent
from billing.models import SeatChangeRequest
from billing.seats.outcomes import ChangeApplied, ChangeDenied, ReadyToConfirm
from billing.seats.service import SeatChanges

Seed = Callable[..., Any]


def events_of(sessions: sessionmaker[Session], request_id: int) -> list[dict[str, Any]]:
    """The request's events in the order they were written: type plus ``data``."""
    with sessions() as session:
        rows = session.scalars(
            select(OutboxEvent).where(OutboxEvent.request_id == request_id).order_by(OutboxEvent.id)
        )
        return [json.loads(row.body) for row in rows]


def types_of(sessions: sessionmaker[Session], request_id: int) -> list[str]:
    return [event["type"] for event in events_of(sessions, request_id)]


@pytest.fixture
def acme(seed: Seed, session_factory: sessionmaker[Session]) -> Any:
    seeded = seed()
    with_policy(session_factory, seeded.account_id, expire_after=timedelta(hours=72))
    return seeded


@pytest.fixture
def changes(session_factory: sessionmaker[Session]) -> SeatChanges:
    return SeatChanges(session_factory)


@pytest.fixture
def approvals(session_factory: sessionmaker[Session]) -> Approvals:
    return Approvals(session_factory)


def clean(sessions: sessionmaker[Session]) -> None:
    assert SeatService(sessions).check_invariants().violations == ()


def test_requested_then_approved_and_applied_with_the_same_lines(
    changes: SeatChanges, approvals: Approvals, acme: Any, session_factory: sessionmaker[Session]
) -> None:
    waiting = submitted(changes, acme, 8)
    rid = waiting.request.id
    [requested] = events_of(session_factory, rid)
    assert requested["type"] == "seat_change.requested"
    data = requested["data"]
    assert (data["from_seats"], data["to_seats"], data["request_id"]) == (10, 8, rid)
    assert data["requested_by"] == {"team_id": "T_ACME", "user_id": "U_OWNER"}
    assert data["decided_by"] is None
    assert all("ledger_key" not in line for line in data["lines"])  # quoted, not billed

    applied = approvals.approve(MANAGER, request_id=rid, revision=1, at=JAN_16, users=NOBODY)
    assert isinstance(applied, ChangeApplied)
    events = events_of(session_factory, rid)
    assert [e["type"] for e in events] == [
        "seat_change.requested",
        "seat_change.approved",
        "seat_change.applied",
    ]
    approved, billed = events[1]["data"], events[2]["data"]
    assert approved["decided_by"] == {"team_id": "T_ACME", "user_id": "U_MANAGER"}
    assert billed["decided_by"] == approved["decided_by"]

    def figures(lines: list[dict[str, Any]]) -> list[tuple[str, int, str]]:
        return sorted((line["kind"], line["quantity"], line["amount"]) for line in lines)

    # What was approved is exactly what was billed (the approval carries no ledger keys).
    assert figures(approved["lines"]) == figures(billed["lines"])
    assert approved["net"] == billed["net"] == requested["data"]["net"]
    # Clicking again writes nothing more.
    approvals.approve(MANAGER, request_id=rid, revision=1, at=JAN_16, users=NOBODY)
    assert len(events_of(session_factory, rid)) == 3
    clean(session_factory)


def test_denied_cancelled_and_expired_each_end_with_their_event(
    changes: SeatChanges, approvals: Approvals, acme: Any, session_factory: sessionmaker[Session]
) -> None:
    denied = submitted(changes, acme, 8).request.id
    outcome = approvals.deny(MANAGER, request_id=denied, reason="Not now", at=JAN_16)
    assert isinstance(outcome, ChangeDenied)
    assert types_of(session_factory, denied) == ["seat_change.requested", "seat_change.denied"]
    assert events_of(session_factory, denied)[1]["data"]["decided_by"]["user_id"] == "U_MANAGER"

    cancelled = submitted(changes, acme, 7).request.id
    changes.cancel(OWNER, request_id=cancelled, at=JAN_16)
    assert types_of(session_factory, cancelled) == [
        "seat_change.requested",
        "seat_change.cancelled",
    ]

    expired = submitted(changes, acme, 6).request.id
    assert approvals.expire(expired, JAN_16 + timedelta(hours=72)) is not None
    assert approvals.expire(expired, JAN_16 + timedelta(hours=73)) is None
    assert types_of(session_factory, expired) == ["seat_change.requested", "seat_change.expired"]
    clean(session_factory)


def test_drafts_that_never_went_to_approval_tell_the_billing_system_nothing(
    changes: SeatChanges, approvals: Approvals, acme: Any, session_factory: sessionmaker[Session]
) -> None:
    def draft(new_seats: int) -> int:
        outcome = changes.request_by_form(
            OWNER,
            account_id=acme.account_id,
            subscription_id=acme.subscription_id,
            new_seats=new_seats,
            at=JAN_16,
            users=NOBODY,
        )
        assert isinstance(outcome, ReadyToConfirm)
        return outcome.request.id

    dropped, left = draft(9), draft(8)
    changes.cancel(OWNER, request_id=dropped, at=JAN_16)
    assert approvals.expire(left, JAN_16 + timedelta(days=1)) is not None
    assert events_of(session_factory, dropped) == events_of(session_factory, left) == []
    clean(session_factory)


@pytest.mark.parametrize("plant", ["missing_decision", "invented_request"])
def test_check_names_a_missing_or_invented_approval_event(
    changes: SeatChanges,
    approvals: Approvals,
    acme: Any,
    session_factory: sessionmaker[Session],
    plant: str,
) -> None:
    rid = submitted(changes, acme, 8).request.id
    approvals.deny(MANAGER, request_id=rid, reason="No", at=JAN_16)
    with session_factory.begin() as session:
        if plant == "missing_decision":
            session.execute(
                text("DELETE FROM outbox_events WHERE event_type = 'seat_change.denied'")
            )
        else:  # the requested event moved onto a draft that was never submitted
            other = changes.request_by_form(
                OWNER,
                account_id=acme.account_id,
                subscription_id=acme.subscription_id,
                new_seats=9,
                at=JAN_16,
                users=NOBODY,
            )
            assert isinstance(other, ReadyToConfirm)
            draft_key = session.get_one(SeatChangeRequest, other.request.id).idempotency_key
            session.execute(
                text(
                    "UPDATE outbox_events SET idempotency_key = :key, request_id = :other "
                    "WHERE event_type = 'seat_change.requested'"
                ),
                {"key": f"seat_change.requested:{draft_key}", "other": other.request.id},
            )
    report = SeatService(session_factory).check_invariants()
    details = [str(v) for v in report.violations]
    if plant == "missing_decision":
        assert any("seat_change.denied event is not in the outbox" in d for d in details), details
    else:
        assert any("approval step its request never took" in d for d in details), details
        assert any("seat_change.requested event is not in the outbox" in d for d in details)
