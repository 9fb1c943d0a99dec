"""The operator's SeatService on a real database (SQLite and PostgreSQL): accounts,
subscriptions, quotes and their bounds, renewal. Seat changes: test_seat_changes.py."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from datetime import UTC, date, datetime
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from billing.access import Role
from billing.books.service import SeatService
from billing.errors import InvalidSeatCount, NotFound, QuoteUnavailable, UserFacingError
from billing.models import LedgerEntry, Subscription
from billing.money import Money
from billing.periods import Interval, Period
from billing.products import MAX_SEATS, Product
from billing.proration import LedgerKind, LineKind

T = "T_ACME"
OWNER = "U_OWNER"
JAN_16 = datetime(2026, 1, 16, tzinfo=UTC)
JAN_PERIOD = Period(datetime(2026, 1, 1, tzinfo=UTC), datetime(2026, 2, 1, tzinfo=UTC))

Seed = Callable[..., Any]


@pytest.fixture
def service(session_factory: sessionmaker[Session]) -> SeatService:
    return SeatService(session_factory)


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
    assert service.history(acme.account_id) == []


@pytest.mark.parametrize(
    ("at", "says"),
    [
        (datetime(2025, 1, 1, tzinfo=UTC), "started on 1 Jan 2026"),
        (datetime(2030, 1, 1, tzinfo=UTC), "current billing period"),
        (datetime(2026, 2, 1, tzinfo=UTC), "current billing period"),
    ],
)
def test_a_quote_outside_the_subscriptions_life_is_refused(
    service: SeatService, seed: Seed, at: datetime, says: str
) -> None:
    acme = seed()
    with pytest.raises(QuoteUnavailable, match=says):
        service.quote(acme.subscription_id, 12, at, now=JAN_16)
    # The same instants are fine when they are the present (the period then runs).
    assert service.quote(acme.subscription_id, 12, JAN_16, now=JAN_16).net.minor == 3097


def test_unknown_ids_are_not_found(service: SeatService) -> None:
    with pytest.raises(NotFound):
        service.quote(404, 3, JAN_16)
    with pytest.raises(NotFound):
        service.get_request(404)


def test_naive_instants_are_refused(service: SeatService, seed: Seed) -> None:
    acme = seed()
    with pytest.raises(ValueError, match="timezone-aware"):
        service.quote(acme.subscription_id, 12, datetime(2026, 1, 16))  # noqa: DTZ001


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
