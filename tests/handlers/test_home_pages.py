"""The App Home in pages: however many accounts a member holds a role in, the tab holds at most
100 blocks (validated by slack_sdk.models), shows the accounts that fit, and offers "More
accounts" from the first one it left out and "First accounts" back; the role-aware footer and
the owners' "Change seats" stay."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from slack_sdk.models.views import View

from billing.money import Money
from billing.periods import Interval, period_at
from billing.products import Product
from billing.proration import DecreasePolicy, ProrationRule
from billing.requests import RequestStatus
from billing.seats.outcomes import Home, HomeAccount
from billing.seats.rules import HOME_PAGE
from billing.users import UserListing
from billing.views import AccountView, SeatChangeView, SubscriptionView
from handlers.views.home import home_view
from tests.handlers.test_views import change, proration

UTC_ZONE = ZoneInfo("UTC")
AT = datetime(2026, 1, 16, 12, 0, tzinfo=UTC)
PERIOD = period_at(date(2026, 1, 1), Interval.MONTHLY, AT, UTC_ZONE)


def entry(n: int, *, owner: bool = True, awaiting: int = 0) -> HomeAccount:
    account = AccountView(n, f"acct-{n:03d}", f"Account {n:03d}", "USD", "UTC", "T1", None)
    subscriptions = tuple(subscription(n, product) for product in Product)
    waiting = tuple(pending(n * 1000 + k) for k in range(awaiting))
    return HomeAccount(account, subscriptions, (), (), waiting, (), may_change=owner)


def subscription(account_id: int, product: Product) -> SubscriptionView:
    return SubscriptionView(
        account_id * 10 + len(product.value), account_id, product, 10,
        Money.parse("30.00", "USD"), Interval.MONTHLY, date(2026, 1, 1), ProrationRule.DAILY,
        DecreasePolicy.PRORATED, 1, PERIOD, PERIOD.start, 10,
    )  # fmt: skip


def pending(request_id: int) -> SeatChangeView:
    """A decrease of ``U_OTHER``'s waiting for the member's approval."""
    return replace(
        change(request_id, Product.AXIOM, proration(10, 8)),
        status=RequestStatus.PENDING_APPROVAL,
        requested_by_user="U_OTHER",
    )


def page(home: Home) -> dict[str, Any]:
    listings = [[UserListing.complete([]) for _ in e.subscriptions] for e in home.accounts]
    view = home_view(home, listings, [UTC_ZONE] * len(home.accounts))
    data = view.to_dict()  # slack_sdk.models validates the view and each block
    View(**data).validate_json()
    assert len(data["blocks"]) <= 100
    return data


def headers(data: dict[str, Any]) -> list[str]:
    return [b["text"]["text"] for b in data["blocks"] if b["type"] == "header"]


def buttons(data: dict[str, Any]) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for block in data["blocks"]:
        for element in block.get("elements", []) if block["type"] == "actions" else []:
            found.setdefault(element["text"]["text"], []).append(element.get("value", ""))
    return found


def texts(data: dict[str, Any]) -> str:
    return str(data)


def test_a_page_of_many_accounts_holds_those_that_fit_and_offers_the_next() -> None:
    accounts = tuple(entry(n) for n in range(HOME_PAGE))
    first = page(Home(accounts, start=0, total=500))
    shown = headers(first)
    assert 1 < len(shown) < HOME_PAGE  # 20 accounts of 3 products do not fit in 100 blocks
    assert shown == [f"Account {n:03d}" for n in range(len(shown))]
    offered = buttons(first)
    assert offered["More accounts"] == [str(len(shown))]
    assert "First accounts" not in offered
    assert offered["Change seats"] == [f"acct-{n:03d}" for n in range(len(shown))]
    assert f"Accounts 1–{len(shown)} of 500, by name." in texts(first)
    assert "Change seats with the button" in texts(first)  # the owners' footer


def test_a_later_page_goes_back_to_the_first_and_the_last_offers_no_more() -> None:
    accounts = tuple(entry(n, owner=False) for n in range(490, 500))
    last = page(Home(accounts[-2:], start=498, total=500))
    offered = buttons(last)
    assert offered == {"First accounts": ["0"]}
    assert "Accounts 499–500 of 500, by name." in texts(last)
    assert "`/seats status` and `/seats history` show the seats" in texts(last)  # a viewer's


def test_one_page_of_accounts_has_no_page_buttons() -> None:
    alone = page(Home((entry(1),), start=0, total=1))
    assert set(buttons(alone)) == {"Change seats"}
    assert "Accounts 1" not in texts(alone)


def test_an_account_with_many_approvals_waiting_still_fits_and_counts_the_rest() -> None:
    busy = page(Home((entry(1, awaiting=60), entry(2)), start=0, total=2))
    assert len(buttons(busy)["Approve"]) == 10
    assert "…and 50 more waiting for your approval." in texts(busy)
    assert headers(busy) == ["Account 001", "Account 002"]


@pytest.mark.parametrize("start", [0, 7, 480])
def test_every_page_is_valid_and_points_past_what_it_showed(start: int) -> None:
    accounts = tuple(replace(entry(n), my_open=()) for n in range(start, start + HOME_PAGE))
    data = page(Home(accounts, start=start, total=500))
    [more] = buttons(data)["More accounts"]
    assert int(more) == start + len(headers(data))
