"""The transcript renderer shows Block Kit as a person would read it."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from billing.money import Money
from billing.periods import Interval, period_at
from billing.products import Product
from billing.proration import DecreasePolicy, ProrationRule, prorate_quantity_change
from billing.requests import RequestStatus
from billing.seats.decrease import check_seat_change
from billing.users import Level, PlatformUser, UserListing, UserStatus
from billing.views import AccountView, SeatChangeView, SubscriptionView
from bot.offline.render import plain, render_blocks, render_message, render_view
from handlers.views import (
    ModalModel,
    ProductChoice,
    confirmation_prompt,
    seat_change_modal,
    status_message,
)

TZ = ZoneInfo("UTC")
ACME = AccountView(1, "acme", "Acme", "USD", "UTC", "T1", None)
AT = datetime(2026, 1, 16, 12, tzinfo=UTC)
PERIOD = period_at(date(2026, 1, 1), Interval.MONTHLY, AT, TZ)


def test_plain_strips_mrkdwn() -> None:
    assert plain("*Axiom* for <@U1>: `x` _now_ &lt;b&gt;") == "Axiom for @U1: x now <b>"
    assert plain(":white_check_mark: Done") == "✅ Done"
    assert plain("2 × 3 = *-$1.00*") == "2 × 3 = -$1.00"


def test_every_emoji_the_slack_views_use_is_shown_as_an_emoji() -> None:
    assert plain(":hourglass_flowing_sand: Waiting for approval") == "⏳ Waiting for approval"
    views = Path(__file__).resolve().parents[3] / "handlers"
    codes = {
        code
        for path in views.rglob("*.py")
        for code in re.findall(r'f?":([a-z][a-z0-9_+-]*): ', path.read_text(encoding="utf-8"))
    }
    assert "hourglass_flowing_sand" in codes
    for code in codes:
        shown = plain(f":{code}: text")
        assert ":" not in shown, code
        assert "(" not in shown, f":{code}: has no emoji in bot/offline/render.py"


def test_an_unknown_emoji_is_said_in_words_and_times_stay() -> None:
    assert plain(":tada: done at 11:41:00") == "(tada) done at 11:41:00"
    assert plain("see https://example.com:8443/x:y:") == "see https://example.com:8443/x:y:"


def test_prompt_shows_lines_and_buttons() -> None:
    quote = prorate_quantity_change(
        old_quantity=10,
        new_quantity=13,
        unit_price=Money.parse("30", "USD"),
        period=PERIOD,
        at=AT,
        tz=TZ,
    )
    request = SeatChangeView(
        9, 1, 1, Product.AXIOM, 10, 13, "", RequestStatus.DRAFT, 1, "scr_x", "T1", "U1", AT, AT,
        PERIOD, 1, "16/31", quote.lines, quote.net, None, None, None, None, None, None, AT, AT,
        quote.unit_price, Interval.MONTHLY, quote.rule,
    )  # fmt: skip
    message = confirmation_prompt(ACME, request, TZ)
    lines = render_message({"text": message.text, "blocks": [b.to_dict() for b in message.blocks]})
    assert "Please confirm: Axiom for Acme: 10 → 13 seats" in lines
    assert "$46.45 charged now" in lines
    assert "From 1 Feb 2026: $390.00 a month, $90.00 more" in lines
    assert lines[-1] == "[Confirm] [Cancel]"
    assert "  · Period 1 Jan 2026 – 31 Jan 2026 · $30.00 per seat a month" in lines


def test_status_fields_render_as_label_value() -> None:
    matrix = SubscriptionView(
        1, 1, Product.MATRIX, 4, Money.parse("9", "USD"), Interval.MONTHLY, date(2026, 1, 1),
        ProrationRule.DAILY, DecreasePolicy.PRORATED, 1, PERIOD, PERIOD.start, 4,
    )  # fmt: skip
    users = UserListing.complete([])
    three = UserListing.complete(list(_users(3)))
    message = status_message("Acme", [matrix], [three], TZ)
    assert users.count == 0
    lines = render_blocks([b.to_dict() for b in message.blocks])
    assert lines[0] == "SEATS · ACME"
    assert "  Matrix: 4 seats" in lines
    assert "  On the platform: 3 users · 75% used" in lines


def test_modal_renders_inputs_with_state_and_buttons() -> None:
    choice = ProductChoice("1", Product.AXIOM, 10)
    view = seat_change_modal(
        ModalModel("Acme", [choice], choice, UserListing.complete([]), "{}"), TZ
    ).to_dict()
    view["state"] = {"values": {"seats_new_count": {"seats_new_count_input": {"value": "12"}}}}
    lines = render_view(view)
    assert lines[0].startswith("┌─ Change seats ")
    assert any("▸ New number of seats: [12]" in line for line in lines)
    assert any("▸ Product: [Axiom — 10 seats ▾]" in line for line in lines)
    assert any("[Close] [Review change]" in line for line in lines)
    assert len({len(line) for line in lines}) == 1  # a closed box


def test_a_modal_fits_the_width_it_is_given_as_a_closed_box() -> None:
    """At 80 columns the demo gives a modal 74: a long product choice wraps inside the box."""
    choices = [
        ProductChoice("1", Product.AXIOM, 14),
        ProductChoice("2", Product.CONTACT_CENTER, 20),
    ]
    model = ModalModel("Acme Telecom Ltd", choices, choices[0], UserListing.complete([]), "{}")
    lines = render_view(seat_change_modal(model, TZ).to_dict(), width=74)
    assert max(len(line) for line in lines) <= 74
    assert len({len(line) for line in lines}) == 1  # a closed box
    assert any("(options: Axiom — 14 seats, Contact" in line for line in lines)
    assert any("    Center — 20 seats)" in line for line in lines)


def _users(count: int) -> list[PlatformUser]:
    return [
        PlatformUser(str(n), f"u{n}@x.example", f"U {n}", 100 + n, Level.AGENT, UserStatus.ACTIVE)
        for n in range(count)
    ]


def test_the_readmes_confirmation_prompt_is_what_seatbot_shows() -> None:
    """The README's screenshot-as-text of a confirmation is the prompt as rendered: the demo's
    decrease of Contact Center (25 → 20 at $30.00) on 7 Dec 2026, 13:32 in London."""
    london = ZoneInfo("Europe/London")
    at = datetime(2026, 12, 7, 13, 32, tzinfo=UTC)
    period = period_at(date(2026, 1, 1), Interval.MONTHLY, at, london)
    quote = prorate_quantity_change(
        old_quantity=25, new_quantity=20, unit_price=Money.parse("30", "USD"), period=period,
        at=at, tz=london,
    )  # fmt: skip
    request = SeatChangeView(
        9, 1, 1, Product.CONTACT_CENTER, 25, 20, "", RequestStatus.DRAFT, 1, "scr_x", "T1", "U1",
        at, at, period, 1, "25/31", quote.lines, quote.net, None, None, None, None, None, None,
        at, at, quote.unit_price, Interval.MONTHLY, quote.rule,
    )  # fmt: skip
    acme = AccountView(1, "acme", "Acme Telecom Ltd", "USD", "Europe/London", "T1", "C1")
    users = [
        PlatformUser(str(n), f"u{n}@acme.example.com", f"User {n}", 100 + n, Level.AGENT,
                     UserStatus.ACTIVE)
        for n in range(20)
    ]  # fmt: skip
    check = check_seat_change(25, 20, UserListing.complete(users))
    message = confirmation_prompt(acme, request, london, check=check)
    shown = render_message({"text": message.text, "blocks": [b.to_dict() for b in message.blocks]})
    readme = (Path(__file__).resolve().parents[3] / "README.md").read_text(encoding="utf-8")
    start = readme.index("Please confirm: Contact Center for Acme Telecom Ltd")
    block = readme[start : readme.index("```", start)].rstrip("\n").split("\n")
    assert block == shown
