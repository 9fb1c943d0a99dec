"""SeatService on a real database (SQLite and PostgreSQL): quotes, requests, exactly-once apply,
staleness, conflicts, renewal, authorisation."""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from fractions import Fraction
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine, create_engine, event, func, select
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import NullPool

from billing.errors import (
    InvalidSeatCount,
    InvalidTransition,
    NotAuthorised,
    NotFound,
    UserFacingError,
)
from billing.models import AuditEvent, LedgerEntry, LedgerKind, Role, Subscription
from billing.money import Money
from billing.periods import Interval, Period
from billing.products import MAX_SEATS, Product
from billing.proration import LineKind
from billing.requests import RequestStatus
from billing.service import ConfirmKind, SeatService

T = "T_ACME"
OWNER = "U_OWNER"
JAN_16 = datetime(2026, 1, 16, tzinfo=UTC)
JAN_PERIOD = Period(datetime(2026, 1, 1, tzinfo=UTC), datetime(2026, 2, 1, tzinfo=UTC))

Seed = Callable[..., Any]


@pytest.fixture
def service(session_factory: sessionmaker[Session]) -> SeatService:
    return SeatService(session_factory, quote_ttl=timedelta(minutes=10))


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


# -- accounts, members, subscriptions ---------------------------------------------------------


def test_accounts_members_and_roles(service: SeatService, seed: Seed) -> None:
    acme = seed("acme")
    seed("globex", team_id="T_OTHER")
    assert [a.name for a in service.accounts_for_team(T)] == ["acme"]
    assert service.accounts_for_team("T_NOBODY") == []
    view = service.account_by_name("acme")
    assert view is not None
    assert (view.id, view.currency, view.timezone, view.channel_id) == (
        acme.account_id,
        "USD",
        "UTC",
        "C_SEATS",
    )
    assert service.account_by_name("nope") is None
    assert service.role_of(acme.account_id, T, OWNER) is Role.OWNER
    assert service.role_of(acme.account_id, T, "U_VIEWER") is Role.VIEWER
    # Same user id in another workspace is a different person.
    assert service.role_of(acme.account_id, "T_OTHER", OWNER) is None
    managers = service.members_with_role(acme.account_id, Role.MANAGER)
    assert [(m.team_id, m.user_id, m.role) for m in managers] == [(T, "U_MANAGER", Role.MANAGER)]


def test_subscriptions_show_the_period_at_the_instant(service: SeatService, seed: Seed) -> None:
    acme = seed(product="matrix", unit_price_minor=1999)
    (sub,) = service.subscriptions(acme.account_id, datetime(2026, 3, 5, tzinfo=UTC))
    assert sub.product is Product.MATRIX
    assert sub.unit_price == Money(1999, "USD")
    assert sub.interval is Interval.MONTHLY
    assert sub.period == Period(
        datetime(2026, 3, 1, tzinfo=UTC), datetime(2026, 4, 1, tzinfo=UTC), index=2
    )
    assert sub.version == 1
    with pytest.raises(dataclasses.FrozenInstanceError):
        sub.seats = 99  # type: ignore[misc]


# -- quotes -------------------------------------------------------------------------------------


def test_quote_matches_the_issue_example(service: SeatService, seed: Seed) -> None:
    acme = seed()
    quote = service.quote(acme.subscription_id, 12, JAN_16)
    assert [(line.kind, line.quantity, line.amount.minor) for line in quote.proration.lines] == [
        (LineKind.CREDIT, 10, -15484),
        (LineKind.CHARGE, 12, 18581),
    ]
    assert quote.net == Money(3097, "USD")
    assert not quote.is_decrease
    assert quote.subscription.period.start == JAN_PERIOD.start
    # A quote stores nothing.
    assert service.history(acme.account_id) == []


def test_quote_in_jpy_decrease(service: SeatService, seed: Seed) -> None:
    acme = seed(currency="JPY", unit_price_minor=1000, seats=5, anchor=date(2026, 2, 1))
    quote = service.quote(acme.subscription_id, 3, datetime(2026, 2, 20, tzinfo=UTC))
    assert [line.amount.minor for line in quote.proration.lines] == [-1607, 964]
    assert quote.net == Money(-643, "JPY")
    assert quote.is_decrease


@pytest.mark.parametrize("seats", [-1, 10, MAX_SEATS + 1])
def test_invalid_seat_counts_are_user_facing(service: SeatService, seed: Seed, seats: int) -> None:
    acme = seed(seats=10)
    with pytest.raises(InvalidSeatCount) as caught:
        service.quote(acme.subscription_id, seats, JAN_16)
    assert isinstance(caught.value, UserFacingError)
    assert caught.value.message
    with pytest.raises(InvalidSeatCount):
        service.create_request(
            acme.subscription_id, seats, team_id=T, user_id=OWNER, reason="", at=JAN_16
        )
    assert service.history(acme.account_id) == []


