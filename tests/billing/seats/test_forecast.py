"""The next invoice (``billing/seats/forecast.py``), against figures computed by hand: three
currencies (USD 2 decimals, JPY 0, KWD 3), every interval, month-end anchors and account time
zones whose day differs from UTC's."""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy.orm import Session, sessionmaker

from billing.access import Caller
from billing.errors import NO_ROLE, NotAuthorised, NotFound
from billing.money import Money
from billing.periods import Interval, period_at
from billing.products import Product
from billing.proration import DecreasePolicy, ProrationRule
from billing.requests import RequestStatus
from billing.seats.forecast import forecast, next_renewal
from billing.seats.reads import AccountReads
from billing.views import AccountView, SubscriptionView
from tests.conftest import Seed
from tests.handlers.test_outcome_wording import submitted  # a request's view, pending approval

UTC_ZONE = ZoneInfo("UTC")


def sub(
    seats: int, price: str, currency: str, interval: Interval, anchor: date
) -> SubscriptionView:
    # The view's own period is deliberately a stale one (the anchor's first period): the
    # forecast must find the period containing the instant itself.
    period = period_at(
        anchor, interval, datetime.combine(anchor, datetime.min.time(), UTC), UTC_ZONE
    )
    return SubscriptionView(
        1, 1, Product.AXIOM, seats, Money.parse(price, currency), interval, anchor,
        ProrationRule.DAILY, DecreasePolicy.PRORATED, 1, period, period.start, seats,
    )  # fmt: skip


@pytest.mark.parametrize(
    ("seats", "price", "currency", "interval", "anchor", "at", "tz", "renews_on", "amount"),
    [
        # USD, monthly, anchored on 31 Jan: the period after 31 Jan starts 28 Feb (2026) …
        (32, "30.00", "USD", Interval.MONTHLY, date(2026, 1, 31), "2026-02-15T12:00:00+00:00",
         "UTC", date(2026, 2, 28), "960.00"),
        # … 29 Feb in a leap year …
        (32, "30.00", "USD", Interval.MONTHLY, date(2028, 1, 31), "2028-02-10T12:00:00+00:00",
         "UTC", date(2028, 2, 29), "960.00"),
        # … and back to the month's end after February (never drifting to the 28th).
        (32, "30.00", "USD", Interval.MONTHLY, date(2026, 1, 31), "2026-03-05T12:00:00+00:00",
         "UTC", date(2026, 3, 31), "960.00"),
        (32, "30.00", "USD", Interval.MONTHLY, date(2026, 1, 31), "2026-04-02T12:00:00+00:00",
         "UTC", date(2026, 4, 30), "960.00"),
        # JPY, quarterly, anchored on 30 Nov: 30 Nov → 28 Feb (clamped) → 30 May.
        (3, "4500", "JPY", Interval.QUARTERLY, date(2025, 11, 30), "2026-01-10T00:00:00+00:00",
         "Asia/Tokyo", date(2026, 2, 28), "13500"),
        (3, "4500", "JPY", Interval.QUARTERLY, date(2025, 11, 30), "2026-03-01T00:00:00+00:00",
         "Asia/Tokyo", date(2026, 5, 30), "13500"),
        # KWD, annual: at 12:00 UTC on 28 Feb 2026 it is already 1 Mar in Auckland (UTC+13),
        # so the period that renews on 1 Mar 2026 has begun there: next is 1 Mar 2027.
        (5, "5.900", "KWD", Interval.ANNUAL, date(2025, 3, 1), "2026-02-28T12:00:00+00:00",
         "Pacific/Auckland", date(2027, 3, 1), "29.500"),
        # … while in UTC that same instant is still 28 Feb: it renews the next day.
        (5, "5.900", "KWD", Interval.ANNUAL, date(2025, 3, 1), "2026-02-28T12:00:00+00:00",
         "UTC", date(2026, 3, 1), "29.500"),
        # USD, monthly, in Los Angeles: 03:00 UTC on 1 Feb is still 31 Jan there.
        (7, "12.34", "USD", Interval.MONTHLY, date(2026, 1, 1), "2026-02-01T03:00:00+00:00",
         "America/Los_Angeles", date(2026, 2, 1), "86.38"),
        (7, "12.34", "USD", Interval.MONTHLY, date(2026, 1, 1), "2026-02-01T03:00:00+00:00",
         "UTC", date(2026, 3, 1), "86.38"),
        # Weekly, and a period boundary at local midnight exactly: the next week starts then.
        (4, "1.250", "KWD", Interval.WEEKLY, date(2026, 1, 5), "2026-01-11T21:00:00+00:00",
         "Asia/Kuwait", date(2026, 1, 19), "5.000"),
        # No seats: nothing to pay, the date all the same.
        (0, "30.00", "USD", Interval.ANNUAL, date(2024, 2, 29), "2026-01-10T00:00:00+00:00",
         "UTC", date(2026, 2, 28), "0.00"),
    ],
)  # fmt: skip
def test_the_next_renewal_matches_the_hand_computed_figures(
    seats: int,
    price: str,
    currency: str,
    interval: Interval,
    anchor: date,
    at: str,
    tz: str,
    renews_on: date,
    amount: str,
) -> None:
    renewal = next_renewal(
        sub(seats, price, currency, interval, anchor), datetime.fromisoformat(at), ZoneInfo(tz)
    )
    assert renewal.renews_on == renews_on
    assert renewal.amount == Money.parse(amount, currency)
    assert renewal.amount.to_decimal_string() == amount
    assert (renewal.seats, renewal.unit_price.to_decimal_string()) == (seats, price)


