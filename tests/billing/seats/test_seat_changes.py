"""The seat-change use cases on a real database (SQLite and PostgreSQL): authorise first,
create, confirm exactly the quote shown, exactly once, re-quote with compare-and-set, cancel."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from fractions import Fraction
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine, create_engine, event, func, select
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import NullPool

from billing.access import Caller
from billing.books.service import SeatService
from billing.errors import NO_ROLE, InvalidInput, InvalidSeatCount, NotAuthorised, NotFound
from billing.models import AuditEvent, LedgerEntry, Member, SeatChangeRequest, Subscription
from billing.money import Money
from billing.periods import Period
from billing.products import Product
from billing.proration import LedgerKind
from billing.requests import RequestStatus
from billing.seats.outcomes import (
    AccountSeats,
    AlreadyApplied,
    ChangeApplied,
    ChangeCancelled,
    ChangeClosed,
    ChangeOutcome,
    DecreaseBlocked,
    DecreaseUnverified,
    ReadyToConfirm,
    UsersNeeded,
)
from billing.seats.reads import AccountReads
from billing.seats.rules import ChangeMode
from billing.seats.service import SeatChanges
from billing.users import Level, PlatformUser, UserListing, UserStatus

T = "T_ACME"
OWNER = Caller(T, "U_OWNER")
JAN_16 = datetime(2026, 1, 16, tzinfo=UTC)
JAN_PERIOD = Period(datetime(2026, 1, 1, tzinfo=UTC), datetime(2026, 2, 1, tzinfo=UTC))

Seed = Callable[..., Any]


@pytest.fixture
def changes(session_factory: sessionmaker[Session]) -> SeatChanges:
    return SeatChanges(session_factory, quote_ttl=timedelta(minutes=10))


@pytest.fixture
def reads(session_factory: sessionmaker[Session]) -> AccountReads:
    return AccountReads(session_factory)


@pytest.fixture
def service(session_factory: sessionmaker[Session]) -> SeatService:
    return SeatService(session_factory)


def users(count: int) -> UserListing:
    return UserListing.complete(
        PlatformUser(
            str(n), f"u{n}@x.example", f"User {n}", 100 + n, Level.AGENT, UserStatus.ACTIVE
        )
        for n in range(count)
    )


def create(
    changes: SeatChanges,
    acme: Any,
    new_seats: int,
    *,
    at: datetime = JAN_16,
    caller: Caller = OWNER,
    listing: UserListing | None = None,
    reason: str = "",
) -> ChangeOutcome | UsersNeeded:
    return changes.request_by_form(
        caller,
        account_id=acme.account_id,
        subscription_id=acme.subscription_id,
        new_seats=new_seats,
        reason=reason,
        at=at,
        users=listing,
    )


def draft(changes: SeatChanges, acme: Any, new_seats: int, **kwargs: Any) -> ReadyToConfirm:
    outcome = create(changes, acme, new_seats, listing=kwargs.pop("listing", users(0)), **kwargs)
    assert isinstance(outcome, ReadyToConfirm), outcome
    return outcome


def confirm(
    changes: SeatChanges,
    prompt: ReadyToConfirm,
    *,
    at: datetime = JAN_16,
    caller: Caller = OWNER,
    listing: UserListing | None = None,
    revision: int | None = None,
) -> ChangeOutcome | UsersNeeded:
    return changes.confirm(
        caller,
        request_id=prompt.request.id,
        revision=prompt.request.revision if revision is None else revision,
        at=at,
        users=listing,
    )


def _ledger_rows(session_factory: sessionmaker[Session]) -> list[tuple[Any, ...]]:
    with session_factory() as session:
        return [
            tuple(row)
            for row in session.execute(
                select(
                    LedgerEntry.request_id,
                    LedgerEntry.kind,
                    LedgerEntry.quantity,
                    LedgerEntry.amount_minor,
                    LedgerEntry.idempotency_key,
                ).order_by(LedgerEntry.id)
            )
        ]


def _subscription(session_factory: sessionmaker[Session], subscription_id: int) -> Subscription:
    with session_factory() as session:
        row = session.get(Subscription, subscription_id)
        assert row is not None
        return row


def _actions(session_factory: sessionmaker[Session]) -> list[str]:
    with session_factory() as session:
        return list(session.scalars(select(AuditEvent.action).order_by(AuditEvent.id)))


# -- authorise first ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "caller",
    [Caller(T, "U_MANAGER"), Caller(T, "U_VIEWER"), Caller(T, "U_STRANGER")],
)
def test_only_owners_request_changes(
    changes: SeatChanges, service: SeatService, seed: Seed, caller: Caller
) -> None:
    acme = seed()
    for listing in (None, users(3)):
        with pytest.raises(NotAuthorised) as refused:
            create(changes, acme, 8, caller=caller, listing=listing)
        # A member is told whom to ask; someone without a role learns nothing of the account.
        member = caller.user_id != "U_STRANGER"
        assert refused.value.contacts == (("U_OWNER",) if member else ())
        assert ("Acme" in refused.value.message) is member
    assert service.history(acme.account_id) == []


def test_another_workspace_does_not_see_the_account(
    changes: SeatChanges, reads: AccountReads, seed: Seed
) -> None:
    acme = seed()
    stranger = Caller("T_OTHER", "U_OWNER")  # the same user id in another workspace
    with pytest.raises(NotFound):
        create(changes, acme, 12, caller=stranger, listing=users(0))
    with pytest.raises(NotFound):
        reads.status(stranger, account_name=None, channel_id=None, at=JAN_16)


def test_a_decrease_asks_for_the_users_only_after_authorising(
    changes: SeatChanges, seed: Seed
) -> None:
    acme = seed()
    assert create(changes, acme, 8) == UsersNeeded(acme.account_id, Product.AXIOM)
    with pytest.raises(NotAuthorised):
        create(changes, acme, 8, caller=Caller(T, "U_VIEWER"))


@pytest.mark.parametrize("user_id", ["U_OWNER", "U_MANAGER", "U_VIEWER"])
def test_members_with_a_role_read_status(reads: AccountReads, seed: Seed, user_id: str) -> None:
    acme = seed()
    status = reads.status(Caller(T, user_id), account_name=None, channel_id=None, at=JAN_16)
    assert isinstance(status, AccountSeats)
    assert [s.seats for s in status.subscriptions] == [10]
    assert status.listings == (UsersNeeded(acme.account_id, Product.AXIOM),)


def test_no_role_reads_nothing_not_even_the_accounts_name_or_owners(
    reads: AccountReads, seed: Seed
) -> None:
    seed()
    nobody = Caller(T, "U_NOBODY")
    for account_name in (None, "acme"):
        with pytest.raises(NotAuthorised) as refused:
            reads.status(nobody, account_name=account_name, channel_id=None, at=JAN_16)
        assert (refused.value.message, refused.value.contacts) == (NO_ROLE, ())
        with pytest.raises(NotAuthorised) as refused:
            reads.history(nobody, account_name=account_name, channel_id=None)
        assert (refused.value.message, refused.value.contacts) == (NO_ROLE, ())


@pytest.mark.parametrize("intruder", ["U_MANAGER", "U_VIEWER", "U_NOBODY"])
def test_intruders_cannot_confirm_or_check_again(
    changes: SeatChanges, service: SeatService, seed: Seed, intruder: str
) -> None:
    acme = seed()
    blocked = create(changes, acme, 6, listing=users(8))
    assert isinstance(blocked, DecreaseBlocked)
    caller = Caller(T, intruder)
    for listing in (None, users(0)):
        with pytest.raises(NotAuthorised):
            changes.confirm(
                caller,
                request_id=blocked.request.id,
                revision=blocked.request.revision,
                at=JAN_16,
                users=listing,
            )
        with pytest.raises(NotAuthorised):
            changes.check_again(caller, request_id=blocked.request.id, at=JAN_16, users=listing)
    with pytest.raises(NotAuthorised):
        changes.cancel(caller, request_id=blocked.request.id, at=JAN_16)
    assert service.get_request(blocked.request.id).status is RequestStatus.DRAFT


def test_another_workspace_cannot_name_a_request(changes: SeatChanges, seed: Seed) -> None:
    acme = seed()
    prompt = draft(changes, acme, 12)
    stranger = Caller("T_OTHER", "U_OWNER")
    with pytest.raises(NotFound, match="no longer exists"):
        confirm(changes, prompt, caller=stranger)
    with pytest.raises(NotFound, match="no longer exists"):
        changes.cancel(stranger, request_id=prompt.request.id, at=JAN_16)
    with pytest.raises(NotFound, match="no longer exists"):
        changes.confirm(OWNER, request_id=999_999, revision=1, at=JAN_16)


def test_a_form_cannot_reach_another_accounts_subscription(
    changes: SeatChanges, reads: AccountReads, seed: Seed
) -> None:
    acme = seed()
    globex = seed("globex", team_id="T_GLOBEX")
    for account_id, subscription_id in (
        (acme.account_id, globex.subscription_id),
        (globex.account_id, globex.subscription_id),
    ):
        with pytest.raises(NotFound):
            reads.preview(
                OWNER,
                account_id=account_id,
                subscription_id=subscription_id,
                new_seats=12,
                at=JAN_16,
                users=users(0),
            )
        with pytest.raises(NotFound):
            changes.request_by_form(
                OWNER,
                account_id=account_id,
                subscription_id=subscription_id,
                new_seats=12,
                at=JAN_16,
                users=users(0),
            )


# -- creating requests --------------------------------------------------------------------------


def test_a_draft_stores_the_quote_and_mints_a_key(
    changes: SeatChanges, service: SeatService, seed: Seed, session_factory: sessionmaker[Session]
) -> None:
    acme = seed()
    first = draft(changes, acme, 12, reason=" new hires ").request
    second = draft(changes, acme, 11).request
    assert first.status is RequestStatus.DRAFT
    assert first.revision == 1
    assert (first.old_seats, first.new_seats, first.reason) == (10, 12, "new hires")
    assert [line.amount.minor for line in first.lines] == [-15484, 18581]
    assert first.net == Money(3097, "USD")
    assert first.fraction == "16/31"
    assert first.period == JAN_PERIOD
    assert first.quoted_version == 1
    assert first.idempotency_key.startswith("scr_")
    assert first.idempotency_key != second.idempotency_key
    assert service.get_request(first.id) == first
    assert _actions(session_factory) == ["request.created", "request.created"]
    assert _ledger_rows(session_factory) == []


def test_commands_compute_the_target_from_the_current_seats(
    changes: SeatChanges, seed: Seed
) -> None:
    seed()

    def command(mode: ChangeMode, count: int) -> ChangeOutcome | UsersNeeded:
        return changes.request_by_command(
            OWNER,
            account_name=None,
            channel_id=None,
            product=Product.AXIOM,
            mode=mode,
            count=count,
            at=JAN_16,
            users=users(0),
        )

    assert [
        (o.request.old_seats, o.request.new_seats)
        for o in (
            command(ChangeMode.ADD, 3),
            command(ChangeMode.REMOVE, 4),
            command(ChangeMode.SET, 0),
        )
        if isinstance(o, ReadyToConfirm)
    ] == [(10, 13), (10, 6), (10, 0)]
    with pytest.raises(InvalidSeatCount, match="at most 10 can be removed"):
        command(ChangeMode.REMOVE, 11)
    with pytest.raises(InvalidSeatCount, match="already has 10 seats"):
        command(ChangeMode.SET, 10)
    with pytest.raises(NotFound, match="no Matrix subscription"):
        changes.request_by_command(
            OWNER,
            account_name="acme",
            channel_id=None,
            product=Product.MATRIX,
            mode=ChangeMode.ADD,
            count=1,
            at=JAN_16,
        )


def test_a_reason_is_bounded(changes: SeatChanges, seed: Seed) -> None:
    acme = seed()
    with pytest.raises(InvalidInput, match="at most 500"):
        create(changes, acme, 12, reason="x" * 501, listing=users(0))


def test_a_blocked_or_unverified_decrease_is_stored_but_offers_no_confirm(
    changes: SeatChanges, seed: Seed, session_factory: sessionmaker[Session]
) -> None:
    acme = seed()
    blocked = create(changes, acme, 6, listing=users(8))
    assert isinstance(blocked, DecreaseBlocked)
    assert (blocked.check.user_count, blocked.check.must_delete) == (8, 2)
    unknown = create(changes, acme, 6, listing=UserListing.unknown("Axiom did not answer."))
    assert isinstance(unknown, DecreaseUnverified)
    assert unknown.reason == "Axiom did not answer."
    allowed = create(changes, acme, 8, listing=users(8))
    assert isinstance(allowed, ReadyToConfirm)
    assert allowed.check is not None
    assert allowed.check.user_count == 8


# -- confirming: exactly once, exactly what was shown -----------------------------------------


def test_confirm_applies_once_and_a_second_confirm_says_so(
    changes: SeatChanges, service: SeatService, seed: Seed, session_factory: sessionmaker[Session]
) -> None:
    acme = seed()
    prompt = draft(changes, acme, 12)
    at = JAN_16 + timedelta(minutes=2)
    outcome = confirm(changes, prompt, at=at)
    assert isinstance(outcome, ChangeApplied)
    assert outcome.request.status is RequestStatus.APPLIED
    assert outcome.request.applied_at == at
    assert (outcome.request.decided_by_team, outcome.request.decided_by_user) == (T, "U_OWNER")
    assert [(line.kind, line.amount.minor) for line in outcome.ledger_lines] == [
        (LedgerKind.CREDIT, -15484),
        (LedgerKind.CHARGE, 18581),
    ]
    written = _ledger_rows(session_factory)
    assert [row[4] for row in written] == [
        f"{prompt.request.idempotency_key}:credit",
        f"{prompt.request.idempotency_key}:charge",
    ]
    assert (_subscription(session_factory, acme.subscription_id).seats, 12) == (12, 12)
    again = confirm(changes, prompt, at=at + timedelta(seconds=1))
    assert isinstance(again, AlreadyApplied)
    assert _ledger_rows(session_factory) == written
    assert _subscription(session_factory, acme.subscription_id).version == 2
    assert sum(line.amount.minor for line in service.ledger(acme.account_id)) == 3097
    assert _actions(session_factory) == ["request.created", "request.approved", "request.applied"]


def test_only_the_requester_confirms(
    changes: SeatChanges, seed: Seed, session_factory: Any
) -> None:
    acme = seed()
    with session_factory.begin() as session:
        session.add(Member(account_id=acme.account_id, team_id=T, user_id="U_OWNER2", role="owner"))
    prompt = draft(changes, acme, 12)
    with pytest.raises(NotAuthorised, match="owner who asked"):
        confirm(changes, prompt, caller=Caller(T, "U_OWNER2"))
    # Any owner may cancel it, though.
    assert isinstance(
        changes.cancel(Caller(T, "U_OWNER2"), request_id=prompt.request.id, at=JAN_16),
        ChangeCancelled,
    )


def test_a_decrease_is_decided_on_the_users_listed_at_the_click(
    changes: SeatChanges, seed: Seed, session_factory: sessionmaker[Session]
) -> None:
    acme = seed()
    prompt = draft(changes, acme, 8, listing=users(7))
    assert confirm(changes, prompt) == UsersNeeded(acme.account_id, Product.AXIOM)
    refused = confirm(changes, prompt, listing=users(9))  # two users were added meanwhile
    assert isinstance(refused, DecreaseBlocked)
    assert refused.check.must_delete == 1
    unknown = confirm(changes, prompt, listing=UserListing.unknown("down"))
    assert isinstance(unknown, DecreaseUnverified)
    assert _ledger_rows(session_factory) == []
    assert _subscription(session_factory, acme.subscription_id).seats == 10
    applied = confirm(changes, prompt, listing=users(8))
    assert isinstance(applied, ChangeApplied)
    assert sum(line.amount.minor for line in applied.ledger_lines) == -15484 + 12387


def test_decrease_policy_none_applies_without_lines(
    changes: SeatChanges, seed: Seed, session_factory: sessionmaker[Session]
) -> None:
    acme = seed(decrease_policy="none")
    prompt = draft(changes, acme, 8)
    assert prompt.request.lines == ()
    outcome = confirm(changes, prompt, listing=users(0))
    assert isinstance(outcome, ChangeApplied)
    assert outcome.ledger_lines == ()
    assert _subscription(session_factory, acme.subscription_id).seats == 8


def test_a_click_from_an_older_message_never_applies(
    changes: SeatChanges, seed: Seed, session_factory: sessionmaker[Session]
) -> None:
    """Defect 2: the owner saw 10 → 8; another owner added a seat; a double click must not
    apply 11 → 8, which nobody was shown."""
    acme = seed()
    with session_factory.begin() as session:
        session.add(Member(account_id=acme.account_id, team_id=T, user_id="U_OWNER2", role="owner"))
    other_owner = Caller(T, "U_OWNER2")
    shown = draft(changes, acme, 8)
    added = draft(changes, acme, 11, caller=other_owner)
    assert isinstance(confirm(changes, added, caller=other_owner), ChangeApplied)
    first = confirm(changes, shown, listing=users(8))  # stale: re-quoted 11 → 8
    second = confirm(changes, shown, listing=users(8))  # the same old message again
    for reply in (first, second):
        assert isinstance(reply, ReadyToConfirm)
        assert (reply.request.old_seats, reply.request.new_seats) == (11, 8)
        assert reply.request.revision == 2
        assert reply.note
    assert _subscription(session_factory, acme.subscription_id).seats == 11
    assert isinstance(second, ReadyToConfirm)
    applied = confirm(changes, second, listing=users(8))
    assert isinstance(applied, ChangeApplied)
    assert applied.request.net == second.request.net
    assert [line.amount for line in applied.ledger_lines] == [
        line.amount for line in second.request.lines
    ]


def test_an_expired_quote_is_requoted_in_place(
    changes: SeatChanges, seed: Seed, session_factory: sessionmaker[Session]
) -> None:
    acme = seed()
    prompt = draft(changes, acme, 12)
    late = JAN_16 + timedelta(days=1)
    stale = confirm(changes, prompt, at=late)
    assert isinstance(stale, ReadyToConfirm)
    assert stale.note is not None
    assert "expired" in stale.note
    assert Fraction(stale.request.fraction) == Fraction(15, 31)  # one day less left
    assert (stale.request.revision, stale.request.quoted_at) == (2, late)
    assert _ledger_rows(session_factory) == []
    applied = confirm(changes, stale, at=late)
    assert isinstance(applied, ChangeApplied)
    assert [line.amount for line in applied.ledger_lines] == [
        line.amount for line in stale.request.lines
    ]


def test_a_requote_that_changes_nothing_closes_the_request(
    changes: SeatChanges, seed: Seed
) -> None:
    acme = seed()
    first = draft(changes, acme, 12)
    twin = draft(changes, acme, 12)
    assert isinstance(confirm(changes, first), ChangeApplied)
    outcome = confirm(changes, twin)
    assert isinstance(outcome, ChangeClosed)
    assert outcome.request.status is RequestStatus.CANCELLED
    assert "already has 12 seats" in outcome.message


def test_a_quote_from_the_previous_period_is_renewed_then_requoted(
    changes: SeatChanges, service: SeatService, seed: Seed, session_factory: sessionmaker[Session]
) -> None:
    acme = seed()
    prompt = draft(changes, acme, 12, at=datetime(2026, 1, 31, 23, 55, tzinfo=UTC))
    feb = datetime(2026, 2, 1, 0, 2, tzinfo=UTC)
    stale = confirm(changes, prompt, at=feb)
    assert isinstance(stale, ReadyToConfirm)
    assert stale.request.period.start == datetime(2026, 2, 1, tzinfo=UTC)
    assert [row[1] for row in _ledger_rows(session_factory)] == ["renewal"]
    applied = confirm(changes, stale, at=feb)
    assert isinstance(applied, ChangeApplied)
    assert [line.amount.minor for line in applied.ledger_lines] == [-30000, 36000]
    assert [line.kind for line in service.ledger(acme.account_id)] == [
        LedgerKind.RENEWAL,
        LedgerKind.CREDIT,
        LedgerKind.CHARGE,
    ]


def _inject_before_seat_update(engine: Engine, db_url: str, subscription_id: int) -> list[str]:
    """Make 'another process' change the subscription between the use case's read and its
    version compare-and-set. On PostgreSQL a second connection commits the change for real; on
    SQLite the use case holds the write lock (BEGIN IMMEDIATE), so the change is made on its own
    connection just before its UPDATE."""
    fired: list[str] = []

    @event.listens_for(engine, "before_cursor_execute")
    def _inject(conn: Any, cursor: Any, statement: str, *_args: Any) -> None:
        if fired or not statement.startswith("UPDATE subscriptions SET seats"):
            return
        fired.append(statement)
        bump = (
            "UPDATE subscriptions SET seats = seats + 5, version = version + 1 "
            f"WHERE id = {int(subscription_id)}"
        )
        if engine.dialect.name == "postgresql":
            other = create_engine(db_url, poolclass=NullPool, isolation_level="AUTOCOMMIT")
            with other.connect() as connection:
                connection.exec_driver_sql(bump)
            other.dispose()
        else:
            cursor.execute(bump)

    return fired


def test_a_concurrent_change_is_detected_by_the_version_cas(
    engine: Engine,
    db_url: str,
    changes: SeatChanges,
    seed: Seed,
    session_factory: sessionmaker[Session],
) -> None:
    acme = seed()
    prompt = draft(changes, acme, 12)
    fired = _inject_before_seat_update(engine, db_url, acme.subscription_id)
    outcome = confirm(changes, prompt, listing=users(0))
    assert fired, "the injection point was never reached"
    assert isinstance(outcome, ReadyToConfirm | ChangeClosed)
    assert _ledger_rows(session_factory) == []
    assert "request.applied" not in _actions(session_factory)
    subscription = _subscription(session_factory, acme.subscription_id)
    if engine.dialect.name == "postgresql":
        # The other writer's change stands and the request is re-quoted against it.
        assert (subscription.seats, subscription.version) == (15, 2)
        assert isinstance(outcome, ReadyToConfirm)
        assert (outcome.request.old_seats, outcome.request.revision) == (15, 2)
        assert _actions(session_factory)[-1] in ("request.requoted", "request.refused")
    else:
        assert (subscription.seats, subscription.version) == (10, 1)


def test_a_requote_waiting_on_an_apply_does_not_overwrite_it(
    engine: Engine, changes: SeatChanges, seed: Seed, session_factory: sessionmaker[Session]
) -> None:
    """Defect 1, step by step: a click applies a quote while a second click, seeing it expired,
    re-quotes the same row. On PostgreSQL (READ COMMITTED) the re-quote's UPDATE waits for the
    apply's row lock; on SQLite it waits for the write lock. Either way it must then find the
    request applied and leave its stored lines alone."""
    _requote_races_apply(session_factory, engine, seed, changes)


def _requote_races_apply(
    sessions: sessionmaker[Session], engine: Engine, seed: Seed, changes: SeatChanges
) -> None:
    acme = seed()
    prompt = draft(changes, acme, 12)
    applying = threading.Event()
    release = threading.Event()

    @event.listens_for(engine, "before_cursor_execute")
    def _hold(conn: Any, cursor: Any, statement: str, *_args: Any) -> None:
        # The applying click stops right after writing its ledger lines, lock held.
        is_apply = threading.current_thread().name == "apply"
        if is_apply and statement.startswith("INSERT INTO audit_events") and not applying.is_set():
            applying.set()
            release.wait(10)

    results: dict[str, Any] = {}

    def apply() -> None:
        results["apply"] = confirm(changes, prompt, at=JAN_16 + timedelta(minutes=9))

    def requote() -> None:
        results["requote"] = confirm(changes, prompt, at=JAN_16 + timedelta(minutes=11))

    first = threading.Thread(target=apply, name="apply")
    first.start()
    assert applying.wait(10)
    # The approve audit is written after the first CAS: the row is locked by the applying click.
    second = threading.Thread(target=requote, name="requote")
    second.start()
    second.join(0.5)
    assert second.is_alive(), "the re-quote should be waiting for the applying transaction"
    release.set()
    first.join(10)
    second.join(10)
    assert isinstance(results["apply"], ChangeApplied)
    assert isinstance(results["requote"], AlreadyApplied)
    with sessions() as session:
        row = session.scalars(select(SeatChangeRequest)).one()
        assert (row.status, row.quote_revision) == ("applied", 1)
        lines = [
            entry.amount_minor
            for entry in session.scalars(select(LedgerEntry).order_by(LedgerEntry.id))
        ]
    assert lines == [line.amount.minor for line in prompt.request.lines]
    assert row.net_minor == sum(lines)


# -- cancelling ---------------------------------------------------------------------------------


def test_cancel_reports_the_seats_the_subscription_has_now(
    changes: SeatChanges, service: SeatService, seed: Seed
) -> None:
    acme = seed()
    prompt = draft(changes, acme, 11)
    other = draft(changes, acme, 15)
    assert isinstance(confirm(changes, other), ChangeApplied)
    cancelled = changes.cancel(OWNER, request_id=prompt.request.id, at=JAN_16)
    assert isinstance(cancelled, ChangeCancelled)
    assert cancelled.seats_now == 15
    assert cancelled.request.status is RequestStatus.CANCELLED
    again = changes.cancel(OWNER, request_id=prompt.request.id, at=JAN_16)
    assert isinstance(again, ChangeCancelled)
    closed = confirm(changes, prompt)
    assert isinstance(closed, ChangeClosed)
    assert "cancelled" in closed.message
    assert isinstance(changes.cancel(OWNER, request_id=other.request.id, at=JAN_16), AlreadyApplied)
    assert service.get_request(other.request.id).status is RequestStatus.APPLIED


# -- properties ---------------------------------------------------------------------------------


@settings(
    max_examples=20,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    old=st.integers(min_value=0, max_value=300),
    new=st.integers(min_value=0, max_value=300),
    price=st.integers(min_value=0, max_value=10**7),
    offset=st.integers(min_value=0, max_value=31 * 86400 - 1),
)
def test_applied_ledger_equals_the_quote_shown(
    changes: SeatChanges,
    service: SeatService,
    seed: Seed,
    session_factory: sessionmaker[Session],
    old: int,
    new: int,
    price: int,
    offset: int,
) -> None:
    if old == new:
        new = old + 1
    acme = seed(f"prop-{uuid.uuid4().hex[:12]}", seats=old, unit_price_minor=price, rule="seconds")
    at = JAN_PERIOD.start + timedelta(seconds=offset)
    quote = service.quote(acme.subscription_id, new, at)
    prompt = draft(changes, acme, new, at=at, listing=users(0))
    assert prompt.request.lines == quote.proration.lines
    outcome = confirm(changes, prompt, at=at, listing=users(0))
    assert isinstance(outcome, ChangeApplied)
    assert sum(line.amount.minor for line in outcome.ledger_lines) == quote.net.minor
    with session_factory() as session:
        total = session.scalar(
            select(func.coalesce(func.sum(LedgerEntry.amount_minor), 0)).where(
                LedgerEntry.subscription_id == acme.subscription_id
            )
        )
    assert total == quote.net.minor
    assert _subscription(session_factory, acme.subscription_id).seats == new
