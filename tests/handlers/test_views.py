"""Block Kit builders: every view validates with slack_sdk.models and says what it must."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from billing.errors import NotAuthorised
from billing.money import Money
from billing.periods import Interval, period_at
from billing.products import Product
from billing.proration import DecreasePolicy, Proration, ProrationRule, prorate_quantity_change
from billing.requests import RequestStatus
from billing.seats.decrease import check_seat_change
from billing.seats.outcomes import AccountHistory, FormPreview
from billing.users import Level, PlatformUser, UserListing, UserStatus
from billing.views import AccountView, SeatChangeView, SubscriptionView
from handlers import ids
from handlers.commands import Unrecognised, parse_seats_command
from handlers.views import (
    Message,
    ModalModel,
    ProductChoice,
    already_applied_message,
    applied_message,
    blocked_decrease_message,
    cancelled_message,
    confirmation_prompt,
    error_message,
    escape,
    help_message,
    history_message,
    platform_unknown_message,
    seat_change_modal,
    status_message,
    unexpected_error_message,
    unrecognised_message,
    users_list,
)

TZ = ZoneInfo("Europe/London")
WHERE = TZ
AT = datetime(2026, 1, 16, 12, 0, tzinfo=UTC)
PERIOD = period_at(date(2026, 1, 1), Interval.MONTHLY, AT, TZ)
ACME = AccountView(1, "acme", "Acme", "USD", "Europe/London", "T1", "C1")


def proration(old: int, new: int, currency: str = "USD") -> Proration:
    return prorate_quantity_change(
        old_quantity=old,
        new_quantity=new,
        unit_price=Money.parse("30.00" if currency != "JPY" else "3000", currency),
        period=PERIOD,
        at=AT,
        tz=TZ,
    )


def change(
    request_id: int,
    product: Product,
    quote: Proration,
    *,
    reason: str = "",
    revision: int = 1,
) -> SeatChangeView:
    return SeatChangeView(
        id=request_id,
        account_id=1,
        subscription_id=11,
        product=product,
        old_seats=quote.old_quantity,
        new_seats=quote.new_quantity,
        reason=reason,
        status=RequestStatus.DRAFT,
        revision=revision,
        idempotency_key="scr_x",
        requested_by_team="T1",
        requested_by_user="U1",
        quoted_at=quote.at,
        effective_at=quote.at,
        period=quote.period,
        quoted_version=1,
        fraction=f"{quote.fraction.numerator}/{quote.fraction.denominator}",
        lines=quote.lines,
        net=quote.net,
        decided_by_team=None,
        decided_by_user=None,
        decided_at=None,
        applied_at=None,
        slack_channel_id=None,
        slack_message_ts=None,
        created_at=AT,
        updated_at=AT,
        unit_price=quote.unit_price,
        interval=Interval.MONTHLY,
        rule=quote.rule,
    )


def subscription(product: Product, seats: int, price: str, interval: Interval) -> SubscriptionView:
    return SubscriptionView(
        id=11,
        account_id=1,
        product=product,
        seats=seats,
        unit_price=Money.parse(price, "USD"),
        interval=interval,
        anchor=date(2026, 1, 1),
        rule=ProrationRule.DAILY,
        decrease_policy=DecreasePolicy.PRORATED,
        version=1,
        period=PERIOD,
        started_at=PERIOD.start,
        initial_seats=seats,
    )


def user(n: int, status: UserStatus = UserStatus.ACTIVE, name: str | None = None) -> PlatformUser:
    return PlatformUser(
        platform_id=str(n),
        email=f"user{n}@example.com",
        name=name if name is not None else f"User {n}",
        extension=100 + n,
        level=Level.AGENT,
        status=status,
    )


def all_text(message: Message) -> str:
    return json.dumps([block.to_dict() for block in message.blocks], ensure_ascii=False)


def buttons(message: Message) -> list[dict[str, Any]]:
    found = []
    for block in message.blocks:
        data = block.to_dict()
        if data["type"] == "actions":
            found.extend(data["elements"])
    return found


def test_confirmation_prompt_shows_the_exact_money_and_carries_the_quote_revision() -> None:
    request = change(42, Product.AXIOM, proration(10, 13), reason="new hires", revision=3)
    message = confirmation_prompt(ACME, request, WHERE)
    text = all_text(message)
    # 16 of 31 days remain: credit 10 × 30 × 16/31 = 154.84, charge 13 × 30 × 16/31 = 201.29.
    assert "-$154.84" in text
    assert "$201.29" in text
    assert "*$46.45 charged now*" in text
    # The cost per period from the next one: 13 × $30.00, $90.00 more than 10 × $30.00.
    assert "From 1 Feb 2026: $390.00 a month, $90.00 more" in text
    assert "13 seats × $30.00 × 16 of 31 days left = $201.29" in text
    assert "1 Jan 2026 – 31 Jan 2026" in text
    assert "16 Jan 2026, 12:00 (Europe/London)" in text
    assert "new hires" in text
    assert [(b["text"]["text"], b["action_id"], b["value"]) for b in buttons(message)] == [
        ("Confirm", ids.CONFIRM_ACTION, "42.3"),
        ("Cancel", ids.CANCEL_ACTION, "42.3"),
    ]
    assert "$46.45" in message.text


def test_money_is_shown_in_the_accounts_currency() -> None:
    request = change(1, Product.MATRIX, proration(1, 2, "JPY"))
    text = all_text(confirmation_prompt(ACME, request, TZ))
    assert "￥" in text or "¥" in text
    assert "$" not in text


def test_outcomes_replace_the_buttons() -> None:
    request = change(7, Product.MATRIX, proration(5, 3))
    for message in (
        applied_message(ACME, request, WHERE, "U1"),
        already_applied_message(request),
        cancelled_message(request, 32, "U1"),
    ):
        assert buttons(message) == []
    assert "<@U1>" in all_text(applied_message(ACME, request, WHERE, "U1"))
    assert "already applied" in already_applied_message(request).text
    assert "stays at 32 seats" in cancelled_message(request, 32, "U1").text


def test_users_list_is_truncated_with_a_count() -> None:
    text = users_list([user(n) for n in range(25)])
    assert text.count("\n• ") == 9
    assert text.endswith("…and 15 more")


def test_user_names_are_escaped() -> None:
    text = users_list([user(1, name="<!channel> & co")])
    assert "<!channel>" not in text
    assert "&lt;!channel&gt; &amp; co" in text
    assert escape("a<b>&c") == "a&lt;b&gt;&amp;c"


def test_blocked_decrease_lists_users_and_offers_check_again() -> None:
    users = [user(n, UserStatus.INACTIVE) for n in range(3)] + [user(9 + n) for n in range(7)]
    check = check_seat_change(10, 6, UserListing.complete(users))
    message = blocked_decrease_message(change(5, Product.AXIOM, proration(10, 6)), check)
    text = all_text(message)
    assert "*4* of them must be deleted on Axiom" in text
    assert "user0@example.com" in text
    assert "(inactive)" in text
    assert [b["action_id"] for b in buttons(message)] == [
        ids.CHECK_AGAIN_ACTION,
        ids.CANCEL_ACTION,
    ]
    assert {b["value"] for b in buttons(message)} == {"5.1"}


def test_platform_unknown_refuses_with_the_reason() -> None:
    message = platform_unknown_message(
        change(5, Product.AXIOM, proration(10, 6)), "Axiom answered 503."
    )
    assert "Axiom could not be reached: a decrease can't be checked right now" in message.text
    assert "Axiom answered 503." in all_text(message)
    assert ids.CONFIRM_ACTION not in all_text(message)


def test_status_shows_each_subscription() -> None:
    subscriptions = [
        subscription(Product.AXIOM, 10, "30", Interval.MONTHLY),
        subscription(Product.MATRIX, 0, "12.5", Interval.MONTHLY),
        subscription(Product.CONTACT_CENTER, 4, "9", Interval.ANNUAL),
    ]
    listings = [
        UserListing.complete(user(n) for n in range(8)),
        UserListing.complete([]),
        UserListing.unknown("down"),
    ]
    message = status_message("Acme", subscriptions, listings, WHERE)
    text = all_text(message)
    assert "8 users · 80% used" in text
    assert "n/a" in text
    assert "down" in text
    assert "$30.00 per seat a month" in text
    assert "$9.00 per seat a year" in text
    assert "Axiom: 10 seats" in message.text


def test_history_splits_long_lists_within_limits() -> None:
    requests = tuple(change(n, Product.AXIOM, proration(n, n + 1)) for n in range(200))
    message = history_message(AccountHistory(ACME, requests), WHERE)
    for block in message.blocks:
        block.to_dict()  # validates each block
    assert len(message.blocks) <= 50
    assert "No seat changes" in history_message(AccountHistory(ACME, ()), WHERE).text


def test_simple_replies() -> None:
    assert "/seats add 3 axiom" in all_text(help_message())
    garbled = parse_seats_command("ad 3 axiom")
    assert not isinstance(garbled, str)
    message = unrecognised_message(garbled)  # type: ignore[arg-type]
    assert "Did you mean `/seats add 3 axiom`?" in message.text
    refused = error_message(
        NotAuthorised("Only the owners of Acme can change seats.", ["U1", "U2"])
    )
    assert "<@U1>, <@U2>" in all_text(refused)
    unexpected = unexpected_error_message("ref-123")
    assert "ref-123" in unexpected.text


def test_message_block_limit_is_enforced() -> None:
    with pytest.raises(ValueError, match="1 to 50"):
        Message(text="x", blocks=[])


def modal(preview: FormPreview | None = None, users: UserListing | None = None) -> dict[str, Any]:
    choices = [
        ProductChoice("11", Product.AXIOM, 10),
        ProductChoice("12", Product.MATRIX, 3),
    ]
    view = seat_change_modal(
        ModalModel(
            account_name="Acme",
            choices=choices,
            selected=choices[0],
            users=users,
            private_metadata='{"a": 1}',
            preview=preview,
        ),
        WHERE,
    )
    data: dict[str, Any] = view.to_dict()
    return data


def test_modal_offers_only_subscribed_products_and_dispatches_actions() -> None:
    data = modal()
    assert data["callback_id"] == ids.MODAL_CALLBACK
    assert len(data["title"]["text"]) <= 24
    by_id = {block.get("block_id"): block for block in data["blocks"]}
    select = by_id[ids.PRODUCT_BLOCK]["element"]
    assert [option["value"] for option in select["options"]] == ["11", "12"]
    assert select["initial_option"]["value"] == "11"
    assert by_id[ids.PRODUCT_BLOCK]["dispatch_action"] is True
    assert by_id[ids.COUNT_BLOCK]["dispatch_action"] is True
    assert by_id[ids.REASON_BLOCK]["optional"] is True
    assert "asking Axiom" in json.dumps(by_id[ids.CURRENT_BLOCK], ensure_ascii=False)


def test_modal_preview_shows_lines_and_the_platform_check() -> None:
    axiom = subscription(Product.AXIOM, 10, "30", Interval.MONTHLY)
    blocked = check_seat_change(10, 8, UserListing.complete(user(n) for n in range(10)))
    text = json.dumps(
        modal(FormPreview(ACME, axiom, 8, proration(10, 8), blocked)), ensure_ascii=False
    )
    assert "$30.97 back as credit on your next invoice" in text
    assert "Delete *2* users on Axiom" in text
    # The blocker comes first, above what the change would do to the bill.
    assert text.index("Delete *2* users") < text.index("back as credit")
    unknown = check_seat_change(10, 8, UserListing.unknown("timeout"))
    down = json.dumps(
        modal(FormPreview(ACME, axiom, 8, proration(10, 8), unknown)), ensure_ascii=False
    )
    assert "Axiom could not be reached: a decrease can't be checked right now" in down
    loaded = json.dumps(modal(users=UserListing.complete([user(1)])), ensure_ascii=False)
    assert "1 users on Axiom" in loaded


def test_modal_rejects_oversized_metadata() -> None:
    with pytest.raises(ValueError, match="private_metadata"):
        seat_change_modal(
            ModalModel(
                account_name="Acme",
                choices=[ProductChoice("1", Product.AXIOM, 1)],
                selected=ProductChoice("1", Product.AXIOM, 1),
                users=None,
                private_metadata="x" * 3001,
            ),
            WHERE,
        )


@given(st.lists(st.text(max_size=60), max_size=80))
def test_any_user_names_give_a_valid_blocked_message(names: list[str]) -> None:
    users = [user(n, name=name) for n, name in enumerate(names)]
    check = check_seat_change(len(users) + 1, 0, UserListing.complete(users))
    request = change(1, Product.MATRIX, proration(len(users) + 1, 0))
    message = blocked_decrease_message(request, check)
    for block in message.blocks:
        block.to_dict()
    assert "<!" not in message.text


@given(st.text(max_size=400))
def test_nothing_typed_reaches_slack_unescaped(typed: str) -> None:
    parsed = parse_seats_command(typed)
    if isinstance(parsed, Unrecognised):
        message = unrecognised_message(parsed)
        payload = json.dumps([b.to_dict() for b in message.blocks]) + message.text
        assert "<" not in payload
        assert len(message.text) <= 300
