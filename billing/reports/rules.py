"""Reconciliation maths: seats billed against the users that exist on a platform.

Pure functions over plain values; the time is passed in. The words used everywhere:

- **users**: every user that exists on the platform; each holds one seat (active or not);
- **inactive**: users the platform marks inactive (they still hold a seat);
- **idle 30+ days**: users whose last activity the platform reports, and it was
  :data:`IDLE_AFTER` or more before the reconciliation; a user the platform gives no last
  activity for is never counted idle (the platform does not say);
- **not using** (the digest's "idle users"): users who hold a seat without using it — inactive,
  or idle 30+ days, each counted once;
- **unused seats**: seats billed that no user holds (``seats − users``, at least 0);
- **over-allocated**: users beyond the seats billed (``users − seats``, at least 0);
- **releasable seats**: unused seats plus seats held by users idle 30+ days (the CLI's figure);
- **could be saved** (the digest's one total, :attr:`ProductReconciliation.saving_seats`): the
  seats billed beyond the users who use them — unused seats plus the seats of users not using
  them that could go once those users are deleted on the platform; never more than the seats.

Each cost is the seats times the unit price of one seat for one full billing period: what they
cost **per period** (a month for a monthly subscription), in the subscription's currency,
exactly (integer minor units). A product whose platform could not be read is ``unknown``: its
user figures and costs are ``None``, never zero.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from billing.money import Money
from billing.periods import Interval, require_aware
from billing.products import Product
from billing.users import PlatformUser, UserListing, UserStatus
from billing.views import SeatChangeView

#: How long without activity makes a user idle ("inactive for 30+ days").
IDLE_AFTER = timedelta(days=30)
#: How many inactive or idle users a stored run keeps by name (the digest's thread lists them):
#: inactive ones first, then the longest idle.
LISTED_IDLE_USERS = 200

#: How each interval is said per period ("a month").
PER_PERIOD = {
    Interval.WEEKLY: "a week",
    Interval.MONTHLY: "a month",
    Interval.QUARTERLY: "a quarter",
    Interval.ANNUAL: "a year",
}


class ProductReadStatus(enum.StrEnum):
    """Whether a reconciliation could read a product's users on its platform."""

    OK = "ok"
    UNKNOWN = "unknown"  # could not be read: never counted as zero users


@dataclass(frozen=True, slots=True)
class UserCounts:
    """How many users exist (``total`` = ``active`` + ``inactive``), how many are idle 30+
    days, and how many hold a seat without using it (``not_using``: inactive or idle, each
    once, so ``max(inactive, idle) <= not_using <= total``)."""

    total: int
    active: int
    inactive: int
    idle: int
    not_using: int

    @property
    def using(self) -> int:
        """The users who use their seat (active, and not idle 30+ days)."""
        return self.total - self.not_using


@dataclass(frozen=True, slots=True)
class IdleUser:
    """A user who holds a seat without using it: inactive, idle, or both."""

    name: str
    email: str
    extension: int
    status: UserStatus
    last_active_at: datetime | None
    idle: bool


@dataclass(frozen=True, slots=True)
class ProductChange:
    """Change since the previous run: seats and users (``None`` when either run had no count)."""

    seats: int
    users: int | None


@dataclass(frozen=True, slots=True)
class ProductReconciliation:
    """One product of one account at one instant: what is billed and what exists."""

    product: Product
    seats: int
    unit_price: Money
    interval: Interval
    status: ProductReadStatus
    reason: str | None
    users: UserCounts | None
    idle_users: tuple[IdleUser, ...] = ()

    @property
    def known(self) -> bool:
        return self.users is not None

    @property
    def unused_seats(self) -> int | None:
        return None if self.users is None else max(0, self.seats - self.users.total)

    @property
    def over_allocated(self) -> int | None:
        return None if self.users is None else max(0, self.users.total - self.seats)

    @property
    def releasable_seats(self) -> int | None:
        """Unused seats plus seats held by idle users."""
        if self.users is None:
            return None
        return min(self.seats, max(0, self.seats - self.users.total) + self.users.idle)

    @property
    def saving_seats(self) -> int | None:
        """The seats that could be saved: every seat beyond the users who use one (unused seats
        plus :attr:`idle_seats`); at most :attr:`seats`."""
        if self.users is None:
            return None
        return max(0, self.seats - self.users.using)

    @property
    def idle_seats(self) -> int | None:
        """The seats held by users not using them that could be released once those users are
        deleted on the platform (all of them unless the platform holds more users than seats)."""
        if self.users is None:
            return None
        return max(0, self.seats - self.users.using) - max(0, self.seats - self.users.total)

    def _cost(self, count: int | None) -> Money | None:
        return None if count is None else self.unit_price.times(count)

    @property
    def unused_cost(self) -> Money | None:
        """What the unused seats cost per period."""
        return self._cost(self.unused_seats)

    @property
    def inactive_cost(self) -> Money | None:
        """What the seats held by inactive users cost per period."""
        return self._cost(None if self.users is None else self.users.inactive)

    @property
    def idle_cost(self) -> Money | None:
        """What the seats held by idle users cost per period."""
        return self._cost(None if self.users is None else self.users.idle)

    @property
    def saving_cost(self) -> Money | None:
        """What the seats that could be saved cost per period (never more than :attr:`spend`)."""
        return self._cost(self.saving_seats)

    @property
    def idle_seats_cost(self) -> Money | None:
        """What the seats held by users not using them cost per period."""
        return self._cost(self.idle_seats)

    @property
    def releasable_cost(self) -> Money | None:
        """What the releasable seats cost per period."""
        return self._cost(self.releasable_seats)

    @property
    def spend(self) -> Money:
        """What the billed seats cost per period (seats × unit price)."""
        return self.unit_price.times(self.seats)

    @property
    def per_period(self) -> str:
        return PER_PERIOD[self.interval]

    @property
    def utilisation_percent(self) -> int | None:
        """Users as a whole percentage of seats, rounded down (``None`` when unknown or no
        seats)."""
        if self.users is None or self.seats == 0:
            return None
        return self.users.total * 100 // self.seats