def test_unknown_ids_are_not_found(service: SeatService) -> None:
    with pytest.raises(NotFound):
        service.quote(404, 3, JAN_16)
    with pytest.raises(NotFound):
        service.get_request(404)


def test_naive_instants_are_refused(service: SeatService, seed: Seed) -> None:
    acme = seed()
    with pytest.raises(ValueError, match="timezone-aware"):
        service.quote(acme.subscription_id, 12, datetime(2026, 1, 16))  # noqa: DTZ001


# -- creating requests --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("team_id", "user_id"),
    [(T, "U_MANAGER"), (T, "U_VIEWER"), (T, "U_STRANGER"), ("T_OTHER", OWNER)],
)
def test_only_owners_create_requests(
    service: SeatService, seed: Seed, team_id: str, user_id: str
) -> None:
    acme = seed()
    with pytest.raises(NotAuthorised):
        service.create_request(
            acme.subscription_id, 12, team_id=team_id, user_id=user_id, reason="", at=JAN_16
        )
    assert service.history(acme.account_id) == []


def test_create_request_stores_the_quote_and_mints_a_key(
    service: SeatService, seed: Seed, session_factory: sessionmaker[Session]
) -> None:
    acme = seed()
    first = service.create_request(
        acme.subscription_id, 12, team_id=T, user_id=OWNER, reason=" new hires ", at=JAN_16
    )
    second = service.create_request(
        acme.subscription_id, 11, team_id=T, user_id=OWNER, reason="", at=JAN_16
    )
    assert first.status is RequestStatus.DRAFT
    assert (first.old_seats, first.new_seats, first.reason) == (10, 12, "new hires")
    assert [line.amount.minor for line in first.lines] == [-15484, 18581]
    assert first.net == Money(3097, "USD")
    assert first.fraction == "16/31"
    assert first.period == Period(JAN_PERIOD.start, JAN_PERIOD.end)
    assert first.quoted_at == JAN_16
    assert first.effective_at == JAN_16
    assert first.quoted_version == 1
    assert first.idempotency_key.startswith("scr_")
    assert first.idempotency_key != second.idempotency_key
    assert service.get_request(first.id) == first
    assert [r.id for r in service.history(acme.account_id)] == [second.id, first.id]
    assert [r.id for r in service.history(acme.account_id, limit=1)] == [second.id]
    with session_factory() as session:
        actions = session.scalars(select(AuditEvent.action).order_by(AuditEvent.id)).all()
    assert actions == ["request.created", "request.created"]
    assert _ledger_rows(session_factory) == []


# -- confirming: exactly once --------------------------------------------------------------------


def test_confirm_applies_once_and_a_second_confirm_returns_the_first_result(
    service: SeatService, seed: Seed, session_factory: sessionmaker[Session]
) -> None:
    acme = seed()
    request = service.create_request(
        acme.subscription_id, 12, team_id=T, user_id=OWNER, reason="", at=JAN_16
    )
    at = JAN_16 + timedelta(minutes=2)
    outcome = service.confirm(
        request.id, team_id=T, user_id=OWNER, at=at, platform_check_passed=False
    )
    assert outcome.kind is ConfirmKind.APPLIED
    assert outcome.request.status is RequestStatus.APPLIED
    assert outcome.request.applied_at == at
    assert (outcome.request.decided_by_team, outcome.request.decided_by_user) == (T, OWNER)
    assert [(line.kind, line.amount.minor) for line in outcome.ledger_lines] == [
        (LedgerKind.CREDIT, -15484),
        (LedgerKind.CHARGE, 18581),
    ]
    assert all(line.period_start == JAN_PERIOD.start for line in outcome.ledger_lines)
    written = _ledger_rows(session_factory)
    assert [row[4] for row in written] == [
        f"{request.idempotency_key}:credit",
        f"{request.idempotency_key}:charge",
    ]
    subscription = _subscription(session_factory, acme.subscription_id)
    assert (subscription.seats, subscription.version) == (12, 2)

    again = service.confirm(
        request.id,
        team_id=T,
        user_id=OWNER,
        at=at + timedelta(seconds=1),
        platform_check_passed=True,
    )
    assert again.kind is ConfirmKind.ALREADY_APPLIED
    assert again.ledger_lines == outcome.ledger_lines
    assert _ledger_rows(session_factory) == written
    assert _subscription(session_factory, acme.subscription_id).version == 2
    assert sum(line.amount.minor for line in service.ledger(acme.account_id)) == 3097
    with session_factory() as session:
        actions = session.scalars(select(AuditEvent.action).order_by(AuditEvent.id)).all()
    assert actions == ["request.created", "request.approved", "request.applied"]


