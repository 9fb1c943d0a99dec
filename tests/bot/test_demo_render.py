"""The transcript renderer shows Block Kit as a person would read it."""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

from billing.money import Money
from billing.periods import Interval, period_at
from billing.proration import prorate_quantity_change
from bot.demo_render import plain, render_blocks, render_message, render_view
from handlers.views import (
    ChangeSummary,
    Locale,
    ModalModel,
    ProductChoice,
    StatusRow,
    UsersFact,
    confirmation_prompt,
    seat_change_modal,
    status_message,
)
from platforms.types import Product

TZ = ZoneInfo("UTC")
AT = datetime(2026, 1, 16, 12, tzinfo=UTC)
PERIOD = period_at(date(2026, 1, 1), Interval.MONTHLY, AT, TZ)


def test_plain_strips_mrkdwn() -> None:
    assert plain("*Axiom* for <@U1>: `x` _now_ &lt;b&gt;") == "Axiom for @U1: x now <b>"
    assert plain(":white_check_mark: Done") == "✅ Done"
    assert plain("2 × 3 = *-$1.00*") == "2 × 3 = -$1.00"


def test_prompt_shows_lines_and_buttons() -> None:
    quote = prorate_quantity_change(
        old_quantity=10,
        new_quantity=13,
        unit_price=Money.parse("30", "USD"),
        period=PERIOD,
        at=AT,
        tz=TZ,
    )
    change = ChangeSummary(
        "9", "Acme", Product.AXIOM, 10, 13, quote.lines, quote.net, quote.fraction, PERIOD, AT
    )
    message = confirmation_prompt(change, Locale("en_US", TZ))
    lines = render_message({"text": message.text, "blocks": [b.to_dict() for b in message.blocks]})
    assert "Please confirm: Axiom for Acme: 10 → 13 seats" in lines
    assert "Net now: $46.45" in lines
    assert lines[-1] == "[Confirm] [Cancel]"
    assert "  Period: 1 Jan 2026 – 31 Jan 2026" in lines


def test_status_fields_render_as_label_value() -> None:
    row = StatusRow(Product.MATRIX, 4, Money.parse("9", "USD"), "monthly", PERIOD, 3)
    message = status_message("Acme", [row], Locale("en_US", TZ))
    lines = render_blocks([b.to_dict() for b in message.blocks])
    assert lines[0] == "SEATS · ACME"
    assert "  Matrix: 4 seats" in lines
    assert "  On the platform: 3 users · 75% used" in lines


def test_modal_renders_inputs_with_state_and_buttons() -> None:
    choice = ProductChoice("1", Product.AXIOM, 10)
    view = seat_change_modal(
        ModalModel("Acme", [choice], choice, UsersFact(users=[]), "{}"), Locale("en_US", TZ)
    ).to_dict()
    view["state"] = {"values": {"seats_new_count": {"seats_new_count_input": {"value": "12"}}}}
    lines = render_view(view)
    assert lines[0].startswith("┌─ Change seats ")
    assert any("▸ New number of seats: [12]" in line for line in lines)
    assert any("▸ Product: [Axiom (10) ▾]" in line for line in lines)
    assert any("[Close] [Review change]" in line for line in lines)
    assert len({len(line) for line in lines}) == 1  # a closed box