@dataclass(frozen=True, slots=True)
class Saving:
    """What changes started from a digest saved: ``amount`` each ``interval``, from
    ``changes`` applied changes."""

    amount: Money
    interval: Interval
    changes: int

    @property
    def per_period(self) -> str:
        return PER_PERIOD[self.interval]


def suggested_savings(changes: Iterable[SeatChangeView]) -> tuple[Saving, ...]:
    """What the applied ``changes`` (started from a digest) take off each period's bill: the
    seats removed × one seat's price, per currency and interval (increases save nothing)."""
    totals: dict[tuple[str, Interval], tuple[Money, int]] = {}
    for change in changes:
        if change.new_seats >= change.old_seats:
            continue
        key = (change.unit_price.currency, change.interval)
        amount, count = totals.get(key, (Money.zero(key[0]), 0))
        totals[key] = (
            amount + change.unit_price.times(change.old_seats - change.new_seats),
            count + 1,
        )
    return tuple(
        Saving(amount, interval, count) for (_, interval), (amount, count) in totals.items()
    )


def is_idle(user: PlatformUser, at: datetime) -> bool:
    """Whether the platform says the user was last active :data:`IDLE_AFTER` or more ago."""
    return user.last_active_at is not None and at - user.last_active_at >= IDLE_AFTER


def count_users(users: Iterable[PlatformUser], at: datetime) -> UserCounts:
    """Count ``users`` by status and idleness at ``at`` (aware)."""
    require_aware(at)
    total = active = idle = not_using = 0
    for user in users:
        total += 1
        idle_now = is_idle(user, at)
        if user.status is UserStatus.ACTIVE:
            active += 1
        if idle_now:
            idle += 1
        if idle_now or user.status is not UserStatus.ACTIVE:
            not_using += 1
    return UserCounts(
        total=total, active=active, inactive=total - active, idle=idle, not_using=not_using
    )


def unused_seat_holders(
    users: Sequence[PlatformUser], at: datetime, limit: int = LISTED_IDLE_USERS
) -> tuple[IdleUser, ...]:
    """The users who hold a seat without using it: inactive ones first, then idle ones; each
    group longest unused first (never-active users last); at most ``limit``."""
    held = []
    for user in users:
        idle = is_idle(user, at)
        if idle or user.status is UserStatus.INACTIVE:
            held.append((user, idle))
    held.sort(
        key=lambda pair: (
            pair[0].status is not UserStatus.INACTIVE,
            pair[0].last_active_at is None,
            pair[0].last_active_at.timestamp() if pair[0].last_active_at else 0.0,
            pair[0].extension,
        )
    )
    return tuple(
        IdleUser(
            name=u.name,
            email=u.email,
            extension=u.extension,
            status=u.status,
            last_active_at=u.last_active_at,
            idle=idle,
        )
        for u, idle in held[:limit]
    )


def reconcile_product(
    product: Product,
    *,
    seats: int,
    unit_price: Money,
    interval: Interval,
    listing: UserListing,
    at: datetime,
) -> ProductReconciliation:
    """Reconcile one product's billed ``seats`` with what ``listing`` found at ``at``."""
    require_aware(at)
    if listing.users is None:
        return ProductReconciliation(
            product, seats, unit_price, interval, ProductReadStatus.UNKNOWN, listing.problem, None
        )
    return ProductReconciliation(
        product,
        seats,
        unit_price,
        interval,
        ProductReadStatus.OK,
        None,
        count_users(listing.users, at),
        unused_seat_holders(listing.users, at),
    )


def change_between(
    current: ProductReconciliation, previous: ProductReconciliation | None
) -> ProductChange | None:
    """How ``current`` differs from ``previous`` (``None`` when there is no previous)."""
    if previous is None:
        return None
    users = (
        None
        if current.users is None or previous.users is None
        else current.users.total - previous.users.total
    )
    return ProductChange(seats=current.seats - previous.seats, users=users)