def test_only_the_requester_confirms(service: SeatService, seed: Seed) -> None:
    acme = seed()
    request = service.create_request(
        acme.subscription_id, 12, team_id=T, user_id=OWNER, reason="", at=JAN_16
    )
    for user in ("U_MANAGER", "U_VIEWER"):
        with pytest.raises(NotAuthorised):
            service.confirm(
                request.id, team_id=T, user_id=user, at=JAN_16, platform_check_passed=True
            )
    assert service.get_request(request.id).status is RequestStatus.DRAFT


def test_a_decrease_needs_the_platform_check(
    service: SeatService, seed: Seed, session_factory: sessionmaker[Session]
) -> None:
    acme = seed()
    request = service.create_request(
        acme.subscription_id, 8, team_id=T, user_id=OWNER, reason="", at=JAN_16
    )
    refused = service.confirm(
        request.id, team_id=T, user_id=OWNER, at=JAN_16, platform_check_passed=False
    )
    assert refused.kind is ConfirmKind.REFUSED
    assert refused.message is not None
    assert "Axiom" in refused.message
    assert refused.request.status is RequestStatus.DRAFT
    assert _ledger_rows(session_factory) == []
    assert _subscription(session_factory, acme.subscription_id).seats == 10
    applied = service.confirm(
        request.id, team_id=T, user_id=OWNER, at=JAN_16, platform_check_passed=True
    )
    assert applied.kind is ConfirmKind.APPLIED
    assert sum(line.amount.minor for line in applied.ledger_lines) == -15484 + 12387
    assert _subscription(session_factory, acme.subscription_id).seats == 8


def test_decrease_policy_none_applies_without_lines(
    service: SeatService, seed: Seed, session_factory: sessionmaker[Session]
) -> None:
    acme = seed(decrease_policy="none")
    request = service.create_request(
        acme.subscription_id, 8, team_id=T, user_id=OWNER, reason="", at=JAN_16
    )
    assert request.lines == ()
    assert request.net == Money(0, "USD")
    outcome = service.confirm(
        request.id, team_id=T, user_id=OWNER, at=JAN_16, platform_check_passed=True
    )
    assert outcome.kind is ConfirmKind.APPLIED
    assert outcome.ledger_lines == ()
    assert _subscription(session_factory, acme.subscription_id).seats == 8


# -- staleness and conflicts --------------------------------------------------------------------


def test_an_old_quote_is_requoted_in_place(
    service: SeatService, seed: Seed, session_factory: sessionmaker[Session]
) -> None:
    acme = seed()
    request = service.create_request(
        acme.subscription_id, 12, team_id=T, user_id=OWNER, reason="", at=JAN_16
    )
    late = JAN_16 + timedelta(days=1)
    stale = service.confirm(
        request.id, team_id=T, user_id=OWNER, at=late, platform_check_passed=True
    )
    assert stale.kind is ConfirmKind.STALE
    assert stale.message
    assert stale.fresh_quote is not None
    assert stale.fresh_quote.proration.fraction == Fraction(15, 31)  # one day less left
    assert stale.request.status is RequestStatus.DRAFT
    assert stale.request.quoted_at == late
    assert stale.request.net == stale.fresh_quote.net
    assert _ledger_rows(session_factory) == []
    applied = service.confirm(
        request.id, team_id=T, user_id=OWNER, at=late, platform_check_passed=True
    )
    assert applied.kind is ConfirmKind.APPLIED
    assert [line.amount for line in applied.ledger_lines] == [
        line.amount for line in stale.fresh_quote.proration.lines
    ]


def test_a_quote_on_a_moved_subscription_is_stale(
    service: SeatService, seed: Seed, session_factory: sessionmaker[Session]
) -> None:
    acme = seed()
    first = service.create_request(
        acme.subscription_id, 12, team_id=T, user_id=OWNER, reason="", at=JAN_16
    )
    second = service.create_request(
        acme.subscription_id, 15, team_id=T, user_id=OWNER, reason="", at=JAN_16
    )
    assert (
        service.confirm(
            first.id, team_id=T, user_id=OWNER, at=JAN_16, platform_check_passed=True
        ).kind
        is ConfirmKind.APPLIED
    )
    stale = service.confirm(
        second.id, team_id=T, user_id=OWNER, at=JAN_16, platform_check_passed=True
    )
    assert stale.kind is ConfirmKind.STALE
    assert stale.request.old_seats == 12  # re-quoted against what the subscription has now
    assert stale.request.quoted_version == 2
    assert [line.quantity for line in stale.request.lines] == [12, 15]
    applied = service.confirm(
        second.id, team_id=T, user_id=OWNER, at=JAN_16, platform_check_passed=True
    )
    assert applied.kind is ConfirmKind.APPLIED
    assert _subscription(session_factory, acme.subscription_id).seats == 15
    assert len(_ledger_rows(session_factory)) == 4


