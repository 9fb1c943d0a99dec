"""Reconciliation maths: counts, idleness, unused and over-allocated seats, exact costs, and a
platform that could not be read is unknown, never zero."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from billing.money import Money
from billing.periods import Interval
from billing.products import Product
from billing.reports.rules import ProductReadStatus, change_between, count_users, reconcile_product
from billing.users import Level, PlatformUser, UserListing, UserStatus

AT = datetime(2026, 11, 29, 9, 0, tzinfo=UTC)


def user(n: int, *, active: bool = True, days_idle: int | None = 1) -> PlatformUser:
    return PlatformUser(
        platform_id=str(n),
        email=f"u{n}@example.com",
        name=f"User {n}",
        extension=100 + n,
        level=Level.AGENT,
        status=UserStatus.ACTIVE if active else UserStatus.INACTIVE,
        last_active_at=None if days_idle is None else AT - timedelta(days=days_idle),
    )


def test_idle_means_thirty_days_or_more_and_never_an_unknown_date() -> None:
    users = [
        user(1, days_idle=29),
        user(2, days_idle=30),
        user(3, active=False, days_idle=45),
        user(4, days_idle=None),
        user(5, active=False, days_idle=None),
    ]
    counts = count_users(users, AT)
    assert (counts.total, counts.active, counts.inactive, counts.idle) == (5, 3, 2, 2)


def test_the_issue_example_axiom_40_seats_31_users_6_idle() -> None:
    # "Axiom: 40 seats, 31 users, 6 of them inactive for 30+ days — 15 seats you could
    # release are worth $682.50 a month": 9 unused + 6 idle = 15; 15 × 45.50 = 682.50.
    users = [user(n, days_idle=40 if n <= 6 else 2) for n in range(1, 32)]
    found = reconcile_product(
        Product.AXIOM,
        seats=40,
        unit_price=Money.parse("45.50", "USD"),
        interval=Interval.MONTHLY,
        listing=UserListing.complete(users),
        at=AT,
    )
    assert found.status is ProductReadStatus.OK
    assert (found.unused_seats, found.over_allocated, found.releasable_seats) == (9, 0, 15)
    assert found.unused_cost == Money(40950, "USD")  # 9 × 45.50
    assert found.releasable_cost == Money(68250, "USD")
    assert found.per_period == "a month"
    assert found.utilisation_percent == 77  # 31 / 40 = 77.5 %, rounded down


def test_more_users_than_seats_is_over_allocated_in_any_currency() -> None:
    users = [user(n, active=n != 1) for n in range(1, 6)]
    found = reconcile_product(
        Product.MATRIX,
        seats=3,
        unit_price=Money.parse("9.750", "KWD"),
        interval=Interval.ANNUAL,
        listing=UserListing.complete(users),
        at=AT,
    )
    assert (found.unused_seats, found.over_allocated) == (0, 2)
    assert found.unused_cost == Money(0, "KWD")
    assert found.inactive_cost == Money(9750, "KWD")
    assert found.per_period == "a year"


def test_a_platform_that_could_not_be_read_is_unknown_never_zero() -> None:
    found = reconcile_product(
        Product.AXIOM,
        seats=12,
        unit_price=Money.parse("45.50", "USD"),
        interval=Interval.MONTHLY,
        listing=UserListing.unknown("Axiom did not answer in 30 s"),
        at=AT,
    )
    assert found.status is ProductReadStatus.UNKNOWN
    assert found.reason == "Axiom did not answer in 30 s"
    assert found.users is None
    for figure in (
        found.unused_seats,
        found.over_allocated,
        found.releasable_seats,
        found.unused_cost,
        found.inactive_cost,
        found.idle_cost,
        found.releasable_cost,
    ):
        assert figure is None
    assert found.spend == Money(54600, "USD")  # the seats billed are still known


def test_change_since_the_previous_run_is_unknown_when_either_run_was() -> None:
    price = Money.parse("30.00", "USD")

    def run(seats: int, users: int | None) -> object:
        listing = (
            UserListing.unknown("down")
            if users is None
            else UserListing.complete([user(n) for n in range(users)])
        )
        return reconcile_product(
            Product.CONTACT_CENTER,
            seats=seats,
            unit_price=price,
            interval=Interval.MONTHLY,
            listing=listing,
            at=AT,
        )

    now, before, blind = run(20, 18), run(25, 23), run(25, None)
    change = change_between(now, before)  # type: ignore[arg-type]
    assert change is not None
    assert (change.seats, change.users) == (-5, -5)
    unknown = change_between(now, blind)  # type: ignore[arg-type]
    assert unknown is not None
    assert (unknown.seats, unknown.users) == (-5, None)
    assert change_between(now, None) is None  # type: ignore[arg-type]
