"""Every surface that shows a seat change says it as an owner hears it (issue 21): first what
happens to the bill now, then the cost per period from the next one and the difference, the
working in a context block with the share as days; instants as Slack's ``<!date^…>``; loops
closed (expiry, how to ask again and whom); nobody told twice of what they just did.

Figures are exact, in three currencies: USD (2 decimals), JPY (none) and KWD (3), for a change
at 16 Jan 2026, 12:00 in Tokyo, 16 of January's 31 days left.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from typing import Any, cast
from zoneinfo import ZoneInfo

import pytest
from slack_sdk.models.blocks import Block
from slack_sdk.models.views import View

from billing.approvals import Approvals
from billing.money import Money
from billing.periods import Interval, period_at
from billing.products import Product
from billing.proration import DecreasePolicy, Proration, ProrationRule, prorate_quantity_change
from billing.requests import RequestStatus
from billing.seats.outcomes import (
    AccountHistory,
    ChangeCancelled,
    ChangeDenied,
    ChangeEnded,
    FormPreview,
    Home,
    HomeAccount,
    MessageRef,
)
from billing.users import UserListing
from billing.views import AccountView, SeatChangeView, SubscriptionView
from handlers import ids
from handlers.approval_desk import Aftermath
from handlers.views import (
    ModalModel,
    ProductChoice,
    history_message,
    seat_change_modal,
    status_message,
)
from handlers.views.approvals import (
    approval_request_message,
    awaiting_approval_message,
    requester_notice,
    stamped_message,
)
from handlers.views.home import home_view
from handlers.views.prompts import applied_message, confirmation_prompt, outcome_message
from handlers.views.text import Message

TOKYO = ZoneInfo("Asia/Tokyo")
AT = datetime(2026, 1, 16, 3, 0, tzinfo=UTC)  # 12:00 in Tokyo
PERIOD = period_at(date(2026, 1, 1), Interval.MONTHLY, AT, TOKYO)
SLACK_AT = (
    f"<!date^{int(AT.timestamp())}^{{date_short_pretty}} {{time}}|16 Jan 2026, 12:00 (Asia/Tokyo)>"
)
NBSP = "\u00a0"

#: (currency, unit price, old → new seats, decrease policy, the outcome's two lines, a line of
#: the working).
CASES = {
    "USD": (
        "30.00",
        25,
        20,
        DecreasePolicy.PRORATED,
        "$77.42 back as credit on your next invoice",
        "From 1 Feb 2026: $600.00 a month, $150.00 less",
        "Credit for unused time: 25 seats × $30.00 × 16 of 31 days left = -$387.10",
    ),
    "JPY": (
        "3000",
        10,
        13,
        DecreasePolicy.PRORATED,
        "¥4,645 charged now",
        "From 1 Feb 2026: ¥39,000 a month, ¥9,000 more",
        "Charge: 13 seats × ¥3,000 × 16 of 31 days left = ¥20,129",
    ),
    "KWD": (
        "29.500",
        12,
        9,
        DecreasePolicy.NONE,  # no credit: the paid seats stay until the period ends
        "Nothing is credited: you keep 12 paid seats until 31 Jan 2026",
        f"From 1 Feb 2026: KWD{NBSP}265.500 a month, KWD{NBSP}88.500 less",
        f"Period 1 Jan 2026 – 31 Jan 2026 · KWD{NBSP}29.500 per seat a month",
    ),
}


def account(currency: str) -> AccountView:
    return AccountView(1, "acme", "Acme", currency, "Asia/Tokyo", "T1", "C1")


def quote(currency: str) -> Proration:
    price, old, new, policy, *_ = CASES[currency]
    return prorate_quantity_change(
        old_quantity=old,
        new_quantity=new,
        unit_price=Money.parse(price, currency),
        period=PERIOD,
        at=AT,
        decrease_policy=policy,
        tz=TOKYO,
    )


def change(currency: str, status: RequestStatus = RequestStatus.DRAFT) -> SeatChangeView:
    q = quote(currency)
    return SeatChangeView(
        id=42,
        account_id=1,
        subscription_id=11,
        product=Product.AXIOM,
        old_seats=q.old_quantity,
        new_seats=q.new_quantity,
        reason="",
        status=status,
        revision=1,
        idempotency_key="scr_x",
        requested_by_team="T1",
        requested_by_user="U_OWNER",
        quoted_at=AT,
        effective_at=AT,
        period=PERIOD,
        quoted_version=1,
        fraction=f"{q.fraction.numerator}/{q.fraction.denominator}",
        lines=q.lines,
        net=q.net,
        decided_by_team=None,
        decided_by_user=None,
        decided_at=None,
        applied_at=None,
        slack_channel_id=None,
        slack_message_ts=None,
        created_at=AT,
        updated_at=AT,
        unit_price=q.unit_price,
        interval=Interval.MONTHLY,
        rule=ProrationRule.DAILY,
    )


def submitted(currency: str, status: RequestStatus) -> SeatChangeView:
    return replace(
        change(currency, status),
        submitted_at=AT,
        approvers=(("T1", "U_MANAGER"),),
        decided_by_team="T1",
        decided_by_user="U_MANAGER",
        decided_at=AT,
        decision_reason={
            RequestStatus.DENIED: "not this month",
            RequestStatus.CANCELLED: "Axiom already had 20 seats; nothing to change.",
        }.get(status),
    )


def lines_of(blocks: list[Block]) -> list[str]:
    """Every mrkdwn/plain text of ``blocks``, split into lines; each block validated by
    slack_sdk.models on the way (``to_dict`` runs its checks)."""
    found: list[str] = []

    def walk(value: Any) -> None:
        if isinstance(value, dict):
            if isinstance(value.get("text"), str):
                found.extend(value["text"].split("\n"))
            for item in value.values():
                walk(item)
        elif isinstance(value, list):
            for item in value:
                walk(item)

    walk([block.to_dict() for block in blocks])
    return found


def shown(built: Message | View) -> list[str]:
    if isinstance(built, View):
        data = built.to_dict()  # validates the view and every block in it
        assert len(data["blocks"]) <= 100
        return lines_of(built.blocks)
    assert 0 < len(built.blocks) <= 50
    return lines_of(built.blocks)


def assert_outcome(lines: list[str], currency: str) -> None:
    *_, now, per_period, working = CASES[currency]
    assert f"*{now}*" in lines, lines
    assert per_period in lines
    assert working in lines
    # The outcome comes first, the working under it.
    assert lines.index(f"*{now}*") < lines.index(working)
    assert not any("Net now" in line or "%" in line for line in lines)


@pytest.mark.parametrize("currency", sorted(CASES))
def test_every_surface_before_the_change_says_the_outcome(currency: str) -> None:
    request = change(currency)
    expires = AT + timedelta(hours=72)
    surfaces: list[Message] = [
        confirmation_prompt(account(currency), request, TOKYO),
        approval_request_message(account(currency), request, TOKYO, expires_at=expires),
        awaiting_approval_message(
            account(currency), request, ("U_MANAGER",), TOKYO, expires_at=expires
        ),
    ]
    for message in surfaces:
        assert_outcome(shown(message), currency)
    now_line = CASES[currency][4]
    assert surfaces[0].text.endswith(now_line)  # the notification says it too
    assert surfaces[1].text.endswith(now_line)


@pytest.mark.parametrize("currency", sorted(CASES))
def test_every_surface_after_the_change_says_the_outcome(currency: str) -> None:
    applied = submitted(currency, RequestStatus.APPLIED)
    for message in (
        applied_message(account(currency), applied, TOKYO, "U_MANAGER"),
        requester_notice(account(currency), applied, TOKYO),
        stamped_message(account(currency), applied, TOKYO),
    ):
        assert_outcome(shown(message), currency)
    history = shown(history_message(AccountHistory(account(currency), (applied,)), TOKYO))
    said = CASES[currency][4].removesuffix(" now")
    assert any(f"applied: {said} ·" in line for line in history)


@pytest.mark.parametrize("currency", sorted(CASES))
def test_the_form_preview_says_the_outcome(currency: str) -> None:
    q = quote(currency)
    sub = SubscriptionView(
        11, 1, Product.AXIOM, q.old_quantity, q.unit_price, Interval.MONTHLY, date(2026, 1, 1),
        ProrationRule.DAILY, q.decrease_policy, 1, PERIOD, PERIOD.start, q.old_quantity,
    )  # fmt: skip
    choice = ProductChoice("11", Product.AXIOM, q.old_quantity)
    view = seat_change_modal(
        ModalModel(
            account_name="Acme",
            choices=[choice],
            selected=choice,
            users=UserListing.complete([]),
            private_metadata='{"a": 1}',
            preview=FormPreview(account(currency), sub, q.new_quantity, q, None),
        ),
        TOKYO,
    )
    lines = shown(view)
    assert_outcome(lines, currency)
    option = view.to_dict()["blocks"][1]["element"]["initial_option"]["text"]["text"]
    assert option == f"Axiom — {q.old_quantity} seats"


def test_instants_are_slack_dates_with_the_accounts_time_as_fallback() -> None:
    applied = submitted("USD", RequestStatus.APPLIED)
    card = approval_request_message(
        account("USD"), change("USD"), TOKYO, expires_at=AT + timedelta(hours=72)
    )
    text = json.dumps([block.to_dict() for block in card.blocks], ensure_ascii=False)
    assert f"Priced {SLACK_AT}" in text
    expiry = int((AT + timedelta(hours=72)).timestamp())
    assert (
        f"Approving applies the change at once. It expires <!date^{expiry}^"
        "{date_short_pretty} {time}|19 Jan 2026, 12:00 (Asia/Tokyo)> if nobody decides."
    ) in text
    stamp = stamped_message(account("USD"), applied, TOKYO)
    assert f":white_check_mark: Approved by <@U_MANAGER> {SLACK_AT}; applied." in lines_of(
        stamp.blocks
    )
    # A notification shows no markup: the account's time as written.
    assert "16 Jan 2026, 12:00 (Asia/Tokyo)" in stamp.text
    assert "<!date" not in stamp.text
    # A decision that came too late names the deadline it missed the same way.
    late = ChangeEnded(
        account("USD"), change("USD"), "Too late: this seat change expired.", expired_at=AT
    )
    told = outcome_message(late, TOKYO)
    assert f"It expired {SLACK_AT}." in lines_of(told.blocks)
    assert told.text.endswith("It expired 16 Jan 2026, 12:00 (Asia/Tokyo).")


def test_the_owners_waiting_message_does_not_name_the_reader_as_asker() -> None:
    waiting = awaiting_approval_message(account("USD"), change("USD"), ("U_MANAGER",), TOKYO)
    text = " ".join(shown(waiting))
    assert "Asked by" not in text
    assert "It stays open until someone decides." in text
    assert "You will get a direct message with the decision." in text
    card = approval_request_message(account("USD"), change("USD"), TOKYO)
    assert "Asked by" not in " ".join(shown(card))  # its first line names the asker already


@pytest.mark.parametrize(
    ("status", "said"),
    [
        (RequestStatus.DENIED, "Denied by <@U_MANAGER>"),
        (RequestStatus.EXPIRED, "Expired without a decision"),
        # An approval that found the seats already there (the requester cancelling their own
        # request is not told: they did it).
        (RequestStatus.CANCELLED, "Closed when <@U_MANAGER> approved it"),
    ],
)
def test_a_request_that_did_not_apply_says_how_to_ask_again_and_whom(
    status: RequestStatus, said: str
) -> None:
    ended = submitted("USD", status)
    lines = shown(requester_notice(account("USD"), ended, TOKYO))
    assert any(said in line for line in lines)
    assert "To ask again, type `/seats set 20 axiom`; it goes to <@U_MANAGER>." in lines
    assert not any("back as credit" in line for line in lines)  # nothing happened to the bill


def test_the_status_footer_tells_an_owner_how_to_change_seats_and_a_viewer_where_to_look() -> None:
    sub = change("USD")
    axiom = SubscriptionView(
        11, 1, Product.AXIOM, 25, sub.unit_price, Interval.MONTHLY, date(2026, 1, 1),
        ProrationRule.DAILY, DecreasePolicy.PRORATED, 1, PERIOD, PERIOD.start, 25,
    )  # fmt: skip
    listing = [UserListing.complete([])]
    owner = shown(status_message("Acme", [axiom], listing, TOKYO, may_change=True))
    viewer = shown(status_message("Acme", [axiom], listing, TOKYO))
    assert "Change seats with `/seats`, or `/seats help` for examples." in owner
    assert "`/seats history` shows the recent changes; the account's owners change seats." in (
        viewer
    )
    assert not any("Change seats" in line for line in viewer)


def test_the_app_home_offers_change_seats_to_owners_only_and_prices_with_their_interval() -> None:
    request = submitted("JPY", RequestStatus.APPLIED)
    sub = SubscriptionView(
        11, 1, Product.AXIOM, 13, Money.parse("3000", "JPY"), Interval.ANNUAL, date(2026, 1, 1),
        ProrationRule.DAILY, DecreasePolicy.PRORATED, 1, PERIOD, PERIOD.start, 13,
    )  # fmt: skip
    entry = HomeAccount(account("JPY"), (sub,), (), (), (), (request,), may_change=True)
    owner = home_view(Home((entry,)), [[UserListing.complete([])]], [TOKYO])
    data = owner.to_dict()
    [button] = [
        element
        for block in data["blocks"]
        if block["type"] == "actions"
        for element in block["elements"]
    ]
    assert (button["text"]["text"], button["action_id"], button["value"], button["style"]) == (
        "Change seats",
        ids.OPEN_FORM_ACTION,
        "acme",
        "primary",
    )
    lines = shown(owner)
    assert "¥3,000 per seat a year" in lines
    assert any("applied: ¥4,645 charged ·" in line for line in lines)
    viewer = home_view(
        Home((replace(entry, may_change=False),)), [[UserListing.complete([])]], [TOKYO]
    )
    viewer_text = " ".join(shown(viewer))
    assert "Change seats" not in viewer_text
    assert ids.OPEN_FORM_ACTION not in json.dumps(viewer.to_dict())


class RecordingClient:
    """What an Aftermath sends (``chat.update``, ``chat.postMessage``), by channel."""

    def __init__(self) -> None:
        self.updates: list[str] = []
        self.posts: list[str] = []

    async def chat_update(self, *, channel: str, **_: Any) -> dict[str, Any]:
        self.updates.append(channel)
        return {"ok": True}

    async def chat_postMessage(self, *, channel: str, **_: Any) -> dict[str, Any]:
        self.posts.append(channel)
        return {"ok": True, "channel": channel, "ts": "1.0"}


def settle(outcome: object) -> RecordingClient:
    client = RecordingClient()
    aftermath = Aftermath(cast(Approvals, None), clock=lambda: AT)
    asyncio.run(aftermath.handle(outcome, cast(Any, client)))
    return client


def test_nobody_is_messaged_twice_about_what_they_just_did() -> None:
    card = MessageRef("T1", "D_MANAGER", "5.0")
    pending = replace(submitted("USD", RequestStatus.CANCELLED), decided_by_user=None)
    # The requester cancels their own pending request: the manager's card is stamped, and the
    # requester (whose click already has its answer) gets no DM about it.
    mine = settle(ChangeCancelled(account("USD"), pending, 25, "U_OWNER", stamps=(card,)))
    assert (mine.updates, mine.posts) == (["D_MANAGER"], [])
    # Another owner cancels it: the requester is told, once.
    other = settle(ChangeCancelled(account("USD"), pending, 25, "U_OTHER", stamps=(card,)))
    assert (other.updates, other.posts) == (["D_MANAGER"], ["U_OWNER"])
    # A manager denies it: stamped, and the requester told once; the manager is not messaged.
    denied = submitted("USD", RequestStatus.DENIED)
    told = settle(ChangeDenied(account("USD"), denied, "U_MANAGER", stamps=(card,)))
    assert (told.updates, told.posts) == (["D_MANAGER"], ["U_OWNER"])
