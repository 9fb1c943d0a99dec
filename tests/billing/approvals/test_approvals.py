"""Approval by managers on a real database (SQLite and PostgreSQL): routing, guards, approve,
deny, cancel, re-pricing, and exactly one decision under concurrency."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from billing.access import Caller
from billing.approvals.rules import ApprovalPolicy
from billing.approvals.service import Approvals
from billing.books.service import SeatService
from billing.errors import NO_ROLE, NotAuthorised, NotFound, UserFacingError
from billing.models import Account, AuditEvent, LedgerEntry, Member
from billing.requests import RequestStatus
from billing.seats.outcomes import (
    AlreadyApplied,
    ApprovalPrompt,
    AwaitingApproval,
    ChangeApplied,
    ChangeCancelled,
    ChangeClosed,
    ChangeDenied,
    ChangeEnded,
    MessageRef,
    ReadyToConfirm,
    UsersNeeded,
)
from billing.seats.service import SeatChanges
from billing.setup.store import apply_approval_policy
from billing.users import UserListing

T = "T_ACME"
OWNER = Caller(T, "U_OWNER")
MANAGER = Caller(T, "U_MANAGER")
VIEWER = Caller(T, "U_VIEWER")
JAN_16 = datetime(2026, 1, 16, 9, tzinfo=UTC)
NOBODY = UserListing.complete([])

Seed = Callable[..., Any]


def with_policy(sessions: sessionmaker[Session], account_id: int, **rules: Any) -> ApprovalPolicy:
    policy = ApprovalPolicy(**({"require_decrease": True} | rules))
    with sessions.begin() as session:
        account = session.get(Account, account_id)
        assert account is not None
        apply_approval_policy(session, account, policy)
    return policy


@pytest.fixture
def acme(seed: Seed, session_factory: sessionmaker[Session]) -> Any:
    seeded = seed()
    with_policy(session_factory, seeded.account_id)
    return seeded


@pytest.fixture
def changes(session_factory: sessionmaker[Session]) -> SeatChanges:
    return SeatChanges(session_factory)


@pytest.fixture
def approvals(session_factory: sessionmaker[Session]) -> Approvals:
    return Approvals(session_factory)


def submitted(changes: SeatChanges, acme: Any, new_seats: int, at: datetime = JAN_16) -> Any:
    """A draft for ``new_seats``, confirmed by the owner: pending approval."""
    draft = changes.request_by_form(
        OWNER,
        account_id=acme.account_id,
        subscription_id=acme.subscription_id,
        new_seats=new_seats,
        at=at,
        users=NOBODY,
    )
    assert isinstance(draft, ReadyToConfirm)
    outcome = changes.confirm(
        OWNER, request_id=draft.request.id, revision=draft.request.revision, at=at, users=NOBODY
    )
    assert isinstance(outcome, AwaitingApproval), outcome
    return outcome


def ledger_count(sessions: sessionmaker[Session]) -> int:
    with sessions() as session:
        return len(list(session.scalars(select(LedgerEntry))))


def test_a_decrease_waits_for_the_managers(
    changes: SeatChanges, acme: Any, session_factory: sessionmaker[Session]
) -> None:
    waiting = submitted(changes, acme, 8)
    assert waiting.approvers == ("U_MANAGER",)
    assert waiting.request.status is RequestStatus.PENDING_APPROVAL
    assert waiting.request.approvers == ((T, "U_MANAGER"),)
    assert ledger_count(session_factory) == 0
    # The owner's Confirm again says it waits; nothing applies.
    again = changes.confirm(
        OWNER, request_id=waiting.request.id, revision=waiting.request.revision, at=JAN_16
    )
    assert isinstance(again, ChangeClosed)
    assert "waiting for a manager's approval" in again.message


def test_an_increase_within_policy_applies_on_confirmation(changes: SeatChanges, acme: Any) -> None:
    draft = changes.request_by_form(
        OWNER,
        account_id=acme.account_id,
        subscription_id=acme.subscription_id,
        new_seats=12,
        at=JAN_16,
        users=NOBODY,
    )
    assert isinstance(draft, ReadyToConfirm)
    applied = changes.confirm(OWNER, request_id=draft.request.id, revision=1, at=JAN_16)
    assert isinstance(applied, ChangeApplied)


@pytest.mark.parametrize(
    ("rules", "new_seats", "routed"),
    [
        ({"require_decrease": False, "increase_over_seats": 5}, 15, False),
        ({"require_decrease": False, "increase_over_seats": 5}, 16, True),
        ({"require_decrease": False, "net_charge_over_minor": 10_000}, 16, False),  # 61.94
        ({"require_decrease": False, "net_charge_over_minor": 5_000}, 16, True),
    ],
)
def test_the_policy_routes_by_size_and_money(
    changes: SeatChanges,
    seed: Seed,
    session_factory: sessionmaker[Session],
    rules: dict[str, Any],
    new_seats: int,
    routed: bool,
) -> None:
    acme = seed()
    with_policy(session_factory, acme.account_id, **rules)
    draft = changes.request_by_form(
        OWNER,
        account_id=acme.account_id,
        subscription_id=acme.subscription_id,
        new_seats=new_seats,
        at=JAN_16,
    )
    assert isinstance(draft, ReadyToConfirm)
    outcome = changes.confirm(OWNER, request_id=draft.request.id, revision=1, at=JAN_16)
    assert isinstance(outcome, AwaitingApproval) is routed


@pytest.mark.parametrize(
    ("caller", "error"),
    [
        (OWNER, NotAuthorised),  # nobody approves their own request
        (VIEWER, NotAuthorised),  # not an approver
        (Caller("T_OTHER", "U_MANAGER"), NotFound),  # another workspace
    ],
)
def test_only_an_approver_who_did_not_ask_decides_and_refusals_are_audited(
    changes: SeatChanges,
    approvals: Approvals,
    acme: Any,
    session_factory: sessionmaker[Session],
    caller: Caller,
    error: type[Exception],
) -> None:
    waiting = submitted(changes, acme, 8)
    with pytest.raises(error):
        approvals.approve(
            caller, request_id=waiting.request.id, revision=waiting.request.revision, at=JAN_16
        )
    with pytest.raises(error):
        approvals.deny(caller, request_id=waiting.request.id, reason="no", at=JAN_16)
    if error is NotAuthorised:
        with session_factory() as session:
            refusals = session.scalars(
                select(AuditEvent).where(AuditEvent.action == "approval.refused")
            ).all()
        assert len(refusals) == 2
        assert {r.actor for r in refusals} == {caller.actor}
    assert SeatService(session_factory).get_request(waiting.request.id).status is (
        RequestStatus.PENDING_APPROVAL
    )


def test_a_refusal_tells_a_caller_without_a_role_nothing_of_the_account(
    changes: SeatChanges, approvals: Approvals, acme: Any
) -> None:
    waiting = submitted(changes, acme, 8)
    with pytest.raises(NotAuthorised) as member:
        approvals.deny(VIEWER, request_id=waiting.request.id, reason="no", at=JAN_16)
    assert member.value.contacts == ("U_MANAGER",)  # a member is told whom to ask
    nobody = Caller("T_ACME", "U_NOBODY")
    with pytest.raises(NotAuthorised) as refused:
        approvals.approve(
            nobody, request_id=waiting.request.id, revision=waiting.request.revision, at=JAN_16
        )
    assert (refused.value.message, refused.value.contacts) == (NO_ROLE, ())


def test_approve_checks_the_platform_applies_once_and_stamps(
    changes: SeatChanges,
    approvals: Approvals,
    acme: Any,
    session_factory: sessionmaker[Session],
) -> None:
    waiting = submitted(changes, acme, 8)
    approvals.record_messages(
        waiting.request.id,
        [MessageRef(T, "D_MANAGER", "1.000100", "U_MANAGER"), MessageRef(T, "C_OK", "2.2")],
        JAN_16,
    )
    ask = approvals.approve(MANAGER, request_id=waiting.request.id, revision=1, at=JAN_16)
    assert ask == UsersNeeded(acme.account_id, waiting.request.product)
    blocked = approvals.approve(
        MANAGER,
        request_id=waiting.request.id,
        revision=1,
        at=JAN_16,
        users=UserListing.complete(_users(9)),
    )
    assert isinstance(blocked, ApprovalPrompt)
    assert blocked.check is not None
    assert blocked.check.blocked
    assert ledger_count(session_factory) == 0
    applied = approvals.approve(
        MANAGER, request_id=waiting.request.id, revision=1, at=JAN_16, users=NOBODY
    )
    assert isinstance(applied, ChangeApplied)
    assert applied.confirmed_by == "U_MANAGER"
    assert [(s.channel_id, s.ts) for s in applied.stamps] == [
        ("D_MANAGER", "1.000100"),
        ("C_OK", "2.2"),
    ]
    assert (applied.request.decided_by_user, applied.request.status) == (
        "U_MANAGER",
        RequestStatus.APPLIED,
    )
    assert ledger_count(session_factory) == 2
    again = approvals.approve(
        MANAGER, request_id=waiting.request.id, revision=1, at=JAN_16, users=NOBODY
    )
    assert isinstance(again, AlreadyApplied)
    assert ledger_count(session_factory) == 2
    assert SeatService(session_factory).check_invariants().violations == ()


def test_deny_records_why_and_changes_nothing(
    changes: SeatChanges,
    approvals: Approvals,
    acme: Any,
    session_factory: sessionmaker[Session],
) -> None:
    waiting = submitted(changes, acme, 8)
    denied = approvals.deny(
        MANAGER, request_id=waiting.request.id, reason="  Not this quarter.  ", at=JAN_16
    )
    assert isinstance(denied, ChangeDenied)
    assert denied.request.decision_reason == "Not this quarter."
    assert denied.request.status is RequestStatus.DENIED
    late = approvals.approve(
        MANAGER, request_id=waiting.request.id, revision=1, at=JAN_16, users=NOBODY
    )
    assert isinstance(late, ChangeClosed)
    assert "denied" in late.message
    assert ledger_count(session_factory) == 0
    assert SeatService(session_factory).check_invariants().violations == ()


def test_the_owner_cancels_while_pending_and_the_messages_are_stamped(
    changes: SeatChanges, approvals: Approvals, acme: Any
) -> None:
    waiting = submitted(changes, acme, 8)
    approvals.record_messages(waiting.request.id, [MessageRef(T, "D1", "1.1")], JAN_16)
    cancelled = changes.cancel(OWNER, request_id=waiting.request.id, at=JAN_16)
    assert isinstance(cancelled, ChangeCancelled)
    assert [s.ts for s in cancelled.stamps] == ["1.1"]
    closed = approvals.approve(
        MANAGER, request_id=waiting.request.id, revision=1, at=JAN_16, users=NOBODY
    )
    assert isinstance(closed, ChangeClosed)


def test_an_approver_never_applies_figures_nobody_saw(
    changes: SeatChanges,
    approvals: Approvals,
    acme: Any,
    session_factory: sessionmaker[Session],
) -> None:
    waiting = submitted(changes, acme, 8)
    # The same day, the same daily-prorated figures: approved as shown.
    same_day = JAN_16 + timedelta(hours=5)
    # A day later the figures moved: the approver is shown the new ones.
    next_day = JAN_16 + timedelta(days=1)
    repriced = approvals.approve(
        MANAGER, request_id=waiting.request.id, revision=1, at=next_day, users=NOBODY
    )
    assert isinstance(repriced, ApprovalPrompt)
    assert repriced.note is not None
    assert repriced.request.revision == 2
    assert repriced.request.net != waiting.request.net
    assert ledger_count(session_factory) == 0
    # The message showing the old figures no longer approves anything.
    old = approvals.approve(
        MANAGER, request_id=waiting.request.id, revision=1, at=next_day, users=NOBODY
    )
    assert isinstance(old, ApprovalPrompt)
    applied = approvals.approve(
        MANAGER, request_id=waiting.request.id, revision=2, at=next_day, users=NOBODY
    )
    assert isinstance(applied, ChangeApplied)
    assert applied.request.net == repriced.request.net
    assert same_day < next_day


def test_a_same_day_approval_applies_the_figures_shown(
    changes: SeatChanges, approvals: Approvals, acme: Any
) -> None:
    waiting = submitted(changes, acme, 8)
    applied = approvals.approve(
        MANAGER,
        request_id=waiting.request.id,
        revision=1,
        at=JAN_16 + timedelta(hours=5),
        users=NOBODY,
    )
    assert isinstance(applied, ChangeApplied)
    assert applied.request.net == waiting.request.net


def test_without_approvers_a_routed_change_is_refused_clearly(
    changes: SeatChanges, seed: Seed, session_factory: sessionmaker[Session]
) -> None:
    acme = seed()
    with_policy(session_factory, acme.account_id)
    with session_factory.begin() as session:
        for member in session.scalars(select(Member).where(Member.role == "manager")):
            session.delete(member)
    draft = changes.request_by_form(
        OWNER,
        account_id=acme.account_id,
        subscription_id=acme.subscription_id,
        new_seats=8,
        at=JAN_16,
        users=NOBODY,
    )
    assert isinstance(draft, ReadyToConfirm)
    with pytest.raises(UserFacingError, match="no one who can approve it"):
        changes.confirm(OWNER, request_id=draft.request.id, revision=1, at=JAN_16, users=NOBODY)


def test_twenty_concurrent_approvals_apply_once_and_approve_racing_deny_has_one_outcome(
    changes: SeatChanges,
    approvals: Approvals,
    acme: Any,
    session_factory: sessionmaker[Session],
) -> None:
    waiting = submitted(changes, acme, 8)
    barrier = threading.Barrier(20)
    outcomes: list[object] = []

    def click() -> None:
        barrier.wait(timeout=30)
        outcomes.append(
            approvals.approve(
                MANAGER, request_id=waiting.request.id, revision=1, at=JAN_16, users=NOBODY
            )
        )

    threads = [threading.Thread(target=click) for _ in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert sum(isinstance(o, ChangeApplied) for o in outcomes) == 1
    assert all(isinstance(o, ChangeApplied | AlreadyApplied) for o in outcomes)
    assert ledger_count(session_factory) == 2

    second = submitted(changes, acme, 7)
    race = threading.Barrier(2)
    results: dict[str, object] = {}

    def approve() -> None:
        race.wait(timeout=30)
        results["approve"] = approvals.approve(
            MANAGER, request_id=second.request.id, revision=1, at=JAN_16, users=NOBODY
        )

    def deny() -> None:
        race.wait(timeout=30)
        results["deny"] = approvals.deny(
            MANAGER, request_id=second.request.id, reason="no", at=JAN_16
        )

    pair = [threading.Thread(target=approve), threading.Thread(target=deny)]
    for thread in pair:
        thread.start()
    for thread in pair:
        thread.join(timeout=60)
    final = SeatService(session_factory).get_request(second.request.id).status
    if final is RequestStatus.APPLIED:
        assert isinstance(results["approve"], ChangeApplied)
        assert isinstance(results["deny"], AlreadyApplied)
    else:
        assert final is RequestStatus.DENIED
        assert isinstance(results["deny"], ChangeDenied)
        assert isinstance(results["approve"], ChangeClosed)
    assert SeatService(session_factory).check_invariants().violations == ()


def _users(count: int) -> list[Any]:
    from billing.users import Level, PlatformUser, UserStatus

    return [
        PlatformUser(str(n), f"u{n}@x.example", f"U {n}", 100 + n, Level.AGENT, UserStatus.ACTIVE)
        for n in range(count)
    ]


# -- what time does ------------------------------------------------------------------------------


def test_time_reminds_escalates_and_expires_each_once(
    changes: SeatChanges, approvals: Approvals, seed: Seed, session_factory: sessionmaker[Session]
) -> None:
    acme = seed()
    with_policy(
        session_factory,
        acme.account_id,
        remind_after=timedelta(hours=4),
        escalate_after=timedelta(hours=24),
        escalate_to=((T, "U_CFO"),),
        expire_after=timedelta(hours=72),
    )
    waiting = submitted(changes, acme, 8)
    rid = waiting.request.id

    def steps(at: datetime) -> list[str]:
        return [f"{item.step.value}:{item.request_id}" for item in approvals.due(at)]

    assert steps(JAN_16 + timedelta(hours=3)) == []
    assert steps(JAN_16 + timedelta(hours=4)) == [f"remind:{rid}"]
    assert steps(JAN_16 + timedelta(hours=25)) == [f"remind:{rid}", f"escalate:{rid}"]
    # Before escalation the CFO may not decide; after it, they may.
    cfo = Caller(T, "U_CFO")
    with pytest.raises(NotAuthorised):
        approvals.deny(cfo, request_id=rid, reason="no", at=JAN_16 + timedelta(hours=25))
    escalated = approvals.escalate(rid, JAN_16 + timedelta(hours=25))
    assert escalated is not None
    assert escalated[1] == ((T, "U_CFO"),)
    assert approvals.escalate(rid, JAN_16 + timedelta(hours=26)) is None  # once
    assert steps(JAN_16 + timedelta(hours=26)) == [f"remind:{rid}"]
    assert approvals.reminder(rid) is not None
    expired = approvals.expire(rid, JAN_16 + timedelta(hours=72))
    assert expired is not None
    assert expired.request.status is RequestStatus.EXPIRED
    assert approvals.expire(rid, JAN_16 + timedelta(hours=73)) is None
    assert approvals.reminder(rid) is None
    assert steps(JAN_16 + timedelta(hours=80)) == []
    assert SeatService(session_factory).check_invariants().violations == ()


def test_the_escalation_list_decides_after_escalation(
    changes: SeatChanges, approvals: Approvals, seed: Seed, session_factory: sessionmaker[Session]
) -> None:
    acme = seed()
    with_policy(
        session_factory,
        acme.account_id,
        escalate_after=timedelta(hours=1),
        escalate_to=((T, "U_CFO"),),
    )
    waiting = submitted(changes, acme, 8)
    assert approvals.escalate(waiting.request.id, JAN_16 + timedelta(hours=1)) is not None
    applied = approvals.approve(
        Caller(T, "U_CFO"),
        request_id=waiting.request.id,
        revision=1,
        at=JAN_16 + timedelta(hours=1),
        users=NOBODY,
    )
    assert isinstance(applied, ChangeApplied)


def test_drafts_left_unconfirmed_expire(
    changes: SeatChanges, approvals: Approvals, seed: Seed
) -> None:
    acme = seed()
    draft = changes.request_by_form(
        OWNER,
        account_id=acme.account_id,
        subscription_id=acme.subscription_id,
        new_seats=12,
        at=JAN_16,
    )
    assert isinstance(draft, ReadyToConfirm)
    assert approvals.due(JAN_16 + timedelta(hours=23)) == []
    [item] = approvals.due(JAN_16 + timedelta(days=1))
    assert item.request_id == draft.request.id
    closed = approvals.expire(draft.request.id, JAN_16 + timedelta(days=1))
    assert closed is not None
    late = changes.confirm(OWNER, request_id=draft.request.id, revision=1, at=JAN_16)
    assert isinstance(late, ChangeClosed)
    assert "expired" in late.message


# -- a decision checks the deadline and the target itself ----------------------------------------


def test_approving_a_twin_whose_target_was_reached_closes_it_truthfully(
    changes: SeatChanges, approvals: Approvals, seed: Seed, session_factory: sessionmaker[Session]
) -> None:
    acme = seed()
    with_policy(session_factory, acme.account_id, increase_over_seats=0)
    first = submitted(changes, acme, 12)
    twin = submitted(changes, acme, 12)
    approvals.record_messages(twin.request.id, [MessageRef(T, "D1", "2.2")], JAN_16)
    applied = approvals.approve(MANAGER, request_id=first.request.id, revision=1, at=JAN_16)
    assert isinstance(applied, ChangeApplied)
    ended = approvals.approve(MANAGER, request_id=twin.request.id, revision=1, at=JAN_16)
    assert isinstance(ended, ChangeEnded)
    assert "Axiom already has 12 seats" in ended.message
    assert [s.ts for s in ended.stamps] == ["2.2"]
    request = ended.request
    assert request.status is RequestStatus.CANCELLED
    assert (request.decided_by_user, request.decided_at) == ("U_MANAGER", JAN_16)
    assert request.decision_reason == "Axiom already had 12 seats; nothing to change."
    # A second click (or a second approver) is told what became of it.
    again = approvals.approve(MANAGER, request_id=twin.request.id, revision=1, at=JAN_16)
    assert isinstance(again, ChangeClosed)
    assert ledger_count(session_factory) == 2
    assert SeatService(session_factory).check_invariants().violations == ()


@pytest.mark.parametrize("decision", ["approve", "deny"])
def test_a_decision_after_the_deadline_finds_the_request_expired(
    changes: SeatChanges,
    approvals: Approvals,
    seed: Seed,
    session_factory: sessionmaker[Session],
    decision: str,
) -> None:
    acme = seed()
    with_policy(session_factory, acme.account_id, expire_after=timedelta(hours=8))
    waiting = submitted(changes, acme, 8)
    rid = waiting.request.id
    approvals.record_messages(rid, [MessageRef(T, "D1", "1.1")], JAN_16)
    late = JAN_16 + timedelta(hours=8)  # the scheduler is behind: nothing expired it yet
    if decision == "approve":
        ended = approvals.approve(MANAGER, request_id=rid, revision=1, at=late, users=NOBODY)
    else:
        ended = approvals.deny(MANAGER, request_id=rid, reason="no", at=late)
    assert isinstance(ended, ChangeEnded)
    assert "expired before your decision" in ended.message
    assert ended.expired_at == JAN_16 + timedelta(hours=8)  # the deadline, for each reader
    assert ended.request.status is RequestStatus.EXPIRED
    assert ended.request.decided_by_user is None
    assert [s.ts for s in ended.stamps] == ["1.1"]
    assert approvals.due(late) == []  # the scheduler finds nothing left to do
    assert approvals.expire(rid, late) is None
    assert ledger_count(session_factory) == 0
    assert SeatService(session_factory).check_invariants().violations == ()
