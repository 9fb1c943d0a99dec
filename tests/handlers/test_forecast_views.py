"""The next invoice in ``/seats status``, App Home and the daily digest: each product's renewal
day (the account's) and amount at today's seats, the requests waiting for approval beside it,
never added in. Every block is validated by slack_sdk.models (``shown`` / ``lines_of``)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from billing.money import Money
from billing.periods import Interval, period_at
from billing.products import Product
from billing.proration import DecreasePolicy, ProrationRule
from billing.reports.facts import AccountReconciliation, DigestFacts
from billing.requests import RequestStatus
from billing.seats.forecast import forecast
from billing.seats.outcomes import Home, HomeAccount
from billing.users import UserListing
from billing.views import AccountView, SubscriptionView
from handlers.views import status_message
from handlers.views.digest import digest_messages
from handlers.views.home import home_view
from tests.handlers.test_outcome_wording import NBSP, lines_of, shown, submitted

NEXT = "*Next invoice* at today's seats"


def account(currency: str, tz: str) -> AccountView:
    return AccountView(1, "acme", "Acme", currency, tz, "T1", "C1")


def sub(
    product: Product, seats: int, price: str, currency: str, interval: Interval, anchor: date
) -> SubscriptionView:
    period = period_at(anchor, interval, datetime(2026, 1, 1, tzinfo=UTC), ZoneInfo("UTC"))
    return SubscriptionView(
        11, 1, product, seats, Money.parse(price, currency), interval, anchor,
        ProrationRule.DAILY, DecreasePolicy.PRORATED, 1, period, period.start, seats,
    )  # fmt: skip


def test_status_shows_the_next_invoice_in_usd_with_a_waiting_request_beside_it() -> None:
    # 12:00 UTC on 15 Feb 2026, in London; Axiom anchored on 31 Jan: renews on 28 Feb.
    at = datetime(2026, 2, 15, 12, 0, tzinfo=UTC)
    where = ZoneInfo("Europe/London")
    axiom = sub(Product.AXIOM, 25, "30.00", "USD", Interval.MONTHLY, date(2026, 1, 31))
    waiting = submitted("USD", RequestStatus.PENDING_APPROVAL)  # 25 → 20 seats
    seats = forecast(account("USD", "Europe/London"), [axiom], [waiting], at, where)
    listing = [UserListing.complete([])]
    lines = shown(status_message("Acme", [axiom], listing, where, forecast=seats))
    assert NEXT in lines
    assert "• *Axiom*: $750.00 on 28 Feb 2026 — 25 seats × $30.00 a month" in lines
    assert (
        "• Waiting for approval, not included: Axiom 25 → 20 seats ($600.00 if approved)" in lines
    )
    # Without a forecast (an account without subscriptions says so instead), no section.
    assert NEXT not in shown(status_message("Acme", [axiom], listing, where))


def test_app_home_shows_each_accounts_next_invoice_in_yen_quarterly() -> None:
    tokyo = ZoneInfo("Asia/Tokyo")
    at = datetime(2026, 1, 10, 0, 0, tzinfo=UTC)
    matrix = sub(Product.MATRIX, 3, "4500", "JPY", Interval.QUARTERLY, date(2025, 11, 30))
    seats = forecast(account("JPY", "Asia/Tokyo"), [matrix], [], at, tokyo)
    entry = HomeAccount(account("JPY", "Asia/Tokyo"), (matrix,), (), (), (), (), forecast=seats)
    lines = shown(home_view(Home((entry,)), [[UserListing.complete([])]], [tokyo]))
    assert NEXT in lines
    assert "• *Matrix*: ¥13,500 on 28 Feb 2026 — 3 seats × ¥4,500 a quarter" in lines
    assert not any("Waiting for approval" in line for line in lines)


def test_the_digest_shows_the_next_invoice_in_the_accounts_day_kwd_yearly() -> None:
    # 12:00 UTC on 28 Feb 2026 is 1 Mar 01:00 in Auckland: the yearly period from 1 Mar has
    # begun there, so the next renewal is 1 Mar 2027. Only the request waiting for approval is
    # listed beside (an approved one is about to apply).
    at = datetime(2026, 2, 28, 12, 0, tzinfo=UTC)
    where = ZoneInfo("Pacific/Auckland")
    acme = account("KWD", "Pacific/Auckland")
    axiom = sub(Product.AXIOM, 12, "29.500", "KWD", Interval.ANNUAL, date(2025, 3, 1))
    waiting = submitted("KWD", RequestStatus.PENDING_APPROVAL)  # 12 → 9 seats
    approved = submitted("KWD", RequestStatus.APPROVED)
    run = AccountReconciliation(acme, 1, at, date(2026, 3, 1), (), {}, None)
    facts = DigestFacts(
        acme, at, at - timedelta(days=1), run, (axiom,), (), (), (waiting, approved), None, ()
    )
    [digest] = digest_messages(facts, where)
    lines = lines_of(digest.blocks)
    assert NEXT in lines
    assert f"• *Axiom*: KWD{NBSP}354.000 on 1 Mar 2027 — 12 seats × KWD{NBSP}29.500 a year" in lines
    waiting_lines = [line for line in lines if "Waiting for approval" in line]
    assert waiting_lines == [
        f"• Waiting for approval, not included: Axiom 12 → 9 seats (KWD{NBSP}265.500 if approved)"
    ]