def test_a_requote_that_changes_nothing_is_refused(service: SeatService, seed: Seed) -> None:
    acme = seed()
    first = service.create_request(
        acme.subscription_id, 12, team_id=T, user_id=OWNER, reason="", at=JAN_16
    )
    twin = service.create_request(
        acme.subscription_id, 12, team_id=T, user_id=OWNER, reason="", at=JAN_16
    )
    service.confirm(first.id, team_id=T, user_id=OWNER, at=JAN_16, platform_check_passed=True)
    outcome = service.confirm(
        twin.id, team_id=T, user_id=OWNER, at=JAN_16, platform_check_passed=True
    )
    assert outcome.kind is ConfirmKind.REFUSED
    assert outcome.request.status is RequestStatus.CANCELLED


def _inject_before_seat_update(engine: Engine, db_url: str, subscription_id: int) -> list[str]:
    """Make 'another process' change the subscription between the service's read and its
    version compare-and-set. On PostgreSQL a second connection commits the change for real; on
    SQLite the service holds the write lock (BEGIN IMMEDIATE) so no other writer can get in, and
    the change is made on the service's own connection just before its UPDATE."""
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
    service: SeatService,
    seed: Seed,
    session_factory: sessionmaker[Session],
) -> None:
    acme = seed()
    request = service.create_request(
        acme.subscription_id, 12, team_id=T, user_id=OWNER, reason="", at=JAN_16
    )
    fired = _inject_before_seat_update(engine, db_url, acme.subscription_id)
    outcome = service.confirm(
        request.id, team_id=T, user_id=OWNER, at=JAN_16, platform_check_passed=True
    )
    assert fired, "the injection point was never reached"
    assert outcome.kind is ConfirmKind.CONFLICT
    assert outcome.fresh_quote is not None
    assert outcome.request.status is RequestStatus.DRAFT
    assert outcome.ledger_lines == ()
    assert _ledger_rows(session_factory) == []
    subscription = _subscription(session_factory, acme.subscription_id)
    if engine.dialect.name == "postgresql":
        # The other writer's change stands and the request is re-quoted against it.
        assert (subscription.seats, subscription.version) == (15, 2)
        assert outcome.request.old_seats == 15
        assert outcome.fresh_quote.is_decrease
    else:
        assert (subscription.seats, subscription.version) == (10, 1)
    with session_factory() as session:
        actions = session.scalars(select(AuditEvent.action).order_by(AuditEvent.id)).all()
    assert "request.applied" not in actions
    assert actions[-1] == "request.requoted"


# -- cancelling ---------------------------------------------------------------------------------


def test_cancel(service: SeatService, seed: Seed) -> None:
    acme = seed()
    request = service.create_request(
        acme.subscription_id, 12, team_id=T, user_id=OWNER, reason="", at=JAN_16
    )
    with pytest.raises(NotAuthorised):
        service.cancel(request.id, team_id=T, user_id="U_VIEWER", at=JAN_16)
    cancelled = service.cancel(request.id, team_id=T, user_id=OWNER, at=JAN_16)
    assert cancelled.status is RequestStatus.CANCELLED
    assert service.cancel(request.id, team_id=T, user_id=OWNER, at=JAN_16) == cancelled
    outcome = service.confirm(
        request.id, team_id=T, user_id=OWNER, at=JAN_16, platform_check_passed=True
    )
    assert outcome.kind is ConfirmKind.REFUSED
    assert service.ledger(acme.account_id) == []


def test_an_applied_request_cannot_be_cancelled(service: SeatService, seed: Seed) -> None:
    acme = seed()
    request = service.create_request(
        acme.subscription_id, 12, team_id=T, user_id=OWNER, reason="", at=JAN_16
    )
    service.confirm(request.id, team_id=T, user_id=OWNER, at=JAN_16, platform_check_passed=True)
    with pytest.raises(InvalidTransition):
        service.cancel(request.id, team_id=T, user_id=OWNER, at=JAN_16)
    assert service.get_request(request.id).status is RequestStatus.APPLIED


