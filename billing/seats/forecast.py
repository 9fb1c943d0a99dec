"""The next invoice: what each subscription renews for at today's seats (pure: no database,
no clock; the instant is passed in).

A subscription renews on the first day of its next billing period in the account's time zone
(the next boundary of :mod:`billing.periods`, always counted from the anchor, so a month-end
anchor stays month-end: 31 Jan → 28 Feb, or 29 in a leap year → 31 Mar) for one full period at
today's seats: seats × unit price, exactly what :func:`billing.seats.renewal.renew_due` writes to
the ledger then. Requests waiting for approval are listed beside the forecast, never added in:
until a manager approves one, today's seats are what renews.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from zoneinfo import ZoneInfo

from billing.money import Money
from billing.periods import Interval, boundary, period_at, require_aware
from billing.products import Product
from billing.views import AccountView, SeatChangeView, SubscriptionView


@dataclass(frozen=True, slots=True)
class ProductForecast:
    """One product's next renewal: on ``renews_on`` (a local day of the account), ``seats`` ×
    ``unit_price`` = ``amount`` for one ``interval``."""

    product: Product
    seats: int
    unit_price: Money
    interval: Interval
    renews_on: date
    amount: Money


@dataclass(frozen=True, slots=True)
class WaitingChange:
    """A seat change waiting for approval, beside the forecast (not in it): what the product
    would renew for (``amount_if_approved``) were it approved before the renewal."""

    request_id: int
    product: Product
    old_seats: int
    new_seats: int
    amount_if_approved: Money


@dataclass(frozen=True, slots=True)
class Forecast:
    """An account's next invoice at ``at`` (aware UTC): each product's renewal, and the
    changes waiting for approval beside it."""

    account: AccountView
    at: datetime
    products: tuple[ProductForecast, ...]
    waiting: tuple[WaitingChange, ...] = ()


def next_renewal(subscription: SubscriptionView, at: datetime, tz: ZoneInfo) -> ProductForecast:
    """``subscription``'s next renewal after ``at``: the first day of the period after the one
    containing ``at`` in ``tz``, for one full period at today's seats."""
    require_aware(at)
    period = period_at(subscription.anchor, subscription.interval, at, tz)
    return ProductForecast(
        product=subscription.product,
        seats=subscription.seats,
        unit_price=subscription.unit_price,
        interval=subscription.interval,
        renews_on=boundary(subscription.anchor, subscription.interval, period.index + 1),
        amount=subscription.unit_price.times(subscription.seats),
    )


def forecast(
    account: AccountView,
    subscriptions: Sequence[SubscriptionView],
    waiting: Sequence[SeatChangeView],
    at: datetime,
    tz: ZoneInfo,
) -> Forecast:
    """``account``'s next invoice at ``at``: every subscription's renewal (in the order
    given), and ``waiting`` (requests pending approval) priced as if approved, not added in."""
    return Forecast(
        account=account,
        at=at,
        products=tuple(next_renewal(s, at, tz) for s in subscriptions),
        waiting=tuple(
            WaitingChange(
                request_id=r.id,
                product=r.product,
                old_seats=r.old_seats,
                new_seats=r.new_seats,
                amount_if_approved=r.unit_price.times(r.new_seats),
            )
            for r in waiting
        ),
    )