def test_the_renewal_day_is_the_day_the_next_period_starts() -> None:
    """The forecast's day is exactly where the period containing ``at`` ends, in the zone."""
    tz = ZoneInfo("Pacific/Auckland")
    at = datetime(2026, 2, 28, 12, 0, tzinfo=UTC)
    anchor = date(2025, 3, 1)
    period = period_at(anchor, Interval.ANNUAL, at, tz)
    renewal = next_renewal(sub(5, "5.900", "KWD", Interval.ANNUAL, anchor), at, tz)
    assert period.end.astimezone(tz).date() == renewal.renews_on


def test_waiting_changes_are_listed_beside_never_added_in() -> None:
    waiting = submitted("USD", RequestStatus.PENDING_APPROVAL)
    account = AccountView(1, "acme", "Acme", "USD", "UTC", "T1", "C1")
    at = datetime(2026, 1, 16, 12, 0, tzinfo=UTC)
    today = sub(10, "30.00", "USD", Interval.MONTHLY, date(2026, 1, 1))
    result = forecast(account, [today], [waiting], at, UTC_ZONE)
    [product] = result.products
    assert product.amount == Money.parse("300.00", "USD")  # today's 10 seats, not the request's
    [beside] = result.waiting
    assert (beside.request_id, beside.old_seats, beside.new_seats) == (
        waiting.id,
        waiting.old_seats,
        waiting.new_seats,
    )
    assert beside.amount_if_approved == waiting.unit_price.times(waiting.new_seats)


# -- the use case: authorised as /seats status, on both databases ------------------------------


@pytest.mark.parametrize("user_id", ["U_OWNER", "U_MANAGER", "U_VIEWER"])
def test_every_role_reads_the_forecast_and_status_carries_it(
    session_factory: sessionmaker[Session], seed: Seed, user_id: str
) -> None:
    # Acme (seed): Axiom 10 × $30.00 a month, here anchored on 31 Jan 2026, in Auckland.
    seed(anchor=date(2026, 1, 31), timezone="Pacific/Auckland")
    reads = AccountReads(session_factory)
    caller = Caller("T_ACME", user_id)
    at = datetime(2026, 2, 27, 12, 0, tzinfo=UTC)  # 28 Feb 01:00 in Auckland: March's period
    seen = reads.forecast(caller, account_name=None, channel_id="C_SEATS", at=at)
    [axiom] = seen.products
    assert (axiom.renews_on, axiom.amount) == (date(2026, 3, 31), Money.parse("300.00", "USD"))
    status = reads.status(caller, account_name=None, channel_id="C_SEATS", at=at)
    assert status.forecast == seen
    [home] = reads.home(caller, at=at).accounts
    assert home.forecast == seen


def test_the_forecast_of_an_account_is_nobodys_outside_it(
    session_factory: sessionmaker[Session], seed: Seed
) -> None:
    seed()
    reads = AccountReads(session_factory)
    at = datetime(2026, 1, 16, 12, 0, tzinfo=UTC)
    with pytest.raises(NotFound):  # another workspace: the account does not exist for them
        reads.forecast(Caller("T_OTHER", "U_OWNER"), account_name="acme", channel_id=None, at=at)
    with pytest.raises(NotAuthorised) as refused:  # the workspace, but no role: told nothing
        reads.forecast(Caller("T_ACME", "U_NOBODY"), account_name="acme", channel_id=None, at=at)
    assert refused.value.message == NO_ROLE