def test_message_ref_is_stored(service: SeatService, seed: Seed) -> None:
    acme = seed()
    request = service.create_request(
        acme.subscription_id, 12, team_id=T, user_id=OWNER, reason="", at=JAN_16
    )
    view = service.set_message_ref(request.id, channel_id="C1", ts="1700000000.000100")
    assert (view.slack_channel_id, view.slack_message_ts) == ("C1", "1700000000.000100")
    assert service.get_request(request.id).slack_message_ts == "1700000000.000100"


# -- renewal ------------------------------------------------------------------------------------


def test_renewal_advances_each_missed_period_once(
    service: SeatService, seed: Seed, session_factory: sessionmaker[Session]
) -> None:
    acme = seed(seats=4, unit_price_minor=2500, anchor=date(2025, 12, 31))
    march = datetime(2026, 3, 15, tzinfo=UTC)
    renewals = service.renew(acme.subscription_id, march)
    # Dec 31 anchor: Jan 31 → Feb 28 → Mar 31 (calendar-true); Mar 15 lies in Feb 28 – Mar 31.
    assert [(r.period_start.date(), r.period_end.date()) for r in renewals] == [
        (date(2026, 1, 31), date(2026, 2, 28)),
        (date(2026, 2, 28), date(2026, 3, 31)),
    ]
    assert all(r.kind is LedgerKind.RENEWAL and r.amount == Money(10000, "USD") for r in renewals)
    assert service.renew(acme.subscription_id, march) == []
    subscription = _subscription(session_factory, acme.subscription_id)
    assert subscription.current_period_start == datetime(2026, 2, 28, tzinfo=UTC)
    assert subscription.version == 3
    assert len(_ledger_rows(session_factory)) == 2


def test_a_quote_from_the_previous_period_is_renewed_then_requoted(
    service: SeatService, seed: Seed, session_factory: sessionmaker[Session]
) -> None:
    acme = seed()
    request = service.create_request(
        acme.subscription_id,
        12,
        team_id=T,
        user_id=OWNER,
        reason="",
        at=datetime(2026, 1, 31, 23, 55, tzinfo=UTC),
    )
    feb = datetime(2026, 2, 1, 0, 2, tzinfo=UTC)
    stale = service.confirm(
        request.id, team_id=T, user_id=OWNER, at=feb, platform_check_passed=True
    )
    assert stale.kind is ConfirmKind.STALE
    assert stale.request.period.start == datetime(2026, 2, 1, tzinfo=UTC)
    kinds = [row[1] for row in _ledger_rows(session_factory)]
    assert kinds == ["renewal"]
    applied = service.confirm(
        request.id, team_id=T, user_id=OWNER, at=feb, platform_check_passed=True
    )
    assert applied.kind is ConfirmKind.APPLIED
    # The whole of February is left: credit 10 seats, charge 12.
    assert [line.amount.minor for line in applied.ledger_lines] == [-30000, 36000]
    ledger = service.ledger(acme.account_id)
    assert [line.kind for line in ledger] == [
        LedgerKind.RENEWAL,
        LedgerKind.CREDIT,
        LedgerKind.CHARGE,
    ]
    assert ledger[0].amount == Money(30000, "USD")


def test_ledgers_are_per_account(service: SeatService, seed: Seed) -> None:
    acme = seed("acme")
    globex = seed("globex", team_id="T_GLOBEX")
    request = service.create_request(
        acme.subscription_id, 12, team_id=T, user_id=OWNER, reason="", at=JAN_16
    )
    service.confirm(request.id, team_id=T, user_id=OWNER, at=JAN_16, platform_check_passed=True)
    assert len(service.ledger(acme.account_id)) == 2
    assert service.ledger(globex.account_id) == []
    assert service.history(globex.account_id) == []


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
    request = service.create_request(
        acme.subscription_id, new, team_id=T, user_id=OWNER, reason="", at=at
    )
    assert request.lines == quote.proration.lines
    outcome = service.confirm(
        request.id, team_id=T, user_id=OWNER, at=at, platform_check_passed=True
    )
    assert outcome.kind is ConfirmKind.APPLIED
    assert sum(line.amount.minor for line in outcome.ledger_lines) == quote.net.minor
    assert all(isinstance(line.amount.minor, int) for line in outcome.ledger_lines)
    with session_factory() as session:
        total = session.scalar(
            select(func.coalesce(func.sum(LedgerEntry.amount_minor), 0)).where(
                LedgerEntry.subscription_id == acme.subscription_id
            )
        )
    assert total == quote.net.minor
    assert _subscription(session_factory, acme.subscription_id).seats == new
