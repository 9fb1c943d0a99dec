"""Block Kit builders: every view validates with slack_sdk.models and says what it must."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from billing.money import Money
from billing.periods import Interval, period_at
from billing.proration import Proration, prorate_quantity_change
from handlers import ids
from handlers.commands import parse_seats_command
from handlers.views import (
    BlockedDecrease,
    ChangeSummary,
    HistoryEntry,
    Locale,
    Message,
    ModalModel,
    Preview,
    ProductChoice,
    StatusRow,
    UsersFact,
    already_applied_message,
    applied_message,
    blocked_decrease_message,
    cancelled_message,
    confirmation_prompt,
    escape,
    help_message,
    history_message,
    not_owner_message,
    platform_unknown_message,
    seat_change_modal,
    status_message,
    unexpected_error_message,
    unrecognised_message,
    users_list,
)
from platforms.types import Level, PlatformUser, Product, UserStatus

TZ = ZoneInfo("Europe/London")
WHERE = Locale("en_US", TZ)
AT = datetime(2026, 1, 16, 12, 0, tzinfo=UTC)
PERIOD = period_at(date(2026, 1, 1), Interval.MONTHLY, AT, TZ)


def proration(old: int, new: int, currency: str = "USD") -> Proration:
    return prorate_quantity_change(
        old_quantity=old,
        new_quantity=new,
        unit_price=Money.parse("30.00" if currency != "JPY" else "3000", currency),
        period=PERIOD,
        at=AT,
        tz=TZ,
    )


def summary(
    request_id: str, account: str, product: Product, quote: Proration, reason: str | None = None
) -> ChangeSummary:
    return ChangeSummary(
        request_id=request_id,
        account_name=account,
        product=product,
        old_seats=quote.old_quantity,
        new_seats=quote.new_quantity,
        lines=quote.lines,
        net=quote.net,
        fraction=quote.fraction,
        period=quote.period,
        effective_at=quote.at,
        reason=reason,
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


def test_confirmation_prompt_shows_the_exact_money_and_carries_only_the_request_id() -> None:
    change = summary("42", "Acme", Product.AXIOM, proration(10, 13), reason="new hires")
    message = confirmation_prompt(change, WHERE)
    text = all_text(message)
    # 16 of 31 days remain: credit 10 × 30 × 16/31 = 154.84, charge 13 × 30 × 16/31 = 201.29.
    assert "-$154.84" in text
    assert "$201.29" in text
    assert "Net now: $46.45" in text
    assert "1 Jan 2026 – 31 Jan 2026" in text
    assert "16 Jan 2026, 12:00 GMT" in text
    assert "new hires" in text
    assert [(b["text"]["text"], b["action_id"], b["value"]) for b in buttons(message)] == [
        ("Confirm", ids.CONFIRM_ACTION, "42"),
        ("Cancel", ids.CANCEL_ACTION, "42"),
    ]
    assert "$46.45" in message.text


def test_money_is_shown_in_the_accounts_currency() -> None:
    change = summary("1", "Tokyo", Product.MATRIX, proration(1, 2, "JPY"))
    text = all_text(confirmation_prompt(change, Locale("ja_JP", TZ)))
    assert "￥" in text or "¥" in text
    assert "$" not in text


def test_outcomes_replace_the_buttons() -> None:
    change = summary("7", "Acme", Product.MATRIX, proration(5, 3))
    for message in (
        applied_message(change, WHERE, "U1"),
        already_applied_message(change),
        cancelled_message(change, "U1"),
    ):
        assert buttons(message) == []
    assert "<@U1>" in all_text(applied_message(change, WHERE, "U1"))
    assert "already applied" in already_applied_message(change).text


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
    users = [user(n, UserStatus.INACTIVE) for n in range(3)] + [user(9)]
    blocked = BlockedDecrease("5", Product.AXIOM, 10, 6, 10, 4, users)
    message = blocked_decrease_message(blocked)
    text = all_text(message)
    assert "*4* of them must be deleted on Axiom" in text
    assert "user0@example.com" in text
    assert "(inactive)" in text
    assert [b["action_id"] for b in buttons(message)] == [
        ids.CHECK_AGAIN_ACTION,
        ids.CANCEL_ACTION,
    ]
    assert {b["value"] for b in buttons(message)} == {"5"}


def test_platform_unknown_refuses_with_the_reason() -> None:
    message = platform_unknown_message("5", Product.AXIOM, "Axiom answered 503.")
    assert "Axiom could not be reached: a decrease can't be checked right now" in message.text
    assert "Axiom answered 503." in all_text(message)
    assert ids.CONFIRM_ACTION not in all_text(message)


def test_status_shows_each_subscription() -> None:
    rows = [
        StatusRow(Product.AXIOM, 10, Money.parse("30", "USD"), "monthly", PERIOD, 8),
        StatusRow(Product.MATRIX, 0, Money.parse("12.5", "USD"), "monthly", PERIOD, 0),
        StatusRow(
            Product.CONTACT_CENTER, 4, Money.parse("9", "USD"), "annual", PERIOD, None, "down"
        ),
    ]
    message = status_message("Acme", rows, WHERE)
    text = all_text(message)
    assert "8 users · 80% used" in text
    assert "n/a" in text
    assert "down" in text
    assert "$30.00 per seat, monthly" in text
    assert "Axiom: 10 seats" in message.text


def test_history_splits_long_lists_within_limits() -> None:
    entries = [
        HistoryEntry(AT, Product.AXIOM, n, n + 1, "applied", "U1", Money.parse("1", "USD"))
        for n in range(200)
    ]
    message = history_message("Acme", entries, WHERE)
    for block in message.blocks:
        block.to_dict()  # validates each block
    assert len(message.blocks) <= 50
    assert "No seat changes" in history_message("Acme", [], WHERE).text


def test_simple_replies() -> None:
    assert "/seats add 3 axiom" in all_text(help_message())
    garbled = parse_seats_command("ad 3 axiom")
    assert not isinstance(garbled, str)
    message = unrecognised_message(garbled)  # type: ignore[arg-type]
    assert "Did you mean `/seats add 3 axiom`?" in message.text
    assert "<@U1>, <@U2>" in all_text(not_owner_message("Acme", ["U1", "U2"]))
    unexpected = unexpected_error_message("ref-123")
    assert "ref-123" in unexpected.text


def test_message_block_limit_is_enforced() -> None:
    with pytest.raises(ValueError, match="1 to 50"):
        Message(text="x", blocks=[])


def modal(preview: Preview | None = None, users: UsersFact | None = None) -> dict[str, Any]:
    choices = [
        ProductChoice("11", Product.AXIOM, 10),
        ProductChoice("12", Product.MATRIX, 3),
    ]
    view = seat_change_modal(
        ModalModel(
            account_name="Acme",
            choices=choices,
            selected=choices[0],
            users=users or UsersFact(loading=True),
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
    blocked = BlockedDecrease("", Product.AXIOM, 10, 8, 10, 2, [user(1), user(2)])
    text = json.dumps(
        modal(Preview(proration=proration(10, 8), blocked=blocked)), ensure_ascii=False
    )
    assert "Net now: -$30.97" in text
    assert "Delete *2* users on Axiom" in text
    down = json.dumps(
        modal(Preview(proration=proration(10, 8), platform_problem="timeout")), ensure_ascii=False
    )
    assert "Axiom could not be reached: a decrease can't be checked right now" in down
    loaded = json.dumps(modal(users=UsersFact(users=[user(1)])), ensure_ascii=False)
    assert "1 users on Axiom" in loaded


def test_modal_rejects_oversized_metadata() -> None:
    with pytest.raises(ValueError, match="private_metadata"):
        seat_change_modal(
            ModalModel(
                account_name="Acme",
                choices=[ProductChoice("1", Product.AXIOM, 1)],
                selected=ProductChoice("1", Product.AXIOM, 1),
                users=UsersFact(loading=True),
                private_metadata="x" * 3001,
            ),
            WHERE,
        )


@given(st.lists(st.text(max_size=60), max_size=80))
def test_any_user_names_give_a_valid_blocked_message(names: list[str]) -> None:
    users = [user(n, name=name) for n, name in enumerate(names)]
    message = blocked_decrease_message(BlockedDecrease("1", Product.MATRIX, 99, 0, 99, 99, users))
    for block in message.blocks:
        block.to_dict()
